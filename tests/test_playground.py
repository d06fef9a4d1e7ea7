r"""Playground's rules (1/2-MSE, weights-only regularisation after the step, L1 dead links), its
features and regression data sets, and its URLs, through ``python -m compare``."""
import json
import re
import runpy
import subprocess
import sys
import types
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

import numpy as np
import pytest
import torch

import manual
import manual.playground
import torch_impl.playground
from compare.__main__ import main
from compare.core import Config, Source
from compare.core.data import load_data
from compare.core.lockstep import Sides, run
from compare.core.pair import criteria, optimizers
from compare.playground import PlaygroundRun, Stream, parse_url
from compare.playground.export import REQUIREMENTS

from conftest import make_pair

URL = ("https://playground.tensorflow.org/#activation=tanh&batchSize=250&dataset=circle&regDataset=reg-plane"
       "&learningRate=0.03&regularization=L2&regularizationRate=0.01&noise=0&networkShape=3,3&seed=0.12345"
       "&showTestData=false&discretize=false&percTrainData=50&x=true&y=true&xTimesY=false&xSquared=false"
       "&ySquared=false&cosX=false&sinX=false&cosY=false&sinY=false&collectStats=false&problem=classification"
       "&initZero=false&hideText=false")


def test_one_full_batch_epoch_is_one_playground_step(tmp_path, rng):
    weights = {"layer1.weight": rng.uniform(-0.5, 0.5, (3, 2)), "layer1.bias": np.full(3, 0.1),
               "layer2.weight": rng.uniform(-0.5, 0.5, (3, 3)), "layer2.bias": np.full(3, 0.1),
               "layer_out.weight": rng.uniform(-0.5, 0.5, (1, 3)), "layer_out.bias": np.full(1, 0.1)}
    np.savez(tmp_path / "w.npz", **weights)
    out = tmp_path / "out.npz"
    code = main(["--playground", URL, "--epochs", "1", "--quiet", "--dtype", "float64", "--seed", "0",
                 "--weights", str(tmp_path / "w.npz"), "--save-weights", str(out)])
    assert code == 0
    X, y, _, _ = load_data("circle", 0.0, 0.5, 0)
    assert len(X) == 250                                       # batchSize=250: one step per epoch
    params = {name: torch.tensor(w, requires_grad=True) for name, w in weights.items()}
    a = torch.tensor(X)
    for layer in ("layer1", "layer2", "layer_out"):
        a = torch.tanh(a @ params[f"{layer}.weight"].T + params[f"{layer}.bias"])
    loss = 0.5 * ((a - torch.tensor(y)) ** 2).mean()
    loss.backward()
    with np.load(out) as trained:
        for name, p in params.items():
            expected = p.detach() - 0.03 * p.grad                   # the gradient step, every parameter
            if name.endswith("weight"):
                expected = expected - 0.03 * 0.01 * p.detach()     # then L2 at the weight before the step
            np.testing.assert_allclose(trained[name], expected.numpy(), atol=1e-12, rtol=1e-9, err_msg=name)


