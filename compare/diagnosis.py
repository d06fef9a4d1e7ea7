r"""Which classic mistake a wrong gradient is: ``reference`` computes every gradient by manual's formulas,
or as one mistake computes them, and ``diagnose`` names the first that gives yours.
"""
import numpy as np

import manual
from manual.train import LOSSES

from .core.formulas import activation
from .core.pair import tolerance_ratio


def agree(mine, theirs, dtype="float64", extra=0.0):
    return np.shape(mine) == np.shape(theirs) and bool(np.all(tolerance_ratio(mine, theirs, dtype, extra) <= 1))


# The forms of an L2 term on the weights, l2 * c * sum(W^2): cs231n writes both reg sum(W^2) and 0.5 reg sum(W^2),
# deeplearning.ai lambd / (2 m) sum(W^2), m the examples of the batch
L2_FORMS = ("reg", "half", "per example")


def l2_scale(form, rows):
    r"""The ``c`` of ``l2 * c * sum(W^2)`` for ``form`` and a batch of ``rows`` examples."""
    return {"reg": 1.0, "half": 0.5, "per example": 0.5 / rows}[form]


# Derivatives learners write instead of the activation's: what each is, and its f'(z, a)
WRONG_DERIVATIVES = {
    "sigmoid": (("written a (1 + a)", lambda z, a: a * (1 + a)), ("written 1 - a^2, tanh's", lambda z, a: 1 - a ** 2),
                ("written a", lambda z, a: a),
                ("applied twice (a BCE gradient p - y already holds it)", lambda z, a: (a * (1 - a)) ** 2)),
    "tanh": (("written 1 - a", lambda z, a: 1 - a), ("written 1 + a^2", lambda z, a: 1 + a ** 2),
             ("written a (1 - a), sigmoid's", lambda z, a: a * (1 - a))),
    "relu": (("written [z >= 0]", lambda z, a: (z >= 0) * 1.0),),
}
LEFT_OUT = ("left out (dL/dz = dL/da)", lambda z, a: np.ones_like(z))      # any activation's


def reference(net, weights, X, y, mistake=None, layer=None):
    r"""Every parameter gradient (in your layout) by manual's formulas, or as one classic ``mistake`` at
    ``layer`` computes them: ``"at z"``, ``"at a"`` (an activation's derivative evaluated at the wrong
    one of the two), ``"input"`` (dW from another layer's input, ``layer`` being ``(k, j)``), or a
    function ``f'(z, a)`` written for the activation's derivative."""
    Ws = [w.T if net.transposed else w for w in weights[0::2]]       # (out, in), as z = x W^T + b
    xs, zs, activations = [], [], []
    a = X
    for W, b, name in zip(Ws, weights[1::2], net.activations, strict=True):
        activation = manual.ACTIVATIONS[name]()
        xs.append(a)
        zs.append(a @ W.T + b.reshape(-1))
        a = activation(zs[-1])
        activations.append(activation)
    criterion = LOSSES[net.loss][0]()
    criterion(a, y)
    da, grads = criterion.backward(), [None] * len(weights)
    for k in reversed(range(len(Ws))):
        activation = activations[k]
        if layer == k and mistake in ("at z", "at a"):
            wrong = type(activation)()
            if mistake == "at a":
                wrong(activation.a if hasattr(activation, "a") else activation(zs[k]))   # f' at a = f(z)
            else:
                wrong(zs[k])
                wrong.a = zs[k]                               # a formula in a, given z
            activation = wrong
        dz = (da * mistake(zs[k], activation(zs[k])) if callable(mistake) and layer == k
              else activation.backward(da))
        passed = da if (mistake, layer) == ("from da", k) else dz             # what goes back to the layer below
        x = xs[layer[1]] if mistake == "input" and layer[0] == k else xs[k]
        dW = (dz.T @ x).T if net.transposed else dz.T @ x
        factor = {"no l2": 0, "l2 half": 0.5, "l2 double": 2, "l2 times m": len(X)}.get(mistake, 1)
        decay = factor * l2_gradient(net, weights[2 * k], len(X))
        grads[2 * k] = dW + decay if dW.shape == decay.shape else dW
        grads[2 * k + 1] = (dz.sum(axis=0).reshape(net.shapes[2 * k + 1])
                            + (l2_gradient(net, weights[2 * k + 1], len(X)) if mistake == "l2 biases" else 0))
        square = (mistake, layer) == ("W^T", k) and Ws[k].shape[0] == Ws[k].shape[1]
        da = passed @ (Ws[k].T if square else Ws[k])
    return grads


