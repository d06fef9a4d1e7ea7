r"""What ``python -m compare`` prints: the article's epoch line per side, then a summary."""
from manual.train import epoch_line

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
    sizes = "-".join(map(str, (2, *config.hidden, 1)))
    activations = "/".join((*config.activations, config.output_activation))
    return (f"{sizes} network ({activations}), {config.dtype}, {config.dataset} data, "
            f"{config.epochs} epochs of batch {config.batch_size}, lr {config.lr}, weight decay {config.weight_decay}")


def summary(result):
    r"""The closing summary: final metrics, gradient differences per parameter, checks, verdict."""
    g, losses, acc = result.gradients, result.loss_curves, result.accuracy
    lines = [f"Summary: {describe(result.config)}", ""]
    if result.history["manual"]:
        lines.append(f"  {'':24}{'loss':>10}{'acc':>10}{'val_loss':>10}{'val_acc':>10}")
        for side, name in SIDES.items():
            last = result.history[side][-1]
            lines.append(f"  {name:24}" + "".join(f"{last[k]:10.5f}" for k in ("loss", "acc", "val_loss", "val_acc")))
        lines.append("")
    lines.append(f"  largest |g_manual - g_torch| per parameter over {g['steps']} steps:")
    lines += [f"    {name:18}{diff:.2e}" for name, diff in g["per_parameter_max_abs_diff"].items()]
    lines += ["", f"  checks: |manual - torch| <= atol + rtol |torch| with atol {g['atol']:g}, rtol {g['rtol']:g}"]
    for name, check in (("gradients", g), ("loss curves", losses)):
        lines.append(f"    {name:13}max diff {check['max_abs_diff']:.2e}, "
                     f"{check['max_diff_over_tolerance']:.2g} of the tolerance   {verdict_word(check['ok'])}")
    total = acc["points_per_epoch"] * len(result.history["manual"])
    ties = f", {acc['ties_at_threshold']} ties with |y_pred| < {acc['tie_band']:g}" if result.config.dtype == "float32" else ""
    lines.append(f"    {'predictions':13}{acc['mismatched_predictions']} of {total} differ{ties}   "
                 f"{verdict_word(acc['ok'])}")
    lines.append("")
    if result.diverged:
        d = result.diverged
        lines.append(f"DIVERGED: the loss became non-finite at epoch {d['epoch']}, step {d['step']} "
                     f"(manual {d['losses']['manual']}, torch {d['losses']['torch']}); try a smaller --lr.")
    elif result.agree:
        lines.append("AGREE: manual backprop and torch autograd computed the same gradients, losses and predictions.")
    else:
        failed = [name for name, check in (("gradients", g), ("loss curves", losses), ("predictions", acc))
                  if not check["ok"]]
        lines.append(f"DISAGREE: {', '.join(failed)} outside the tolerance.")
    return "\n".join(lines)


def verdict_word(ok):
    return "ok" if ok else "FAILED"
