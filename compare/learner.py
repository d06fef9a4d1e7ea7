r"""Your model, read: ``load`` builds it from ``FILE.py:NAME``, ``Learner`` puts it behind one interface
(its parameters in layer order, written into in place, and one forward-backward pass), ``layers_of`` reads
the layers its parameters chain into. ``compare.check`` checks what it gives.
"""
import errno
import importlib
import importlib.util
import os
import re
import sys

import numpy as np

from .core.lockstep import short_repr


def load(spec):
    r"""``NAME()`` from ``FILE.py:NAME`` or ``MODULE:NAME``; ``ValueError`` (one line) if it cannot be had."""
    where, _, name = spec.rpartition(":")
    if not where or not name:
        raise ValueError(f"{spec}: give FILE.py:NAME or MODULE:NAME")
    module = imported(where, name)
    if not hasattr(module, name):
        raise ValueError(f"{where} defines no {name}() to build the model")
    if not callable(getattr(module, name)):
        raise ValueError(f"{where}: {name} is not callable ({type(getattr(module, name)).__name__}); {name}() must "
                         "build the model")
    try:
        return getattr(module, name)()
    except (Exception, SystemExit) as exc:
        raise ValueError(f"{spec}: {name}() raised {type(exc).__name__}: {exc}") from None


def imported(where, name):
    r"""The module ``where`` (a file, run as ``python FILE`` would find its imports, or a module name)."""
    if os.path.isdir(where):
        raise ValueError(f"{where}: {os.strerror(errno.EISDIR)}; give FILE.py:NAME")
    try:
        if not (where.endswith(".py") or os.sep in where):
            return importlib.import_module(where)
        module_spec = importlib.util.spec_from_file_location(f"checked_{os.path.basename(where)[:-3]}", where)
        module = importlib.util.module_from_spec(module_spec)
        sys.path.insert(0, os.path.dirname(os.path.abspath(where)))   # its own imports, as python FILE runs it
        try:
            module_spec.loader.exec_module(module)
        finally:
            sys.path.pop(0)
        return module
    except OSError as exc:
        raise ValueError(f"{where}: {exc.strerror}") from None
    except SystemExit as exc:                      # the file's own script code, run on import
        raise ValueError(f"{where} called sys.exit({exc.code}) while loading: the checker imports it to call "
                         f"{name}(); put its script code under if __name__ == \"__main__\":") from None
    except Exception as exc:                       # a syntax error, or whatever the file raises
        raise ValueError(f"{where}: {type(exc).__name__} while loading it: {exc}") from None


def held(parameter):
    r"""A module-style parameter's array: its ``.data`` (torch's name), or its ``.value``."""
    return parameter.data if hasattr(parameter, "data") else parameter.value


def numbers(value, what):
    r"""A copy of ``value`` as an array of numbers (floats, integers or booleans): the model may write into its
    own later; ``Uncheckable`` saying that ``what`` is something else (None, a string, a tuple of arrays, ...)."""
    try:
        array = np.array(value)
    except ValueError:                             # arrays of several shapes, as in (A, cache)
        array = np.asarray(None)
    if array.dtype.kind not in "fiub":
        shown = ("None" if value is None else repr(value) if isinstance(value, str) else
                 f"a tuple of {len(value)}" if isinstance(value, tuple) else short_repr(value))
        raise Uncheckable(f"{what} {shown}: it must be an array of numbers")
    return array


def scalar(loss):
    r"""A loss as a Python number, from any array holding one number (a cost of shape (1, 1) included)."""
    value = numbers(loss, "the loss is")
    if value.size != 1:
        raise Uncheckable(f"the loss has shape {value.shape}: it must be one number")
    return float(value.reshape(-1)[0])


class Listed:
    r"""Parameter ``i`` of a model that lists its arrays, ``params()``, and their gradients, ``grads()``."""

    def __init__(self, model, i):
        self.model, self.i = model, i

    @property
    def data(self):
        return self.model.params()[self.i]

    @property
    def grad(self):
        return self.model.grads()[self.i]


def write_into(array, value):
    r"""Write ``value`` into ``array`` in place, in its dtype; False where it is no float array of that shape."""
    if not (isinstance(array, np.ndarray) and array.dtype.kind == "f" and array.shape == value.shape):
        return False
    array[...] = value
    return True


def set_data(parameter, value):
    r"""``parameter``'s array takes ``value``: written into it (views and attributes sharing it see it too), and
    handed to its ``data`` setter where it has one (a setter may keep something computed from it); replaced where
    it cannot be written into."""
    array = held(parameter)
    if not write_into(array, value):
        parameter.data = value.copy()
    elif getattr(getattr(type(parameter), "data", None), "fset", None):
        parameter.data = array