def factor_hint(g, e, batch, net):
    r"""The hint for a gradient ``g`` that is autograd's ``e`` times 2, 1/2, -1, the batch size or its inverse,
    one over the outputs per example, or the batch's rows over another number (a batch size in the code)."""
    dtype, outputs = net.dtype, net.sizes[-1]
    per_element = ((1 / outputs, f"autograd's over the {outputs} outputs per example: divided by every element, "
                                 "N x outputs (d.size), where the loss's mean is over the N examples"),) * (outputs > 1)
    for factor, hint in (*per_element, (2, "twice autograd's: a factor 2 too many (the 2 of MSE applied twice?)"),
                         (0.5, "half of autograd's: the 2 of (y_pred - y)^2 forgotten, as for a 1/2-MSE"),
                         (-1, "minus autograd's: the sign flipped, (y - y_pred) where (y_pred - y) is due"),
                         (batch, "the batch size times autograd's: a sum where the loss takes the mean "
                                 "(the 1/N forgotten)"),
                         (1 / batch, "autograd's over the batch size: a mean where a sum is due "
                                     "(dW and db add up the batch)")):
        if agree(g, factor * e, dtype):
            return hint
    scale = float(np.vdot(g, e) / np.vdot(e, e)) if np.shape(g) == np.shape(e) and np.vdot(e, e) else 0
    divisor = round(batch / scale) if scale > 0 else 0
    if divisor > 1 and divisor != batch and agree(g, batch / divisor * e, dtype):
        return (f"divided by {divisor}, not by the batch's {batch} rows: a batch size written into the code; "
                f"divide by the batch's own size, {'X.shape[1]' if net.columns else 'len(X)'}")
    return None


def accumulated_hint(zeroing, name):
    r"""The hint for gradients right on a first call and wrong on the second, from the same weights, after
    ``zeroing`` (``Learner.zeroing``: your model's ``zero_grad()``, an optimizer's, or none) zeroed them."""
    said = "your gradients accumulate across calls: the first call is right, the second adds to it; "
    if zeroing == "your zero_grad()":
        return said + (f"your zero_grad(), called before each call as a training loop calls it, leaves {name}'s "
                       "gradient as it was")
    if zeroing == "zero_grad's":
        return said + ("backward adds (+=) into an array the model keeps apart from p.grad, which zeroing p.grad does "
                       "not reach; assign p.grad, or give your model a zero_grad() that zeroes what it keeps")
    return said + ("the gradients are added (+=) into arrays the model keeps and hands out, and nothing zeroes them; "
                   "compute them afresh each call, or give your model a zero_grad() (called before each call)")


def diagnose(net, weights, X, y, k, g, given=None):
    r"""The classic mistake that gives the wrong gradient ``g`` of parameter ``k``, as a hint. ``given``: the
    dL/dy_pred a module-style backward was given (which a backward written for the labels takes for them)."""
    e = reference(net, weights, X, y)[k]
    layer, weight = k // 2, k % 2 == 0
    if weight:                                     # the loss's parts, where an L2 term adds its own
        hint = form_hint(net, g - penalty(net, weights[k], g, len(X)), e - penalty(net, weights[k], e, len(X)),
                         len(X), layer)
    else:
        hint = form_hint(net, g, e, len(X), None)
    if hint:
        return hint
    for mistake, where, hint in candidates(net, layer, weight):
        if agree(g, reference(net, weights, X, y, mistake, where)[k], net.dtype):
            return hint
    decay = decay_hint(g, e, weights[k], net.dtype) if weight else None
    if decay:
        return decay
    if given is not None and y.dtype.kind == "f" and agree(g, reference(net, weights, X, given)[k], net.dtype):
        return ("your backward takes the labels y: backward(dy_pred) is given dL/dy_pred, the loss's gradient, "
                "and passes it back; the loss computes it (criterion.backward() in manual/)")
    passed = ("dL/dy_pred from the loss" if layer + 1 == len(net.activations)
              else "the gradient passed back to it, da = dz_next W_next")
    dW = "x^T dz" if net.transposed else "dz^T x"
    return (f"none of the classic mistakes: check layer {layer + 1}'s dz = da * f'(z), dW = {dW} and db = sum dz, "
            f"and {passed}")


