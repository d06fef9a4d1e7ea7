r"""The study notebooks: stored without outputs, and run top to bottom in a fresh kernel.

Each notebook is executed once (``executed``, ``engine_executed``) with the kernel started in ``notebooks/``,
as Jupyter starts it; every cell must run without error, and the outputs of the cells named by their ids
must show what the prose around them says.
"""
import ast
import os
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "backprop_side_by_side.ipynb"
ENGINE_NOTEBOOK = ROOT / "notebooks" / "autograd_engine.ipynb"


def repository_files():
    r"""Every file under the repository root, leaving out ``__pycache__`` and hidden folders (.git, .venv)."""
    found = set()
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name != "__pycache__" and not name.startswith(".")]
        found.update(os.path.join(folder, name) for name in files)
    return found


def execute(path):
    r"""The notebook at ``path`` after a run in a fresh ``python3`` kernel, and the repository's files before and
    after."""
    nb = nbformat.read(path, as_version=4)
    before = repository_files()
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()                        # raises CellExecutionError at the first failing cell
    return nb, before, repository_files()


@pytest.fixture(scope="module")
def executed():
    return execute(NOTEBOOK)


@pytest.fixture(scope="module")
def engine_executed():
    return execute(ENGINE_NOTEBOOK)


def cell(nb, cell_id):
    return next(c for c in nb.cells if c.get("id") == cell_id)


def printed(nb, cell_id):
    r"""Everything a code cell printed (stdout and stderr)."""
    return "".join(output.get("text", "") for output in cell(nb, cell_id).outputs if output.output_type == "stream")


@pytest.mark.parametrize("path", [NOTEBOOK, ENGINE_NOTEBOOK], ids=lambda path: path.name)
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells
    for c in code_cells:
        assert c.outputs == [] and c.execution_count is None, f"cell {c.id} was stored with its outputs"


@pytest.mark.parametrize("name", ["backprop_side_by_side.ipynb", "write_backprop.ipynb", "autograd_engine.ipynb"])
def test_colab_installs_from_the_repository_of_pyproject(name):
    r"""The set-up cell's ``REPOSITORY`` is pyproject.toml's ``[project.urls]`` "Repository" (None while it has none),
    and no page says ``OWNER/REPO``."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        published = tomllib.load(file)["project"].get("urls", {}).get("Repository")
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assignment = next(node for node in ast.parse(setup.source).body
                      if isinstance(node, ast.Assign) and node.targets[0].id == "REPOSITORY")
    assert ast.literal_eval(assignment.value) == published
    assert "OWNER/REPO" not in nbformat.writes(nb)


@pytest.mark.notebook
@pytest.mark.parametrize("run", ["executed", "engine_executed"])
def test_runs_without_writing_files(run, request):
    nb, before, after = request.getfixturevalue(run)
    assert after == before, f"the notebook wrote {sorted(after - before)} and removed {sorted(before - after)}"


@pytest.mark.notebook
@pytest.mark.parametrize("cell_id, expected", [
    ("break-half-mse", ["verdict:   DISAGREE", "check:     gradients", "step:      1", "quantity:  dL/dy_pred"]),
    ("break-bias-decay", ["verdict:   DISAGREE", "check:     weights after the update", "step:      2",
                          ".bias", "quantity:  new_b1", "weight decay included"]),
    ("break-zero-grad", ["verdict:   DISAGREE", "check:     gradients", "step:      2", "quantity:  None",
                         "missing zero_grad"]),
    ("break-sigmoid", ["verdict:   DISAGREE", "check:     gradients", "step:      1", "quantity:  dL/dz2"]),
    ("break-labels", ["manual: ValueError", "torch: UserWarning", "shape (250, 250)"]),
])
def test_each_planted_bug_is_caught(executed, cell_id, expected):
    text = printed(executed[0], cell_id)
    for phrase in expected:
        assert phrase in text, f"{cell_id}: {phrase!r} not in\n{text}"


@pytest.mark.notebook
def test_sigmoid_trace_starts_differing_at_dz2(executed):
    verdicts = {line.split()[0]: line.split()[-1]
                for line in printed(executed[0], "break-sigmoid-trace").splitlines()[1:]}
    assert verdicts["dL/da2"] != "DIFFERENT" and verdicts["dL/dW3"] != "DIFFERENT"
    assert verdicts["dL/dz2"] == verdicts["dL/dW1"] == "DIFFERENT"


@pytest.mark.notebook
def test_broadcast_loss_identity(executed):
    lines = printed(executed[0], "break-labels-check").splitlines()
    assert len(lines) == 2 and lines[0].split("=")[-1] == lines[1].split("=")[-1]


@pytest.mark.notebook
def test_plants_are_undone(executed):
    for cell_id in ("break-helpers", "restored"):
        assert printed(executed[0], cell_id).strip() == "verdict:   AGREE"


@pytest.mark.notebook
def test_lockstep_run_agrees_and_learns(executed):
    # the notebook's run is python -m compare's default run: the article's settings, seed 1, 100 epochs
    text = printed(executed[0], "lockstep-100")
    assert "\nAGREE:" in text
    for side in ("manual (NumPy)", "torch_impl (autograd)"):
        row = next(line for line in text.splitlines() if line.strip().startswith(side))
        assert row.split()[-1] == "1.00000", f"validation accuracy of {side}: {row}"


@pytest.mark.notebook
def test_figures_are_shown(executed):
    for cell_id in ("data", "figure", "pictures"):
        assert any("image/png" in output.get("data", {}) for output in cell(executed[0], cell_id).outputs)


@pytest.mark.notebook
def test_the_engine_notebook_walks_the_graph_and_draws_it(engine_executed):
    nb = engine_executed[0]
    walked = printed(nb, "walk").splitlines()
    assert len(walked) == 16 and walked[0].split()[1] == "MseLossBackward0"
    assert sum("fills" in line for line in walked) == 6
    assert any("image/png" in output.get("data", {}) for output in cell(nb, "drawing").outputs)
    assert "(16 nodes in all" in printed(nb, "drawing") and "DIFFERENT" not in printed(nb, "drawing")
    assert "a.grad: tensor([4., 8.])" in printed(nb, "saved")


@pytest.mark.notebook
@pytest.mark.parametrize("cell_id, sections, phrase", [
    ("order", 0, "every .grad after loss.backward(), engine vs torch"), ("accumulate", 1, "the batch of 15"),
    ("retain", 1, "retain_graph=True"), ("version", 1, "output 0 of Mul"), ("cut", 2, "detach"),
    ("vjp", 1, "torch.func.jacrev"), ("hessian", 1, "torch.func.hessian"), ("functions", 1, "@once_differentiable")])
def test_the_engine_notebook_shows_each_behaviour_the_same_on_both_sides(engine_executed, cell_id, sections, phrase):
    text = printed(engine_executed[0], cell_id)
    assert text.count("-> same on both sides") == sections and "DIFFERENT" not in text and phrase in text