def zero_grad(parameter):
    r"""``parameter.grad`` zeroed in place, as ``optimizer.zero_grad(set_to_none=False)`` zeroes it: an array the
    model also keeps (``.grad`` sharing it, a property over it) is zeroed too; nothing before a first backward."""
    grad = getattr(parameter, "grad", None)
    if isinstance(grad, np.ndarray):
        grad[...] = 0


class Uncheckable(ValueError):
    r"""A model whose answer cannot be compared (a gradient missing): one error line, not a verdict."""


class Learner:
    r"""Your model behind one interface: its parameters in order, set them, and one forward-backward pass."""

    def __init__(self, model, criterion=None):
        self.model, self.criterion = model, criterion
        if isinstance(model, type):
            raise ValueError(f"{model.__name__} is a class: pass the model it builds, {model.__name__}()")
        self.columns = False             # deeplearning.ai's layout: examples as columns, set by check
        # who zeroes the gradients before each call (zero_grads): the model, an optimizer's zero_grad, or nobody
        self.zeroing = ("your zero_grad()" if callable(getattr(model, "zero_grad", None)) else
                        "zero_grad's" if callable(getattr(model, "named_parameters", None)) else None)
        self.store = next((store for store in (getattr(model, "params", None), getattr(model, "parameters", None))
                           if isinstance(store, dict)), None)         # cs231n's params, deeplearning.ai's parameters
        if self.store is not None and callable(getattr(model, "loss", None)):
            self.style, self.names = "cs231n", in_layer_order(self.store)
        elif all(callable(getattr(model, method, None)) for method in ("forward", "backward")) and (
                callable(getattr(model, "named_parameters", None)) or callable(getattr(model, "grads", None))):
            self.style, self.names = "module", [name for name, _ in self.parameters()]
        else:
            raise ValueError(f"{type(model).__name__} is neither module style (forward, backward, and named_parameters "
                             "or params() and grads()) nor cs231n style (a dict params, or parameters, and loss(X, y))")

    def parameters(self):
        r"""``[(name, parameter)]`` of a module-style model: ``named_parameters()``'s pairs or dict, or ``params()``
        and ``grads()`` lists (as ``Listed``)."""
        if not callable(getattr(self.model, "named_parameters", None)):
            return [(f"params()[{i}]", Listed(self.model, i)) for i in range(len(self.model.params()))]
        named = self.model.named_parameters()
        pairs = list(named.items() if isinstance(named, dict) else named)
        if not all(isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str) for pair in pairs):
            raise ValueError(f"named_parameters() gave {short_repr(pairs)}: it must give (name, parameter) pairs, as "
                             "torch's does, or a dict of them")
        if any(isinstance(p, np.ndarray) for _, p in pairs):
            raise ValueError("named_parameters() gave numpy arrays: give objects holding each array as .data (or "
                             ".value) and its gradient as .grad, or give params() and grads(), two lists of arrays")
        return pairs

    def gradients_held(self):
        return [np.array(p.grad, np.float64) for _, p in self.parameters()]

    def arrays(self):
        if self.style == "cs231n":
            return [numbers(self.store[name], f"params[{name!r}] is") for name in self.names]
        return [numbers(held(p), f"{name}'s array is") for name, p in self.parameters()]

    def set(self, arrays):
        r"""Your arrays take these values, written into them (so that views and attributes sharing them see
        the values too), in their own dtype; an array of another shape or none is replaced. Then the gradients
        are zeroed as a training loop zeroes them (``zero_grads``)."""
        if self.style == "cs231n":
            for name, value in zip(self.names, arrays, strict=True):
                if not write_into(self.store[name], value):
                    self.store[name] = value.copy()
            return
        for (_, p), value in zip(self.parameters(), arrays, strict=True):
            set_data(p, value)
        self.zero_grads()

    def zero_grads(self):
        r"""Zero the gradients before a call as a training loop does: with your model's own ``zero_grad()`` where
        it has one; else each parameter's ``.grad`` in place (``zero_grad``). The arrays ``grads()`` hands out are
        the model's own: only its ``zero_grad()`` zeroes them."""
        if self.zeroing == "your zero_grad()":
            self.model.zero_grad()
        elif self.zeroing == "zero_grad's":
            for _, p in self.parameters():
                zero_grad(p)

    def gradients(self, X, y, dy_pred):
        r"""Your ``(y_pred or None, loss or None, [gradient per parameter], dL/dy_pred or None)`` for the batch:
        the cs231n style computes its own loss; the module style is given autograd's ``dL/dy_pred``, or
        takes its own from ``criterion`` (called as ``criterion(y_pred, y)``, then ``criterion.backward()``).
        In deeplearning.ai's layout your model is given the examples as columns, and its outputs read back."""
        if not self.columns:
            return self.step(X, y, dy_pred)
        y_pred, loss, grads, dy = self.step(X.T, y.T, dy_pred.T)
        return None if y_pred is None else y_pred.T, loss, grads, None if dy is None else dy.T

    def step(self, X, y, dy_pred):
        if self.style == "cs231n":
            return self.cs231n_step(X, y)
        y_pred = numbers(self.model.forward(X), "forward(X) returned")
        loss = None
        if self.criterion is not None:
            loss = scalar(self.criterion(y_pred, y))
            dy_pred = numbers(self.criterion.backward(), "your criterion's backward() returned")
        elif y_pred.shape != dy_pred.shape and y_pred.size == dy_pred.size:
            dy_pred = dy_pred.reshape(y_pred.shape)                   # outputs of shape (B,): dL/dy_pred too
        self.model.backward(dy_pred)
        grads = [numbers(p.grad, f"after backward, {name}'s .grad is") for name, p in self.parameters()]
        return y_pred, loss, grads, dy_pred if loss is not None else None

    def cs231n_step(self, X, y):
        try:
            scores = self.model.loss(X)
        except Exception:                          # loss(X) alone is optional
            scores = None
        scores = None if scores is None else np.asarray(scores)
        returned = None
        if scores is not None and scores.ndim == 1 and y.shape == (len(scores), 1):
            try:
                returned = self.model.loss(X, y.reshape(-1))   # outputs of shape (B,): labels of that shape first
            except Exception:                                  # else the labels as they are
                returned = None
        returned = self.model.loss(X, y) if returned is None else returned
        if not (isinstance(returned, tuple) and len(returned) == 2 and isinstance(returned[1], dict)):
            raise Uncheckable(f"loss(X, y) returned {short_repr(returned)}: it must return (loss, grads), grads a "
                              f"dict keyed as params ({', '.join(self.names)})")
        loss, grads = returned
        keys = {name: name if name in grads else f"d{name}" for name in self.names}     # deeplearning.ai's dW1
        missing = [name for name, key in keys.items() if key not in grads]
        if missing:
            raise Uncheckable(f"loss(X, y) returned no gradient for {', '.join(missing)}: grads is keyed as params "
                              f"is, or dW1, db1, ...; it gave {', '.join(map(str, grads))}")
        return scores, scalar(loss), [numbers(grads[key], f"the gradient {key} is") for key in keys.values()], None