@pytest.mark.parametrize("options", [
    ["--dataset", "reg-plane", "--rules", "playground"],
    ["--dataset", "reg-gauss", "--rules", "playground", "--init", "zero"],
    ["--dataset", "reg-gauss", "--features", "x,y,x2,y2,xy,sinx,siny"],
    ["--features", "x,y,x2,y2,xy,sinx,siny", "--rules", "playground", "--regularization", "L1",
     "--regularization-rate", "0.01", "--init", "playground"],
])
def test_playground_runs_agree(options, capsys):
    assert main([*options, "--epochs", "2", "--dtype", "float64", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "AGREE" in out
    if "reg-" in " ".join(options):
        assert "skipped: regression" in out


@pytest.mark.parametrize("options", [
    ["--regularization", "L1"],
    ["--regularization-rate", "0.1"],
    ["--rules", "playground", "--weight-decay", "0.1"],
    ["--rules", "playground", "--optimizer", "adam"],
    ["--playground", "#activation=softmax"],
    ["--playground", "#networkShape=3,x"],
    ["--playground", "#dataset=moons"],
    ["--playground", "#problem=regression&regDataset=circle"],
    ["--playground", "#cosX=true"],
    ["--playground", "#noise=60"],
    ["--playground", "#learningRate=fast"],
    ["--playground", "#x=false&y=false"],
    ["--playground", "#unknownKey=1"],
    ["--features", "x,z"],
    ["--features", "x,x"],
    ["--features", "x,y,x2", "--plot", "p.png"],
])
def test_bad_combinations_exit_2_with_one_line(options, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*options, "--epochs", "1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_url_keys_name_the_key_in_the_error(capsys):
    with pytest.raises(SystemExit):
        main(["--playground", "#batchSize=0"])
    assert "batchSize=0" in capsys.readouterr().err


def test_options_after_the_url_override_it(capsys):
    assert main(["--playground", URL, "--batch-size", "25", "--lr", "0.1", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "  --batch-size 25\n" in out and "  --lr 0.1\n" in out and "batch 25" in out
    assert main(["--playground", URL, "--epochs", "1", "--quiet"]) == 0      # --quiet: the summary only
    assert capsys.readouterr().out.startswith("Summary: ")


@pytest.mark.parametrize("url, error", [
    ("http://example.com/#activation=tanh", "error: 'http://example.com/#activation=tanh': unknown host 'example.com'; "
     "a Playground URL is on playground.tensorflow.org or deepinsider.github.io\n"),
    ("#", "error: '#' holds no settings: copy the whole address from Playground, with the part after '#' "
     "(activation=...&batchSize=...)\n"),
    ("https://deepinsider.github.io/playground/#loss=hinge", "error: loss=hinge: choose from mse, mae\n"),
    ("https://playground.tensorflow.org/#loss=mae", "error: unknown key 'loss' in the URL: it is "
     "deepinsider.github.io's, not playground.tensorflow.org's\n"),
    ("#activaton=tanh", "error: unknown key 'activaton' in the URL\n"),
    ("https://deepinsider.github.io/playground/#initZero=true", "error: unknown key 'initZero' in the URL: it is "
     "playground.tensorflow.org's, not deepinsider.github.io's\n"),
    ("https://playground.tensorflow.org/#activation=elu", "error: activation=elu: choose from relu, tanh, sigmoid, "
     "linear\n"),
])
def test_a_bad_url_is_one_line_naming_the_host_or_the_key(url, error, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--playground", url, "--epochs", "1"])
    assert exit_.value.code == 2 and capsys.readouterr().err == error


# The article's own link to Deep Insider's Playground, as it is printed there
ARTICLE_URL = ("https://deepinsider.github.io/playground/#activation=tanh&activspacer=false&loss=mse&batchSize=10"
               "&batchFull=false&dataset=gauss&regDataset=reg-plane&learningRate=0.03&regularizationRate=0&noise=0"
               "&networkShape=&seed=0.17900&showTrainData=true&showValidationData=false&showTestData=true"
               "&discretize=false&percTrainData=50&x=true&y=true&xTimesY=false&xSquared=false&ySquared=false"
               "&sinX=false&sinY=false&problem=classification&initOrigin=false&hideText=true&xSquared_hide=true"
               "&ySquared_hide=true&xTimesY_hide=true&sinX_hide=true&sinY_hide=true")


def test_the_article_s_own_playground_link_runs_and_agrees(capsys):
    assert main(["--playground", ARTICLE_URL, "--epochs", "5"]) == 0
    out = capsys.readouterr().out
    assert "  --dataset gauss\n  --features x,y\n  --hidden \"\"\n" in out and "  --init xavier\n" in out
    assert "(xSquared_hide, ySquared_hide, xTimesY_hide, sinX_hide, sinY_hide: inputs the page hides, left out" in out
    assert "\nAGREE: " in out


def test_the_fork_s_keys_mean_what_its_page_does():
    settings, _ = parse_url("https://deepinsider.github.io/playground/#activation=softsign&batchFull=true"
                            "&initOrigin=true&networkShape=5&xSquared=true&xSquared_hide=true&percTrainData=30")
    assert settings["activations"] == ("softsign",) and settings["init"] == "playground"   # U(-0.5, 0.5), 0.1
    assert settings["batch_size"] == 150                     # batchFull: all 30% of the 500 points in one batch
    assert settings["features"] == ("x", "y")                # a hidden input is left out, as the page does
    assert parse_url("https://deepinsider.github.io/playground/")[0]["init"] == "xavier"   # Glorot, biases 0


def test_a_full_url_resolves_every_setting():
    settings, notes = parse_url(
        "https://playground.tensorflow.org/#activation=relu&batchSize=7&dataset=xor&regDataset=reg-gauss"
        "&learningRate=0.3&regularizationRate=0.003&noise=35&networkShape=&seed=0.5&showTestData=true"
        "&discretize=true&percTrainData=70&x=false&y=true&xTimesY=true&xSquared=true&ySquared=false"
        "&cosX=false&sinX=true&cosY=false&sinY=true&collectStats=false&problem=regression&initZero=true"
        "&hideText=true&regularization=L1&stepButton_hide=true")
    assert settings == {"rules": "playground", "dataset": "reg-gauss", "features": ("y", "x2", "xy", "sinx", "siny"),
                        "hidden": (), "activations": (), "batch_size": 7, "lr": 0.3, "regularization": "L1",
                        "regularization_rate": 0.003, "noise": 0.35, "train_ratio": 0.7, "init": "zero", "loss": "mse",
                        "exact": ("upstream", "0.5", 70.0)}          # what --exact would replay
    assert len(notes) == 2 and "--seed" in notes[0]
    assert notes[1] == "showTestData, discretize, collectStats, hideText, stepButton_hide: the page's display, ignored"


def test_missing_keys_take_playground_defaults():
    settings, notes = parse_url("https://playground.tensorflow.org/")
    assert settings["hidden"] == (4, 2) and settings["activations"] == ("tanh", "tanh")
    assert settings["batch_size"] == 10 and settings["regularization"] == "none" and not notes


def one_weight_step(side, weight, grad, rate):
    r"""One PlaygroundSGD L1 step of a (1, 1) weight on ``side``; return the weight and the dead mask."""
    if side == "manual":
        p = manual.Parameter(np.array([[weight]]))
        optimizer = manual.playground.PlaygroundSGD([{"params": [p]}], lr=1.0, regularization="L1",
                                                    regularization_rate=rate)
        p.grad = np.array([[grad]])
        optimizer.step()
        return p.data, optimizer
    p = torch.nn.Parameter(torch.tensor([[weight]], dtype=torch.float64))
    optimizer = torch_impl.playground.PlaygroundSGD([{"params": [p]}], lr=1.0, regularization="L1",
                                                    regularization_rate=rate)
    p.grad = torch.tensor([[grad]], dtype=torch.float64)
    optimizer.step()
    return p.detach().numpy(), optimizer


@pytest.mark.parametrize("side", ["manual", "torch"])
def test_l1_kills_a_weight_that_crosses_zero(side):
    # theta' = 0.05 - 0.0 = 0.05; theta = 0.05 - 0.1 * R'(0.05) = -0.05: crossed, so 0 and dead
    weight, optimizer = one_weight_step(side, 0.05, 0.0, 0.1)
    assert weight.tolist() == [[0.0]]
    p = optimizer.params[0] if side == "manual" else optimizer.param_groups[0]["params"][0]
    assert np.asarray(optimizer.state[p]["dead"]).tolist() == [[True]]
    p.grad = -np.ones((1, 1)) if side == "manual" else -torch.ones(1, 1, dtype=torch.float64)
    optimizer.step()                                           # a gradient that would move it: still 0
    assert np.asarray(p.data if side == "manual" else p.detach()).tolist() == [[0.0]]
    # a gradient step across 0 is not the penalty's doing: the link lives
    weight, _ = one_weight_step(side, 0.05, 0.5, 0.01)
    assert weight.tolist() == [[0.05 - 0.5 - 0.01 * 1.0]]


def test_l1_derivative_is_the_sign_and_0_at_0():
    theta = np.array([-2.0, -0.0, 0.0, 1e-300, 3.0])
    expected = [-1.0, 0.0, 0.0, 1.0, 1.0]                 # nn.ts: w < 0 ? -1 : (w > 0 ? 1 : 0)
    assert manual.playground.REGULARIZATIONS["L1"](theta).tolist() == expected
    weight, _ = one_weight_step("torch", 0.0, 0.0, 0.1)   # theta' = 0, R'(0) = 0: no move, no death
    assert weight.tolist() == [[0.0]]
    weight, optimizer = one_weight_step("manual", 0.0, 0.0, 0.1)
    assert weight.tolist() == [[0.0]] and not optimizer.state[optimizer.params[0]]["dead"].any()


def test_from_zero_weights_with_tanh_no_weight_moves_and_no_link_dies():
    config = Config(epochs=3, rules="playground", regularization="L1", regularization_rate=0.01, init="zero",
                    activations=("tanh", "tanh"))
    result = run(config)
    assert result.agree and result.dead_links == {"dead": 0, "weights": 18}
    for model in result.models:
        for name, p in model.state_dict().items():
            if name.endswith(".weight"):
                assert not np.asarray(p).any(), name


def dead_masks(sides):
    r"""Each weight's dead-link mask on both sides, from the optimizers' state."""
    optimizers = sides.pair.optimizers
    return [(optimizers[0].state[p]["dead"].copy(), optimizers[1].state[q]["dead"].numpy().copy())
            for p, q in zip(*sides.pair.params, strict=True) if p.data.ndim == 2]


def train_epoch(sides):
    for _, _, _, outcomes in sides.epoch(next(sides.source.epochs())):
        assert not any(isinstance(outcome, Exception) for outcome in outcomes)
        sides.pair.synchronise()


def test_dead_links_agree_and_stay_zero_in_a_run():
    config = Config(epochs=2, dtype="float64", rules="playground", regularization="L1", regularization_rate=0.3,
                    init="playground", hidden=(4, 2), activations=("tanh", "tanh"))
    assert run(config).agree
    sides = Sides(config, Source(config))
    train_epoch(sides)
    first = dead_masks(sides)
    assert any(manual_dead.any() for manual_dead, _ in first)
    train_epoch(sides)
    weights = [(p.data, q.detach().numpy()) for p, q in zip(*sides.pair.params, strict=True) if p.data.ndim == 2]
    for (manual_dead, torch_dead), (later_manual, later_torch), (w_manual, w_torch) in zip(
            first, dead_masks(sides), weights, strict=True):
        np.testing.assert_array_equal(manual_dead, torch_dead)
        assert (later_manual >= manual_dead).all() and (later_torch >= torch_dead).all()   # dead for good
        assert (w_manual[manual_dead] == 0).all() and (w_torch[manual_dead] == 0).all()


# Numbers from Playground's own code under node: seedrandom 3.0.5 (npm install seedrandom), and each
# host's src/nn.ts and src/dataset.ts compiled with tsc, run as playground.ts's generateData, reset,
# oneStep and getLoss do; docs/playground.md says how far the two were measured to agree.
SEEDRANDOM_0_17900 = [0.27876471932445046, 0.2621566591991232, 0.28493405720168385]   # Math.random() x 3
BROWSER = {
    ARTICLE_URL: [[0.028452774746228565, 0.03833413582569591], [0.01500999906056092, 0.02235585473197549],
                  [0.01029514077493882, 0.01629768974400936]],
    "https://playground.tensorflow.org/#activation=relu&batchSize=7&dataset=xor&learningRate=0.03&regularization=L1"
    "&regularizationRate=0.001&noise=10&networkShape=4&seed=0.54321&percTrainData=50":
        [[0.3955815684867146, 0.41363822695889896], [0.33005116572601106, 0.35306956241831106],
         [0.2636682993920778, 0.28883019807395777]],
    "https://deepinsider.github.io/playground/#activation=tanh&loss=mae&batchSize=10&problem=regression"
    "&regDataset=reg-plane&learningRate=0.03&networkShape=3&seed=0.31416&percTrainData=50":
        [[0.13694266690928888, 0.14268862817398653], [0.11466785559384, 0.12012856919029387],
         [0.10457850662099479, 0.10791688964485881]],
}


def test_the_stream_is_seedrandom_s():
    stream = Stream("0.17900")
    assert [stream.random() for _ in range(3)] == SEEDRANDOM_0_17900


@pytest.mark.parametrize("url", BROWSER, ids=["the article's fork URL", "upstream, batch 7, L1", "the fork's mae"])
def test_exact_gives_the_browser_s_epoch_losses(url, tmp_path, capsys):
    path = tmp_path / "r.json"
    assert main(["--playground", url, "--exact", "--dtype", "float64", "--epochs", "3", "--quiet",
                 "--json", str(path)]) == 0
    history = json.loads(path.read_text())["history"]
    for side in ("manual", "torch"):
        ours = [[h["loss"], h["val_loss"]] for h in history[side]]
        np.testing.assert_allclose(ours, BROWSER[url], rtol=1e-10, atol=0)


def test_a_partial_batch_is_carried_upstream_and_updated_on_in_the_fork():
    def batches(host, epoch):
        run = types.SimpleNamespace(host=host, split=10, config=types.SimpleNamespace(batch_size=4))
        return PlaygroundRun.batches(run, None, epoch)
    upstream = [batches("upstream", epoch) for epoch in (1, 2)]
    assert [b.tolist() for b in upstream[0]] == [[0, 1, 2, 3], [4, 5, 6, 7]]           # 8, 9 carried over
    assert [b.tolist() for b in upstream[1]] == [[8, 9, 0, 1, 2, 3], [4, 5, 6, 7]]
    fork = batches("fork", 2)
    assert [b.tolist() for b in fork] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


# The seed Playground reads, measured with its own code under node: tensorflow/playground's src/state.ts,
# nn.ts and dataset.ts compiled by tsc 4 (commit 02469bd), with window.location.hash = new URL(url).hash and
# Math.seedrandom from seedrandom 3.0.5, printing State.deserializeState().seed; an empty seed there is a
# random one. The two streams: seedrandom(seed)() twice, under node.
PAGE_SEEDS = {"#seed=0.5": "0.5", "#seed=a%20b": "a%20b", "#seed=a b": "a%20b", "#seed=a=b&batchSize=10=4": "a",
              "#seed=ä€": "%C3%A4%E2%82%AC", "#seed=%C3%A4": "%C3%A4", '#seed=x"y<z>`w': "x%22y%3Cz%3E%60w",
              "#seed=%20": "%20", "#seed=a#b": "a#b", "#seed=": "", "#seed=   ": ""}
SEEDRANDOM = {"a%20b": [0.13735817327874844, 0.401507036186567],
              "%C3%A4%E2%82%AC": [0.9899129933268696, 0.2718141935592721]}


@pytest.mark.parametrize("fragment", PAGE_SEEDS)
def test_exact_reads_the_seed_as_the_page_does(fragment):
    settings, _ = parse_url("https://playground.tensorflow.org/" + fragment)
    assert settings["exact"][1] == PAGE_SEEDS[fragment]
    assert settings["batch_size"] == 10                      # batchSize=10=4 is 10 there too


@pytest.mark.parametrize("seed", SEEDRANDOM)
def test_an_encoded_seed_keys_the_page_s_stream(seed):
    stream = Stream(seed)
    assert [stream.random(), stream.random()] == SEEDRANDOM[seed]


@pytest.mark.parametrize("args, error", [
    (["--exact"], "--exact replays a Playground URL's own run: it needs --playground URL"),
    (["--exact", "--playground", "https://playground.tensorflow.org/#dataset=xor"],
     "--exact replays a Playground URL's own run from its seed=...: this URL has none"),
    (["--exact", "--playground", "#seed=0.1", "--seed", "5"],
     "--seed does not apply to --exact: the URL's seed draws the points and weights"),
    (["--exact", "--playground", "#seed=&dataset=xor"], "--exact: the URL's seed= is empty, and Playground then "
     "draws a random seed; copy the address again once the page shows it with its seed"),
])
def test_exact_needs_a_url_with_its_seed_and_no_other(args, error, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--epochs", "1"])
    assert exit_.value.code == 2 and capsys.readouterr().err == f"error: {error}\n"


@pytest.mark.parametrize("regularization", ["L1", "L2"])
def test_an_exported_script_steps_as_the_torch_side_s_playground_step(regularization, tmp_path, capsys):
    url = (f"https://playground.tensorflow.org/#activation=relu&networkShape=3,2&regularization={regularization}"
           "&regularizationRate=0.3&learningRate=0.1&dataset=xor&x=true&y=true&xTimesY=true")
    path = tmp_path / "exported.py"
    assert main(["--playground", url, "--epochs", "2", "--dtype", "float64", "--export-torch", str(path)]) == 0
    exported = runpy.run_path(str(path))                     # defines build_model, loss_fn, update, main
    settings, _ = parse_url(url)
    settings.pop("exact", None)
    config = Config(**settings, dtype="float64")
    rng = np.random.default_rng(3)
    manual_model, torch_model = make_pair(config, rng)       # the given weights, with every sign
    model = exported["build_model"]()
    with torch.no_grad():
        for p, q in zip(model.parameters(), torch_model.parameters(), strict=True):
            p.copy_(q)
    X, y = torch.tensor(rng.uniform(-6, 6, (9, 3))), torch.tensor(rng.choice([-1.0, 1.0], (9, 1)))
    optimizer, criterion, dead = optimizers(config, manual_model, torch_model)[1], criteria(config)[1], {}
    for _ in range(3):                                       # three steps: L1's dead links come into play
        model.zero_grad()
        exported["loss_fn"](model(X), y).backward()
        exported["update"](model, dead)
        torch_impl.train_step(torch_model, optimizer, criterion, X, y)
    for p, q in zip(model.parameters(), torch_model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-15)


def test_an_exported_script_runs_as_a_program_and_prints_the_article_s_lines(tmp_path, capsys):
    path = tmp_path / "exported.py"
    assert main(["--playground", ARTICLE_URL, "--epochs", "2", "--export-torch", str(path)]) == 0
    capsys.readouterr()
    runpy.run_path(str(path), run_name="__main__")            # what python exported.py runs
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("[Epoch   2/  2] loss: ") and "val_acc: " in lines[1]
    assert "import compare" not in path.read_text() and "import manual" not in path.read_text()


def test_exact_refuses_an_upstream_run_that_would_never_update(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--playground", "https://playground.tensorflow.org/#batchSize=300&seed=0.5", "--exact", "--epochs", "1"])
    assert exit_.value.code == 2 and capsys.readouterr().err == (
        "error: --exact: batchSize=300 is more than the 250 training points, and upstream Playground then never "
        "updates the weights\n")


def test_the_exported_script_declares_the_project_s_own_requirements(tmp_path, capsys):
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    names = {"numpy", "torch", "playground-data"}
    assert set(REQUIREMENTS) == {r for r in pyproject["project"]["dependencies"] if re.split("[<>=]", r)[0] in names}
    path = tmp_path / "exported.py"
    assert main(["--playground", ARTICLE_URL, "--epochs", "1", "--export-torch", str(path)]) == 0
    block = re.search(r"^# /// script\n(.*?)^# ///$", path.read_text(), re.M | re.S).group(1)
    metadata = tomllib.loads("\n".join(line.removeprefix("# ") for line in block.splitlines()))
    assert metadata["dependencies"] == list(REQUIREMENTS)


@pytest.mark.parametrize("option", [["--exact"], ["--weights", "{weights}"]])
def test_export_refuses_what_its_script_cannot_take(option, tmp_path, capsys):
    weights = tmp_path / "w.npz"
    np.savez(weights, **make_pair(Config(hidden=(), activations=()), np.random.default_rng(0))[0].state_dict())
    args = [arg.format(weights=weights) for arg in option]
    with pytest.raises(SystemExit) as exit_:
        main(["--playground", ARTICLE_URL, *args, "--export-torch", str(tmp_path / "x.py")])
    assert exit_.value.code == 2 and capsys.readouterr().err == (
        f"error: --export-torch writes a script that draws its own points and initial weights from its SEED: "
        f"it cannot take {option[0]}\n")
    assert not (tmp_path / "x.py").exists()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_exported_script_trains_in_the_dtype_asked_for(dtype, tmp_path, capsys):
    path = tmp_path / "exported.py"
    assert main(["--playground", ARTICLE_URL, "--dtype", dtype, "--export-torch", str(path)]) == 0
    assert next(p for p in runpy.run_path(str(path))["build_model"]().parameters()).dtype == getattr(torch, dtype)


@pytest.mark.venv
def test_the_exported_script_runs_in_a_fresh_venv_with_only_what_it_declares(tmp_path, capsys):
    path = tmp_path / "exported.py"
    assert main(["--playground", ARTICLE_URL, "--epochs", "3", "--export-torch", str(path)]) == 0
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    # the torch build of this environment first (a CPU build: an unpinned torch may be a CUDA one of
    # gigabytes), which the declared range admits; then exactly the declared requirements
    subprocess.run([*pip, f"torch=={torch.__version__.split('+')[0]}"], check=True)
    subprocess.run([*pip, *REQUIREMENTS], check=True)
    alone = subprocess.run([str(venv / "bin" / "python"), str(path)], capture_output=True, text=True, check=True)
    here = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=True)
    assert alone.stdout == here.stdout and len(alone.stdout.splitlines()) == 3


def test_nothing_of_the_url_becomes_code_in_the_exported_script(tmp_path, capsys):
    url = 'https://playground.tensorflow.org/#dataset=circle&networkShape=3&seed="""+str(print("RAN"))+"""\\N'
    path = tmp_path / "exported.py"
    assert main(["--playground", url, "--epochs", "1", "--export-torch", str(path)]) == 0
    exported = runpy.run_path(str(path))                      # defines, runs nothing of the URL
    assert exported["URL"] == url and "RAN" not in capsys.readouterr().out


@pytest.mark.parametrize("option", [["--json", "r.json"], ["--plot", "r.png"], ["--seeds", "3"], ["--free-running"],
                                    ["--rules", "torch"]])
def test_export_refuses_what_it_would_silently_drop(option, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--playground", ARTICLE_URL, *option, "--export-torch", str(tmp_path / "x.py")])
    assert exit_.value.code == 2 and capsys.readouterr().err.startswith("error: --export-torch ")
    assert not (tmp_path / "x.py").exists()


def test_the_exported_script_keeps_each_hidden_layer_s_activation(tmp_path, capsys):
    path = tmp_path / "exported.py"
    assert main(["--playground", "#dataset=xor&networkShape=3,2", "--activations", "relu,sigmoid",
                 "--export-torch", str(path)]) == 0
    model = runpy.run_path(str(path))["build_model"]()
    assert [type(m).__name__ for m in model][:4] == ["Linear", "ReLU", "Linear", "Sigmoid"]
