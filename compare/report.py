r"""What ``python -m compare`` prints: the article's epoch line per side, then a summary."""
from manual.train import epoch_line

from .data import REGRESSION

SIDES = {"manual": "manual (NumPy)", "torch": "torch_impl (autograd)"}


def epoch_report(result):
    r"""The last epoch: one article line per implementation and that epoch's largest gradient difference."""
    epochs = result.config.epochs
    steps = -(-len(result.data[0]) // result.config.batch_size)
    largest = max(max(row) for row in result.step_grad_diffs[-steps:])
    manual_line, torch_line = (epoch_line(result.history[side][-1], epochs) for side in SIDES)
    return (f"{manual_line}  manual\n"
            f"{torch_line}  torch    max |grad diff| {largest:.1e}")


def describe(config):
    sizes = "-".join(map(str, (len(config.features), *config.hidden, 1)))
    activations = "/".join((*config.activations, config.output_activation))
    features = "" if config.features == ("x", "y") else f" of features {','.join(config.features)}"
    return (f"{sizes} network ({activations}), {config.dtype}, {config.dataset} data{features}, "
            f"{config.epochs} epochs of batch {config.batch_size}, {describe_optimizer(config)}")


def describe_optimizer(config):
    if config.rules == "playground":
        penalty = (f", {config.regularization} rate {config.regularization_rate} on the weights"
                   if config.regularization != "none" else "")
        return f"Playground rules: 1/2-MSE, SGD lr {config.lr}{penalty}"
    if config.optimizer == "sgd":
        momentum = (f", {'Nesterov ' if config.nesterov else ''}momentum {config.momentum}"
                    if config.momentum else "")
        return f"SGD lr {config.lr}{momentum}, weight decay {config.weight_decay}"
    amsgrad = ", amsgrad" if config.amsgrad else ""
    name = {"adam": "Adam", "adamw": "AdamW"}[config.optimizer]
    return (f"{name} lr {config.lr}, betas {config.betas}, eps {config.eps:g}, "
            f"weight decay {config.weight_decay}{amsgrad}")


def summary(result):
    r"""The closing summary: final metrics, gradient differences per parameter, each check, verdict."""
    checks, config = result.checks, result.config
    lines = [f"Summary: {describe(config)}", ""]
    if result.history["manual"]:
        lines.append(f"  {'':24}{'loss':>10}{'acc':>10}{'val_loss':>10}{'val_acc':>10}")
        for side, name in SIDES.items():
            last = result.history[side][-1]
            lines.append(f"  {name:24}" + "".join(f"{last[k]:10.5f}" for k in ("loss", "acc", "val_loss", "val_acc")))
        lines.append("")
    grads = checks["gradients"]
    lines.append(f"  largest |g_manual - g_torch| per parameter over {grads['compared']} steps:")
    lines += [f"    {name:18}{diff:.2e}" for name, diff in grads["per_parameter_max_abs_diff"].items()]
    sync = ("torch re-synchronised from manual before every step" if not config.free_running
            else "free-running: never re-synchronised")
    lines += ["", f"  checks ({sync}); numbers: |manual - torch| <= atol + rtol |torch|, "
                  f"atol {grads['atol']:g}, rtol {grads['rtol']:g}"]
    for name in ("loss", "gradients", "weights after the update", "optimizer state", "epoch losses"):
        check = checks[name]
        if not check["compared"]:
            lines.append(f"    {name:26}none kept: plain SGD has no state   {verdict_word(check['ok'])}")
            continue
        lines.append(f"    {name:26}max diff {check['max_abs_diff']:.2e}, {check['max_diff_over_tolerance']:.2g} "
                     f"of the tolerance, {check['compared']} compared   {verdict_word(check['ok'])}")
    if config.dataset in REGRESSION:
        lines.append(f"    {'correct counts':26}skipped: regression, real-valued labels")
        lines.append(f"    {'predictions':26}skipped: regression, nothing to discretize")
    else:
        lines += prediction_lines(checks)
    lines.append(f"    {'discretize':26}edge cases 0, -0.0, +-1e-30   {verdict_word(checks['discretize']['ok'])}")
    if result.dead_links:
        lines += ["", f"  dead links (L1 carried the weight across 0, Playground sets it to 0 for good): "
                      f"{result.dead_links['dead']} of {result.dead_links['weights']} weights"]
    if config.free_running and result.drift:
        last = result.drift[-1]
        lines += ["", f"  drift after epoch {last['epoch']}: weights {last['max_weight_diff']:.2e}, "
                      f"training loss {last['train_loss_diff']:.2e}, validation loss {last['val_loss_diff']:.2e}"]
    lines.append("")
    lines.append(verdict_line(result))
    return "\n".join(lines)


def prediction_lines(checks):
    r"""Classification only: the correct counts and +1/-1 predictions checks."""
    ties = checks["correct counts"]["ties"] + checks["predictions"]["ties"]
    tie_note = f" ({ties} float32 ties with |y_pred| < {checks['predictions']['tie_band']:g})" if ties else ""
    return [f"    {'correct counts':26}{checks['correct counts']['compared']} epochs, every step's batch"
            f"   {verdict_word(checks['correct counts']['ok'])}",
            f"    {'predictions':26}{checks['predictions']['mismatched']} of {checks['predictions']['compared']} "
            f"differ{tie_note}   {verdict_word(checks['predictions']['ok'])}"]


def where(failure):
    step = f", step {failure['step']}" if failure.get("step") else ""
    return f"epoch {failure['epoch']}{step}"


def verdict_line(result):
    r"""AGREE, or what failed first, where, the first differing quantity and the likely cause."""
    if result.diverged:
        d = result.diverged
        return (f"DIVERGED: {d['quantity']} became non-finite on {d['side']} at {where(d)}; {d['hint']}.")
    if result.agree:
        start = ("trained separately from the same start" if result.config.free_running
                 else "from identical weights at every step")
        return (f"AGREE: {start}, manual backprop and torch autograd computed "
                "the same losses, gradients, updates and predictions.")
    f = result.first_failure
    parameter = f" of {f['parameter']}" if f["parameter"] else ""
    quantity = (f"\n  first differing quantity in a trace of that step: {f['quantity']}" if f["quantity"]
                else "")
    return (f"DISAGREE: {f['check']}{parameter} at {where(f)}: {f['detail']}{quantity}"
            f"\n  likely cause: {f['hint']}")


def verdict_word(ok):
    return "ok" if ok else "FAILED"