def penalty(net, W, g, rows):
    r"""The L2 term's part of a gradient ``g`` of the weight ``W`` (``g`` of ``W``'s shape, or transposed), so that
    the rest is the loss's; 0 without an L2 term."""
    if not net.l2 or np.shape(g) not in (W.shape, W.T.shape):
        return 0
    return l2_gradient(net, W if np.shape(g) == W.shape else W.T, rows)


def l2_gradient(net, a, rows):
    r"""``d(net.l2 c sum(a^2))/da = 2 c net.l2 a``: the L2 term's gradient of an array, ``c`` as the form your
    loss matched says (``l2_scale``)."""
    return 2 * l2_scale(net.form, rows) * net.l2 * a


def decay_hint(g, e, W, dtype):
    r"""The hint for a weight gradient ``g`` that is autograd's ``e`` plus ``c W``: weight decay, or an L2 term the
    loss does not have, put into the backward pass; else None."""
    c = float(np.vdot(g - e, W) / np.vdot(W, W)) if np.shape(g) == np.shape(W) and np.vdot(W, W) else 0.0
    if not (c and agree(g, e + c * W, dtype)):
        return None
    return (f"yours is autograd's + {c:.3g} W: weight decay put into the backward pass; weight decay belongs to the "
            "optimizer's step (torch's weight_decay), and an L2 term of your loss is declared with --l2 REG")


def l2_term(net, arrays, rows):
    r"""``net.l2 c sum(a^2)`` over ``arrays``, ``c`` as the form of the L2 term your loss matched says."""
    return l2_scale(net.form, rows) * net.l2 * sum(float((a ** 2).sum()) for a in arrays)


def form_hint(net, g, e, batch, layer):
    r"""What the form of ``g`` against autograd's ``e`` (of the weight of ``layer``, or a bias: None) says without
    recomputing anything: not finite, transposed, a bias's shape or mean, a constant factor, all zeros; else None.
    A factor of the loss's gradient shows in the output layer; in a layer below, it is that layer's."""
    if not np.all(np.isfinite(g)) and np.all(np.isfinite(e)):
        return "yours holds NaN or inf where autograd's is finite: a division by 0, a log of 0 or an overflow"
    if layer is not None and g.shape == e.T.shape and agree(g, e.T, net.dtype):
        return "dW transposed: for (out, in) weights dL/dW = dz^T x, for (in, out) weights x^T dz"
    if layer is not None and layer + 1 < len(net.activations):
        hint = layer_factor_hint(net, g, e, layer)
    else:
        hint = (None if layer is not None else bias_hint(g, e, batch, net)) or factor_hint(g, e, batch, net)
    if hint is None and not np.any(g) and np.any(e):
        return ("yours is all zeros: your backward put the gradient where .grad does not show it (into an array "
                "replaced before the call, or a copy); assign p.grad, or write into p.grad itself")
    return hint


def fits(g, shape):
    r"""Whether a bias gradient ``g`` writes into a bias of ``shape`` as it is: ``b -= lr * db`` keeps b's shape
    (``(n,)`` into ``(1, n)``, ``()`` into a bias of one unit), with as many numbers."""
    try:
        return np.size(g) == np.prod(shape) and np.broadcast_shapes(np.shape(g), shape) == shape
    except ValueError:                             # shapes that do not broadcast at all
        return False