def in_layer_order(store):
    r"""The names of a dict of parameters, weight then bias layer by layer: by the number ending each name where
    every name has one (``W1, W2, b1, b2`` -> ``W1, b1, W2, b2``; a bias's name starts with b), else as given."""
    numbers = {name: re.search(r"(\d+)$", name) for name in store}
    if not all(numbers.values()):
        return list(store)
    return sorted(store, key=lambda name: (int(numbers[name].group(1)), name.lower().startswith("b")))


def bias_size(b):
    r"""Units of a bias of shape ``(n,)``, ``(1, n)`` (a row) or ``(n, 1)`` (a column); None for another shape."""
    shape = np.shape(b)
    return shape[0] if len(shape) == 1 else max(shape) if len(shape) == 2 and 1 in shape else None


def layers_of(learner, in_features):
    r"""``{transposed: sizes}`` of each reading of the weights under which the parameters chain as layers
    (``transposed``: ``(in, out)`` weights); both for square weights; ``ValueError`` saying why none."""
    arrays = learner.arrays()
    if not arrays:
        raise ValueError("the model has no parameters to check: its named_parameters(), params() or params dict is "
                         "empty")
    if len(arrays) % 2 or any(np.ndim(w) != 2 or bias_size(b) is None
                              for w, b in zip(arrays[0::2], arrays[1::2], strict=True)):
        shapes = ", ".join(f"{name} {np.shape(a)}" for name, a in zip(learner.names, arrays, strict=True))
        raise ValueError(f"the parameters do not form a chain of layers: expected (weight, bias) pairs, 2-D then "
                         f"(n,), (1, n) or (n, 1), in order, got {shapes}")
    pairs = list(zip(arrays[0::2], arrays[1::2], strict=True))
    fits = {}
    for transposed in (False, True):
        sizes = [in_features]
        for W, b in pairs:
            n_out, n_in = W.shape[::-1] if transposed else W.shape
            if n_in != sizes[-1] or n_out != bias_size(b) or (np.shape(b)[-1] == 1 < n_out and transposed):
                break
            sizes.append(n_out)
        else:
            fits[transposed] = sizes
    if not fits:
        raise ValueError(f"the parameters do not form a chain of layers from {in_features} inputs: "
                         + ", ".join(f"{name} {np.shape(a)}" for name, a in zip(learner.names, arrays, strict=True)))
    return fits
