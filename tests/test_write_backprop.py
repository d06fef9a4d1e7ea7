r"""notebooks/write_backprop.ipynb: as stored, every check says the stub is not written yet; with the
solutions from its closed boxes filled in, every check says CORRECT (run once in a real kernel); with
each classic mistake filled in instead, the check after it names that mistake."""
import contextlib
import io
import os
import re
from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "write_backprop.ipynb"
STUBS = ("linear-backward", "tanh-backward", "sigmoid-backward", "mse-backward", "sgd-step")
CHECKS = {"linear-backward": "check-linear", "tanh-backward": "check-tanh", "sigmoid-backward": "check-sigmoid",
          "mse-backward": "check-mse", "sgd-step": "check-sgd"}


def notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def cell(nb, cell_id):
    return next(c for c in nb.cells if c.get("id") == cell_id)


def solution(nb, stub):
    r"""The code in the closed "Solution" box under the stub."""
    return re.search(r"```python\n(.*?)\n```", cell(nb, f"solution-{stub}").source, re.S).group(1)


def solved(**replaced):
    r"""The notebook with every stub solved, except those in ``replaced`` (stub id -> source)."""
    nb = notebook()
    for stub in STUBS:
        cell(nb, stub).source = replaced.get(stub.replace("-", "_"), solution(nb, stub))
    return nb


def run_in_process(nb, until=None):
    r"""The code cells in order (up to the cell ``until``) in one namespace, from notebooks/ as Jupyter
    starts; what each printed."""
    printed, namespace = {}, {}
    cwd = os.getcwd()
    os.chdir(NOTEBOOK.parent)
    try:
        for c in nb.cells:
            if c.cell_type == "code":
                with contextlib.redirect_stdout(io.StringIO()) as out:
                    exec(compile(c.source, c.id, "exec"), namespace)
                printed[c.id] = out.getvalue()
                if c.id == until:
                    break
    finally:
        os.chdir(cwd)
    return printed


def test_as_stored_every_check_waits_for_its_stub():
    printed = run_in_process(notebook())
    for check in CHECKS.values():
        assert "raised NotImplementedError" in printed[check], (check, printed[check])
    assert printed["train"].startswith("not yet: ")


@pytest.mark.notebook
def test_solved_in_a_real_kernel_every_check_is_correct():
    nb = solved()
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    for check in CHECKS.values():
        text = "".join(output.get("text", "") for output in cell(nb, check).outputs)
        assert "CORRECT: " in text, (check, text)
    trained = "".join(output.get("text", "") for output in cell(nb, "train").outputs)
    assert float(re.search(r"validation accuracy after 100 epochs: ([\d.]+)", trained).group(1)) > 0.75


MISTAKES = {
    "dW transposed": ("linear_backward", "self.weight.grad = dz.T @ self.x", "self.weight.grad = self.x.T @ dz",
                      "dW transposed"),
    "bias not summed": ("linear_backward", "dz.sum(axis=0)", "dz", "not summed over the batch"),
    "mean over the batch": ("linear_backward", "dz.sum(axis=0)", "dz.mean(axis=0)", "a mean where a sum is due"),
    "tanh' at z": ("tanh_backward", "1 - self.a ** 2", "1 - self.z ** 2", "derivative taken at z"),
    "sigmoid' at a": ("sigmoid_backward", "self.a * (1 - self.a)",
                      "(1 / (1 + np.exp(-self.a))) * (1 - 1 / (1 + np.exp(-self.a)))", "derivative taken at a = f(z)"),
    "the 2 of MSE": ("mse_backward", "2 * (self.y_pred - self.y)", "(self.y_pred - self.y)", "the 2 of (y_pred - y)^2"),
    "sum for mean": ("mse_backward", "/ self.y.size", "", "a sum where the loss takes the mean"),
    "no weight decay": ("sgd_step", "(p.grad + self.weight_decay * p.data)", "p.grad", "the weight decay is missing"),
    "uphill": ("sgd_step", "p.data -= ", "p.data += ", "the step goes up the gradient"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_each_classic_mistake_is_named_by_the_check_after_it(mistake):
    stub, right, wrong, hint = MISTAKES[mistake]
    source = solution(notebook(), stub.replace("_", "-"))
    assert right in source
    check = CHECKS[stub.replace("_", "-")]
    text = run_in_process(solved(**{stub: source.replace(right, wrong)}), until=check)[check]
    assert "WRONG: " in text and hint in text, text