def layer_factor_hint(net, g, e, layer):
    r"""The hint for the weight gradient ``g`` of a layer below the output, ``c`` times autograd's ``e``: the layers
    above are right, so the factor is this layer's; else None."""
    c = float(np.vdot(g, e) / np.vdot(e, e)) if np.vdot(e, e) else 0.0
    if c == 0 or not agree(g, c * e, net.dtype):
        return None
    return (f"yours is {c:.3g} times autograd's, where the layers above are right: a factor in layer {layer + 1}'s "
            "dz = da * f'(z) (its derivative's sign or scale), or in the gradient passed back to it")


def bias_hint(g, e, batch, net):
    r"""The hint for a bias gradient ``g`` of another size or shape than autograd's ``e``, averaged, or summed into
    every element; else None. In deeplearning.ai's layout the examples are columns, summed over axis 1."""
    dtype = net.dtype
    summed = ("db = dz.sum(axis=1, keepdims=True)" if net.columns else "db = dz.sum(axis=0, keepdims=True)"
              if e.ndim == 2 else "db = dz.sum(axis=0)")
    if np.size(g) == e.size and not fits(g, e.shape):
        kept = np.ndim(g) > e.ndim
        return (f"db {'keeps the batch axis (keepdims=True)' if kept else 'lost its axis of 1'}: the bias has shape "
                f"{e.shape} and b -= lr * db cannot write db's {np.shape(g)} into it; {summed}")
    if np.size(g) != e.size:
        # by size; for a bias of one unit, a gradient not summed has the batch's size too: that name is kept
        return {batch: f"db summed over the units, not the examples: {summed}",
                1: f"db = dz.sum() adds up every axis, the units too: {summed}",
                batch * e.size: f"the bias gradient is not summed over the batch: {summed}"}.get(np.size(g))
    if agree(g, e / batch, dtype):
        return f"db averaged over the batch, a mean where a sum is due: the bias gradient is {summed}"
    if e.size > 1 and agree(g, np.full(e.shape, e.sum()), dtype):
        return f"every element of db holds dz.sum(), which adds up every axis, the units too: {summed}"
    return None


def candidates(net, layer, weight):
    r"""``(mistake, where, hint)`` of every mistake ``reference`` can make at ``layer``, tried in this order."""
    in_a = f"{activation('tanh')[1]} for tanh, {activation('sigmoid')[1]} for sigmoid"
    found = [("at z", layer, f"the activation's derivative taken at z, where its formula is in a: {in_a}"),
             ("at a", layer, f"the activation's derivative taken at a = f(z), where its formula in a is "
                             f"due: {in_a}, with a = f(z) from the forward pass")]
    found += [("input", (layer, j), f"dW from the input of layer {j + 1}, not of its own layer {layer + 1}: "
                                     "dL/dW = dz^T x with this layer's x")
              for j in range(len(net.sizes) - 1) if j != layer]
    due = {"reg": "2 reg W", "half": "reg W", "per example": "(lambd / m) W"}[net.form]
    if net.l2 and weight:
        found += [("no l2", layer, f"the L2 term's gradient is missing: dW += {due}"),
                  ("l2 half", layer, f"the L2 term's gradient is half what the term gives: dW += {due}"),
                  ("l2 double", layer, f"the L2 term's gradient is twice what the term gives: dW += {due}")]
        found += [("l2 times m", layer, "the L2 term's gradient is not divided by m: dW += (lambd / m) W")] * (
            net.form == "per example")
    if net.l2 and not weight:
        found.append(("l2 biases", layer, "the L2 term's gradient is added to the biases too: reg sum(W^2) is on the "
                                          "weights only"))
    if layer + 1 < len(net.activations):              # what the layer above passed back to this one
        found += [("W^T", layer + 1, f"the gradient passed back through layer {layer + 2} with W^T: dL/dx = dz W for "
                                     "(out, in) weights, dz W^T for (in, out)"),
                  ("from da", layer + 1, f"the gradient passed back from dL/da of layer {layer + 2}, before its "
                                         "activation's derivative: dL/dx = dz W with dz = dL/da f'(z)")]
    name = net.activations[layer]
    return found + [(derivative, layer, f"layer {layer + 1}'s {name} derivative {what}: dL/dz = {activation(name)[1]}")
                    for what, derivative in (*WRONG_DERIVATIVES.get(name, ()), LEFT_OUT)]
