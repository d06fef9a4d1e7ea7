r"""What ``python -m compare`` prints: the article's epoch line per side, then a summary."""
from manual.train import epoch_line

from .core.data import REGRESSION

SIDES = {"manual": "manual (NumPy)", "torch": "torch_impl (autograd)"}
LABELS = {"BCELoss": " on 0/1 labels", "BCEWithLogitsLoss": " on 0/1 labels",
          "CrossEntropyLoss": " on class indices 0/1"}
# what each --init is held to, as the summary says it
REFERENCES = {"xavier": "each side's xavier, against torch.nn.init.xavier_uniform_",
              "torch-default": "each side's, against nn.Linear's reset_parameters",
              "playground": "manual's playground, against Playground's U(-0.5, 0.5), 0.1",
              "zero": "manual's zero, against Playground's initZero"}


def side_names(config):
    r"""Each side as the summary and the figures name it: ``SIDES``, the manual side manual/autograd.py's engine
    under ``--manual autograd``."""
    return {**SIDES, "manual": "manual (autograd.py)"} if config.manual == "autograd" else SIDES


def epoch_report(result):
    r"""The last epoch: one article line per implementation and that epoch's largest gradient difference."""
    epochs = result.config.epochs
    steps = -(-len(result.data[0]) // result.config.batch_size)
    largest = max(max(row) for row in result.step_grad_diffs[-steps:])
    manual_line, torch_line = (epoch_line(result.history[side][-1], epochs) for side in SIDES)
    return (f"{manual_line}  manual\n"
            f"{torch_line}  torch    max |grad diff| {largest:.1e}")


def describe(result):
    r"""The run in one line; the network and the optimizer as the torch side's objects hold them."""
    config, held = result.config, result.settings["torch"]
    sizes = "-".join(map(str, (held["layers"][0][0], *(n_out for _, n_out, _ in held["layers"]))))
    activations = "/".join(activation for _, _, activation in held["layers"])
    features = "" if config.features == ("x", "y") else f" of features {','.join(config.features)}"
    return (f"{sizes} network ({activations}), {held['dtype']}, {config.dataset} data{features}, "
            f"{config.epochs} epoch{'s' * (config.epochs != 1)} of batch {config.batch_size}, "
            f"{describe_optimizer(held)}")


def describe_optimizer(held):
    r"""The optimizer, and the loss unless it is the article's MSELoss."""
    if held["optimizer"] == "PlaygroundSGD":
        penalty = (f", {held['regularization']} rate {held['regularization_rate']} on the weights"
                   if held["regularization"] != "none" else "")
        loss = "mean absolute error" if held["loss"] == "L1Loss" else "1/2-MSE"
        return f"Playground rules: {loss}, SGD lr {held['lr']}{penalty}"
    # the article's loss goes unsaid
    loss = "" if held["loss"] == "MSELoss" else f", {held['loss']}{LABELS.get(held['loss'], '')}"
    if held["optimizer"] == "SGD":
        momentum = (f", {'Nesterov ' if held['nesterov'] else ''}momentum {held['momentum']}"
                    if held["momentum"] else "")
        return f"SGD lr {held['lr']}{momentum}, weight decay {held['weight_decay']}{loss}"
    amsgrad = ", amsgrad" if held["amsgrad"] else ""
    return (f"{held['optimizer']} lr {held['lr']}, betas {tuple(held['betas'])}, eps {held['eps']:g}, "
            f"weight decay {held['weight_decay']}{amsgrad}{loss}")


def summary(result):
    r"""The closing summary: final metrics, gradient differences per parameter, each check, verdict."""
    checks, config = result.checks, result.config
    lines = [f"Summary: {describe(result)}", ""]
    if result.history["manual"]:
        lines.append(f"  {'':24}{'loss':>10}{'acc':>10}{'val_loss':>10}{'val_acc':>10}")
        for side, name in side_names(config).items():
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
    lines += [check_line(name, checks[name]) for name in ("loss", "gradients", "weights after the update",
                                                           "optimizer state", "epoch losses")]
    if config.dataset in REGRESSION:
        lines.append(f"    {'correct counts':26}skipped: regression, real-valued labels")
        lines.append(f"    {'predictions':26}skipped: regression, nothing to discretize")
    else:
        lines += prediction_lines(checks)
    lines.append(f"    {'discretize':26}edge cases 0, -0.0, +-1e-30   {verdict_word(checks['discretize'])}")
    lines.append(f"    {'initialisers':26}{REFERENCES[config.init]}   {verdict_word(checks['initialisers'])}")
    lines.append(f"    {'loaders':26}each side's, batch {config.batch_size}, shuffled, 2 epochs   "
                 f"{verdict_word(checks['loaders'])}")
    return "\n".join(lines + notes(result) + ["", verdict_line(result)])


def check_line(name, check):
    r"""One compared check: its largest difference, or that it was never reached or had nothing to compare."""
    if not check["reached"]:
        return f"    {name:26}not reached: the run stopped before it   {verdict_word(check)}"
    if not check["compared"]:
        return f"    {name:26}none kept: plain SGD has no state   {verdict_word(check)}"
    return (f"    {name:26}max diff {check['max_abs_diff']:.2e}, {check['max_diff_over_tolerance']:.2g} "
            f"of the tolerance, {check['compared']} compared   {verdict_word(check)}")


def notes(result):
    r"""What the summary adds below the checks: dead links, float32 rounding, drift."""
    lines = []
    if result.dead_links:
        lines += ["", f"  dead links (L1 carried the weight across 0, Playground sets it to 0 for good): "
                      f"{result.dead_links['dead']} of {result.dead_links['weights']} weights"]
    if result.rounding:
        first = result.rounding[0]
        parameter = f" of {first['parameter']}" if first["parameter"] else ""
        lines += ["", f"  float32 rounding: {len(result.rounding)} check(s) went past the float32 tolerance; each "
                      "step, replayed, agreed in float64 and stayed within float32's error bounds;",
                  f"    the first, {first['check']}{parameter} at {where(first)} ({first['detail']}): {first['cause']}"]
    if result.config.free_running and result.drift:
        last = result.drift[-1]
        lines += ["", f"  drift after epoch {last['epoch']}: weights {last['max_weight_diff']:.2e}, "
                      f"training loss {last['train_loss_diff']:.2e}, validation loss {last['val_loss_diff']:.2e}"]
    return lines


def prediction_lines(checks):
    r"""Classification only: the correct counts and +1/-1 predictions checks."""
    ties = checks["correct counts"]["ties"] + checks["predictions"]["ties"]
    tie_note = f" ({ties} float32 ties with |y_pred| < {checks['predictions']['tie_band']:g})" if ties else ""
    return [f"    {'correct counts':26}{checks['correct counts']['compared']} epochs, every step's batch"
            f"   {verdict_word(checks['correct counts'])}",
            f"    {'predictions':26}{checks['predictions']['mismatched']} of {checks['predictions']['compared']} "
            f"differ{tie_note}   {verdict_word(checks['predictions'])}"]


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
        rounding = (f" ({len(result.rounding)} float32 rounding difference(s), each within float32's error bounds)"
                    if result.rounding else "")
        manual = "manual's autograd engine" if result.config.manual == "autograd" else "manual backprop"
        return (f"AGREE: {start}, {manual} and torch autograd computed "
                f"the same losses, gradients, updates and predictions{rounding}.")
    f = result.first_failure
    parameter = f" of {f['parameter']}" if f["parameter"] else ""
    quantity = (f"\n  first differing quantity in a trace of that step: {f['quantity']}" if f["quantity"]
                else "")
    return (f"DISAGREE: {f['check']}{parameter} at {where(f)}: {f['detail']}{quantity}"
            f"\n  likely cause: {f['hint']}")


def verdict_word(check):
    r"""``ok``, ``FAILED``, or ``not reached`` for a check the run stopped before (nothing to vouch for)."""
    if not check["ok"]:
        return "FAILED"
    return "ok" if check.get("reached", check["compared"]) else "not reached"
