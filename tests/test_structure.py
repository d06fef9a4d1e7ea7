r"""compare/'s structure: the core imports no tool and nothing of Playground, and no two modules import each other;
every tool prints the same digits for the same value of the same step (one computation per quantity)."""
import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest

from compare import gradcheck
from compare.__main__ import main as compare_main
from compare.core import Config, Source
from compare.trace import main as trace_main
from compare.walkthrough import main as walkthrough_main

from conftest import run_main

PACKAGE = Path(__file__).resolve().parent.parent / "compare"


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path) for path in PACKAGE.rglob("*.py")}


def imports(path):
    r"""The modules of compare that the file at ``path`` imports, at any depth of its code: for ``from X import
    a``, ``X.a`` where that is a module, else ``X``."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in MODULES}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, *filter(None, [node.module])])
            if name in MODULES:
                found |= {f"{name}.{a.name}" if f"{name}.{a.name}" in MODULES else name for a in node.names}
    return found - {module_name(path)}


GRAPH = {module_name(path): imports(path) for path in PACKAGE.rglob("*.py")}


def test_the_import_graph_is_read():
    assert "compare.core.pair" in GRAPH["compare.core.lockstep"]
    assert "compare.core.source" in GRAPH["compare.core.lockstep"]
    assert "compare.playground.url" in GRAPH["compare.playground"]


def test_the_core_imports_no_tool_and_nothing_of_playground():
    for name, imported in GRAPH.items():
        if name.startswith("compare.core"):
            assert all(module.startswith("compare.core") for module in imported), (name, imported)


def test_no_two_modules_import_each_other():
    for name, imported in GRAPH.items():
        for other in imported:
            assert name not in GRAPH.get(other, ()), (name, other)


def trace_rows(args, tmp_path, capsys):
    path = tmp_path / "trace.json"
    run_main(trace_main, [*args, "--json", str(path)], capsys)
    return {row["quantity"]: row for row in json.loads(path.read_text())["rows"]}


def walked(args, capsys):
    r"""Each value the walkthrough printed: its name -> (manual's, autograd's), as printed."""
    status, out, _ = run_main(walkthrough_main, [*args, "--digits", "17"], capsys)
    assert status == 0
    found = re.findall(r"^  (\S+) (?:=|<-) .* = (\S+) +autograd +(\S+)  (?:exact|close)$", out, re.MULTILINE)
    return {name: (manual, autograd) for name, manual, autograd in found}


def element(rows, name):
    r"""``dL/dW2[0,1]`` -> that element of the trace's row ``dL/dW2``, both sides'; ``W``/``b`` updates: ``new_``."""
    quantity, index = re.fullmatch(r"(.+?)(\[[\d,]+\])?", name).groups()
    quantity = f"new_{quantity[0]}{quantity[1:]}" if quantity[0] in "Wb" else "loss" if quantity == "L" else quantity
    position = tuple(int(i) for i in index.strip("[]").split(",")) if index else ()
    row = rows[quantity]
    manual, autograd = np.asarray(row["manual"]), np.asarray(row["autograd"])
    position = (0,) * (manual.ndim - len(position)) + position        # z1[0] of a single example: z1[0, 0]
    return manual[position], autograd[position]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch", [["--step", "3", "--row", "2"], ["--step", "2", "--point", "1,-2", "--label", "1"]],
                         ids=["step 3 row 2", "a point"])
def test_every_tool_gives_the_same_digits_for_the_same_value(dtype, batch, tmp_path, capsys):
    settings = ["--dtype", dtype]
    rows = trace_rows([*settings, *batch], tmp_path, capsys)
    printed = walked([*settings, *batch], capsys)
    assert len(printed) > 50
    torch_type = np.float32 if dtype == "float32" else float          # autograd's, printed as its dtype prints
    for name, (manual, autograd) in printed.items():
        expected_manual, expected_autograd = element(rows, name)
        assert float(manual) == expected_manual, name                 # 17 digits: every bit
        assert torch_type(autograd) == torch_type(expected_autograd), name
    config = Config(dtype=dtype, epochs=1)
    weights, state, X, y = Source(config).step(int(batch[1]))
    if dtype == "float64" and "--point" not in batch:                 # gradcheck is float64 only
        problem = gradcheck.Problem(config, weights, X, y)
        for (name, manual), autograd in zip(problem.gradients["manual"].items(),
                                            problem.gradients["autograd"].values(), strict=True):
            k = ["layer1", "layer2", "layer_out"].index(name.split(".")[0]) + 1
            row = rows[f"dL/d{'W' if name.endswith('weight') else 'b'}{k}"]
            assert np.array_equal(manual, row["manual"]) and np.array_equal(autograd, row["autograd"]), name
    if "--point" not in batch:                                        # the lockstep's own step
        path = tmp_path / "run.json"
        run_main(compare_main, [*settings, "--epochs", "1", "--quiet", "--json", str(path)], capsys)
        step = json.loads(path.read_text())["steps"][int(batch[1]) - 1]
        assert [step["loss"]["manual"], step["loss"]["torch"]] == [rows["loss"]["manual"], rows["loss"]["autograd"]]


@pytest.mark.parametrize("mistake", [["--step", "0"], ["--point", "1"], ["--point", "1,2"], ["--label", "1"],
                                     ["--point", "1,2", "--label", "3"], ["--point", "1,inf", "--label", "1"]],
                         ids=" ".join)
def test_a_bad_point_or_step_is_the_same_line_in_every_tool_that_takes_it(mistake, capsys):
    answers = set()
    for main in (trace_main, walkthrough_main, gradcheck.main):
        with pytest.raises(SystemExit) as exited:
            main(mistake)
        out, err = capsys.readouterr()
        assert exited.value.code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1
        answers.add(err)
    assert len(answers) == 1, answers


def test_every_test_docs_agreement_names_for_a_path_outside_the_lockstep_exists():
    page = (PACKAGE.parent / "docs" / "agreement.md").read_text()
    section = page[page.index("## What the lockstep does not run"):]
    section = section[:section.index("\n## ", 1)]
    named = re.findall(r"`tests/(\w+\.py)::(\w+)`", section)
    assert len(named) >= 8
    for file, test in named:
        tree = ast.parse((PACKAGE.parent / "tests" / file).read_text())
        assert test in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}, f"{file}::{test}"


def test_every_command_runs_its_main_under_python_dash_m():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        if any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body):
            guards = [node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) ==
                      "__name__ == '__main__'"]
            assert guards and "main" in ast.unparse(guards[0]), f"python -m {module_name(path)} would run nothing"
