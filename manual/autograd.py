r"""A reverse-mode autograd engine in NumPy: what ``loss.backward()`` does under torch, in one file.

Every operation on a ``Tensor`` that requires grad records a **node** (``TanhBackward0``,
``AddmmBackward0``, ... named as torch names them) holding what its vector-Jacobian product (VJP)
needs, and linked to the nodes of its inputs by ``next_functions``: the graph. ``backward()`` walks
that graph from the loss in reverse topological order, hands each node the gradient of its output,
and passes on the VJP's result along each edge; at a leaf, ``AccumulateGrad`` adds it to ``.grad``.
After the walk the saved values are freed unless ``retain_graph=True``; a value changed in place
after it was saved is caught by its version counter; with ``create_graph=True`` the VJPs, written
with the same operations, are recorded in turn, so a gradient can itself be differentiated.

docs/autograd.md walks one step of the article's network through this file beside torch.
"""
import contextlib

import numpy as np

GRAD_ENABLED = [True]     # torch.is_grad_enabled(); no_grad() and a backward without create_graph clear it


@contextlib.contextmanager
def set_grad_enabled(mode):
    r"""Record operations (``mode=True``) or not, inside the ``with`` block."""
    before, GRAD_ENABLED[0] = GRAD_ENABLED[0], mode
    try:
        yield
    finally:
        GRAD_ENABLED[0] = before


def no_grad():
    r"""``with no_grad():`` runs operations without recording them, as ``torch.no_grad()``."""
    return set_grad_enabled(False)


class Tensor:
    r"""An array with what autograd needs: ``requires_grad``, ``grad``, ``grad_fn`` and a version counter.

    A **leaf** is a tensor no recorded operation made (``grad_fn`` is None): the parameters and the
    inputs. ``backward()`` fills a leaf's ``grad`` if it requires grad; an intermediate's only after
    ``retain_grad()``.
    """

    __array_priority__ = 1000         # np.float64(2) * x: NumPy leaves the product to the Tensor, as to torch's

    def __init__(self, data, requires_grad=False):
        self.array = np.array(data)   # its own copy, as torch.tensor(data) makes
        if requires_grad and not np.issubdtype(self.array.dtype, np.inexact):    # integers: no gradient
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        self.requires_grad = requires_grad
        self.grad = None
        self.grad_fn = None           # the node that made this tensor; None for a leaf
        self.versions = [0]           # torch's _version, shared with the views of the same data (detach, t)
        self.base = None              # the tensor a view (t()) shows
        self.viewed = False           # whether a view of this tensor was taken
        self.accumulator = None       # a leaf's AccumulateGrad node, made once

    @property
    def data(self):
        return self.array

    @data.setter
    def data(self, value):
        r"""``p.data -= step``, manual's optimizers' update, counts as a change in place, as torch's optimizers'
        ``p.add_(step)`` under no_grad does: a graph that saved ``p`` before the step refuses to use it."""
        self.array = np.asarray(value)
        self.versions[0] += 1

    @property
    def version(self):
        return self.versions[0]

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def __array__(self, dtype=None, copy=None):
        r"""``np.tanh(x)``, ``np.asarray(x)``: the data, as ``numpy()``, refused where it would cut the graph."""
        data = self.numpy()
        return data if dtype is None else data.astype(dtype)

    def __repr__(self):
        r"""As torch prints a tensor: ``tensor([4., 8.], grad_fn=<MulBackward0>)``, rows under rows."""
        data = np.array2string(self.data, separator=", ", prefix="tensor(")
        grad_fn = f", grad_fn=<{type(self.grad_fn).__name__}>" if self.grad_fn else ""
        return f"tensor({data}{grad_fn}{', requires_grad=True' if self.is_leaf and self.requires_grad else ''})"

    def numpy(self):
        r"""The data as an array; refused, as torch refuses it, where a gradient would be lost through it."""
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self.data

    def item(self):
        if self.data.size != 1:
            raise RuntimeError(f"a Tensor with {self.data.size} elements cannot be converted to Scalar")
        return self.data.item()

    def detach(self):
        r"""The same data, cut from the graph: no ``grad_fn``, no gradient flows through it."""
        view = holding(self.array)
        view.versions = self.versions
        return view

    def retain_grad(self):
        r"""Keep this intermediate's gradient in ``.grad``, added up as a leaf's (a leaf's is kept anyway); it
        sees the gradient after the tensor's other hooks, whenever they were registered, as torch's does."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")

        def keep(grad):                    # a new tensor each time, as torch keeps an intermediate's
            grad = grad if GRAD_ENABLED[0] else grad.detach()
            self.grad = grad + 0 if self.grad is None else self.grad + grad
        keep.retains = self                # an in-place change moves it to the new grad_fn, as torch's
        if not (self.is_leaf or any(getattr(hook, "retains", None) is self for hook in node(self).pre_hooks.values())):
            self.register_hook(keep)           # once: a second retain_grad() changes nothing

    def register_hook(self, hook):
        r"""Call ``hook(grad)`` with this tensor's gradient when ``backward()`` reaches it; a hook that
        returns a tensor replaces the gradient passed on. It runs before the node that made the tensor
        (or the leaf's ``AccumulateGrad``), as torch's does."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        handle = Handle(node(self).pre_hooks)
        node(self).pre_hooks[handle] = hook
        return handle

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        backward(self, gradient, retain_graph, create_graph)

    # The operations; each records its node (below) when an input requires grad.
    def __add__(self, other):
        return AddBackward0.apply(self, tensor(other, self.dtype))

    def __radd__(self, other):
        return AddBackward0.apply(tensor(other, self.dtype), self)

    def __sub__(self, other):
        return SubBackward0.apply(self, tensor(other, self.dtype))

    def __rsub__(self, other):
        return RsubBackward1.apply(self, tensor(other, self.dtype))

    def __mul__(self, other):
        return MulBackward0.apply(self, tensor(other, self.dtype))

    def __rmul__(self, other):
        return MulBackward0.apply(tensor(other, self.dtype), self)

    def __neg__(self):
        return NegBackward0.apply(self)

    def __truediv__(self, number):
        return DivBackward0.apply(self, number=float(number))     # a tensor divisor is not there

    def mm(self, other):
        if self.data.ndim != 2 or other.data.ndim != 2:
            raise RuntimeError(f"{'self' if self.data.ndim != 2 else 'mat2'} must be a matrix")
        if self.dtype != other.dtype:                   # float64 data into float32 weights: refused, not promoted
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {torch_name(self).lower()} != "
                               f"{torch_name(other).lower()}")
        return MmBackward0.apply(self, other)

    def t(self):
        r"""The transpose, a view of this tensor: the same data and version counter, as torch's."""
        if self.data.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.data.ndim}D")
        view = TBackward0.apply(self)                  # a.data.T: NumPy's view of the same array
        view.versions, view.base = self.versions, self.base or self
        view.base.viewed = True
        return view

    def sum(self, axis=None, keepdims=False):
        axis = tuple(range(self.data.ndim)) if axis == () else axis    # torch's sum(()) sums every axis, NumPy's none
        if axis is None and not keepdims:
            return SumBackward0.apply(self)
        return SumBackward1.apply(self, axis=axis, keepdims=keepdims)

    def mean(self):
        return MeanBackward0.apply(self)

    def tanh(self):
        return TanhBackward0.apply(self)

    def sigmoid(self):
        return SigmoidBackward0.apply(self)

    def relu(self):
        return ReluBackward0.apply(self)

    def abs(self):
        return AbsBackward0.apply(self)

    def add_(self, other):
        return self.in_place(Tensor.__add__, other)

    def sub_(self, other):
        return self.in_place(Tensor.__sub__, other)

    def mul_(self, other):
        return self.in_place(Tensor.__mul__, other)

    __iadd__, __isub__, __imul__ = add_, sub_, mul_

    def zero_(self):
        r"""Fill with zeros in place, as a hand-written loop clears ``w.grad.zero_()``."""
        return self.in_place(lambda before, _: ZeroBackward0.apply(before), None)

    def requires_grad_(self, requires_grad=True):
        r"""Start (or stop) recording what is done with this leaf, in place: ``w = Tensor(data).requires_grad_()``."""
        if not (self.is_leaf or requires_grad):
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        if requires_grad and not np.issubdtype(self.dtype, np.inexact):
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self.requires_grad = requires_grad or not self.is_leaf
        return self

    def in_place(self, operation, other):
        r"""``self = operation(self, other)`` in the same array: the version goes up, so a node that saved
        this tensor refuses to use it, and, if recording, the result's node takes the place of its ``grad_fn``."""
        before = Tensor(self.data.copy(), self.requires_grad)     # the value the new node differentiates at
        before.grad_fn = self.grad_fn
        result = operation(before, other)
        refuse_in_place(self, result)
        self.array[...] = result.data
        self.versions[0] += 1
        if GRAD_ENABLED[0]:           # under no_grad (an optimizer's update) the tensor keeps its place in the graph
            old, self.grad_fn, self.requires_grad = self.grad_fn, result.grad_fn, result.requires_grad
            kept = [handle for handle, hook in getattr(old, "pre_hooks", {}).items()
                    if getattr(hook, "retains", None) is self]
            for handle in kept:       # retain_grad keeps the tensor's gradient as it is now; other hooks stay
                self.grad_fn.pre_hooks[handle] = old.pre_hooks.pop(handle)
        return self


def refuse_in_place(t, result):
    r"""torch's refusals of changing ``t`` in place to ``result``; and the engine's own where torch would rebuild a
    view's graph (``CopySlices``), which this engine cannot: a recorded change of a view or of a tensor that has one."""
    root = t.base or t
    if GRAD_ENABLED[0] and t.is_leaf and t.requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    if GRAD_ENABLED[0] and t.base is not None and root.is_leaf and root.requires_grad:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    if GRAD_ENABLED[0] and result.requires_grad and (t.base is not None or root.viewed):
        raise RuntimeError("an in-place change recorded on a view (t()), or on a tensor that has one: this engine "
                           "cannot rebuild the other's graph as torch does (CopySlices); change a copy, or take the "
                           "view after")
    if not np.can_cast(result.dtype, t.dtype, "same_kind"):
        raise RuntimeError(f"result type {torch_name(result)} can't be cast to the desired output type {torch_name(t)}")


def holding(array):
    r"""A Tensor around ``array`` itself, not a copy: an operation's result, or a view (``t()``, ``detach()``)."""
    t = Tensor(())
    t.array = np.asarray(array)
    return t


def tensor(value, dtype=None):
    r"""``value`` as a Tensor: a Tensor as it is, an array as a constant, a Python number as a constant of ``dtype``
    or, where ``dtype`` cannot hold it (0.5 beside integers), of the type both promote to, as torch types it."""
    if isinstance(value, Tensor):
        return value
    value = value.item() if isinstance(value, np.generic) else value        # np.float64(2): a number, as for torch
    return Tensor(np.asarray(value, dtype=np.result_type(dtype, value) if isinstance(value, int | float) else None))


def addmm(bias, mat1, mat2):
    r"""``bias + mat1 @ mat2``: what ``nn.Linear`` computes, ``addmm(b, x, W.t())``; all three of one dtype, as torch
    requires (float64 data into a float32 layer is refused, not computed in float64)."""
    for name, t in (("self", bias), ("mat1", mat1)):
        if t.dtype != mat2.dtype:
            raise RuntimeError(f"{name} and mat2 must have the same dtype, but got {torch_name(t)} and "
                               f"{torch_name(mat2)}")
    return AddmmBackward0.apply(bias, mat1, mat2)


def node(t):
    r"""The node a gradient for ``t`` goes to: the one that made it, or its leaf's ``AccumulateGrad``."""
    if t.grad_fn is not None:
        return t.grad_fn
    if t.accumulator is None:
        t.accumulator = AccumulateGrad(t)
    return t.accumulator


def edge(t):
    r"""Where a gradient for the input ``t`` goes: ``(node, 0)``, or ``(None, 0)`` if ``t`` needs none."""
    return (node(t) if t.requires_grad else None, 0)


class Node:
    r"""One recorded operation. A subclass writes ``forward`` (NumPy, saving what it needs with ``save``)
    and ``vjp``: given dL/d(output), the gradient for each input, written with Tensor operations so
    that ``create_graph=True`` records it."""
    saves_result = False      # True: the VJP needs the output (tanh, sigmoid, relu), saved once it exists

    def __init__(self, **options):
        self.options = options
        self.saved = []       # (tensor, its version when saved, whether it is the result); None once freed
        self.pre_hooks = {}   # the hooks of the tensor this node made, by their handles, in the order registered
        self.next_functions = ()
        self.dtypes = ()      # its inputs' dtypes: the gradient sent back to each is cast to it, as torch casts

    @classmethod
    def apply(cls, *inputs, **options):
        r"""Run the operation on ``inputs`` (Tensors) and, if one requires grad, record it."""
        self = cls(**options)
        result = holding(self.forward(*inputs, **options))
        if GRAD_ENABLED[0] and any(t.requires_grad for t in inputs):
            self.next_functions = tuple(edge(t) for t in inputs)
            self.dtypes = tuple(t.dtype for t in inputs)
            result.grad_fn, result.requires_grad = self, True
            if cls.saves_result:
                self.save(result, output=True)
        return result

    def save(self, *tensors, output=False):
        r"""``ctx.save_for_backward``: keep tensors for the VJP, with their versions now (None holds the place
        of a value no gradient needs). ``output``: the tensors are this node's result, not its inputs."""
        self.saved += [(t, None if t is None else t.version, output) for t in tensors]

    def save_crossed(self, a, b):
        r"""For a product of ``a`` and ``b``: the gradient for ``a`` needs ``b`` and the one for ``b`` needs ``a``;
        each is saved only if the other input needs a gradient, as torch saves (``x * 2`` keeps no ``x``)."""
        self.save(b if a.requires_grad else None, a if b.requires_grad else None)

    def saved_tensors(self):
        r"""The saved tensors, refused as torch refuses them: freed by an earlier backward, or changed in place."""
        if self.saved is None:
            raise RuntimeError("Trying to backward through the graph a second time (or directly access saved "
                               "tensors after they have already been freed). Saved intermediate values of the "
                               "graph are freed when you call .backward() or autograd.grad(). Specify "
                               "retain_graph=True if you need to backward through the graph a second time or if "
                               "you need to access saved tensors after calling backward.")
        for t, version, output in self.saved:
            if t is not None and t.version != version:
                raise RuntimeError(modified(t, version, self if output else t.grad_fn))
        return [t for t, _, _ in self.saved]

    def name(self):
        return type(self).__name__

    def release(self):
        if self.saved:        # a node that saved nothing can run again, as in torch
            self.saved = None


TORCH_TYPES = {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor"}
TORCH_NAMES = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int", "bool": "Bool"}


def torch_name(t):
    r"""The name torch's messages give ``t``'s dtype: ``Float``, ``Double``, ``Long``, ..."""
    return TORCH_NAMES.get(t.dtype.name, t.dtype.name)


def modified(t, version, made_by):
    r"""torch's message, word for word, for a saved tensor ``t`` changed in place since ``version``. It names the
    node ``t`` is an output of, without ``Backward0``: for a saved result, the node that saved it (``Tanh``);
    for a saved input, ``t.grad_fn`` now, the in-place operation's node (``Mul`` after ``t.mul_(2)``)."""
    kind = TORCH_TYPES.get(t.dtype.name, t.dtype.name)
    output_of = f", which is output 0 of {made_by.name().replace('Backward', '').removesuffix('0')}," if made_by else ""
    return ("one of the variables needed for gradient computation has been modified by an inplace operation: "
            f"[{kind} {list(t.shape)}]{output_of} is at version {t.version}; expected version {version} instead.")


def sum_to(grad, shape):
    r"""Undo broadcasting: sum ``grad`` over the axes along which an input of ``shape`` was broadcast."""
    extra = grad.data.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=ones, keepdims=True) if ones else grad


class AccumulateGrad(Node):
    r"""The node of a leaf: adds the gradient that reaches it to ``leaf.grad`` (torch's accumulation)."""

    def __init__(self, leaf):
        super().__init__()
        self.variable = leaf          # torch's name for the leaf

    def vjp(self, grad):
        self.variable.grad = accumulated(self.variable.grad, grad)
        return ()


def accumulated(held, grad):
    r"""A ``.grad`` after ``grad`` (in the leaf's dtype: ``run`` casts what each node sends) reaches it: the first
    gradient as a copy of its own (so that nothing else shares it), the next ones added in place, to the very
    ``.grad`` you may hold, as torch adds; under ``create_graph``, a recorded sum."""
    if GRAD_ENABLED[0]:
        return grad + 0 if held is None else held + grad          # + 0: a recorded copy (torch's CopyBackwards)
    if held is None:
        return Tensor(grad.data)
    held.data[...] += grad.data
    held.versions[0] += 1                                           # a graph that saved this .grad refuses it now
    return held


class Handle:
    r"""What ``register_hook`` returns: ``handle.remove()`` takes off the hook it registered, and only that one."""

    def __init__(self, hooks):
        self.hooks = hooks

    def remove(self):
        self.hooks.pop(self, None)


class AddBackward0(Node):
    r"""``a + b`` (broadcast); d/da = d/db = 1."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a.data + b.data

    def vjp(self, grad):
        return tuple(sum_to(grad, shape) for shape in self.shapes)


class SubBackward0(Node):
    r"""``a - b`` (broadcast); d/da = 1, d/db = -1."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a.data - b.data

    def vjp(self, grad):
        return sum_to(grad, self.shapes[0]), sum_to(-grad, self.shapes[1])


class RsubBackward1(SubBackward0):
    r"""``other - a``, where ``other`` is not a Tensor (``1 - a``): torch's reversed subtraction, a ``SubBackward0``
    with its inputs the other way round."""

    def forward(self, a, other):
        return super().forward(other, a)

    def vjp(self, grad):
        return super().vjp(grad)[::-1]


class ZeroBackward0(Node):
    r"""``a.zero_()``; the result no longer depends on ``a``: d/da = 0."""

    def forward(self, a):
        return np.zeros_like(a.data)

    def vjp(self, grad):
        return (grad * 0,)


def cast(t, dtype):
    r"""``t`` in ``dtype``: ``t`` itself where it is, else ``t.to(dtype)``, recorded as torch records it."""
    return t if t.dtype == dtype else ToCopyBackward0.apply(t, dtype=dtype)


class ToCopyBackward0(Node):
    r"""``a.to(dtype)``: the same numbers in another dtype; the gradient goes back in ``a``'s."""

    def forward(self, a, dtype):
        return a.data.astype(dtype)

    def vjp(self, grad):
        return (cast(grad, self.dtypes[0]),)


class NegBackward0(Node):
    r"""``-a``; d/da = -1."""

    def forward(self, a):
        return -a.data

    def vjp(self, grad):
        return (-grad,)


class DivBackward0(Node):
    r"""``a / number``; d/da = 1 / number (saved, as torch saves the divisor)."""

    def forward(self, a, number):
        self.save(Tensor(number))
        return a.data / number

    def vjp(self, grad):
        number, = self.saved_tensors()
        return (grad / number.item(),)


class MulBackward0(Node):
    r"""``a * b`` (broadcast); d/da = b, d/db = a."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        self.save_crossed(a, b)
        return a.data * b.data

    def vjp(self, grad):
        b, a = self.saved_tensors()                 # None where that input needs no gradient
        return (None if b is None else sum_to(grad * b, self.shapes[0]),
                None if a is None else sum_to(grad * a, self.shapes[1]))


class MmBackward0(Node):
    r"""``a @ b``, matrices; dL/da = g b^T, dL/db = a^T g."""

    def forward(self, a, b):
        self.save_crossed(a, b)
        return a.data @ b.data

    def vjp(self, grad):
        b, a = self.saved_tensors()
        return None if b is None else grad.mm(b.t()), None if a is None else a.t().mm(grad)


class AddmmBackward0(Node):
    r"""``bias + x @ w``, a linear layer's ``z = x W^T + b`` with ``w = W^T``: db = sum_B g, dx = g w^T, dw = x^T g."""

    def forward(self, bias, x, w):
        self.save_crossed(x, w)                     # the first layer's x needs no gradient: its w is not kept
        self.bias_shape = bias.shape
        return bias.data + x.data @ w.data

    def vjp(self, grad):
        w, x = self.saved_tensors()
        return (sum_to(grad, self.bias_shape), None if w is None else grad.mm(w.t()),
                None if x is None else x.t().mm(grad))


class TBackward0(Node):
    r"""``a.t()``, the transpose; its VJP transposes the gradient back."""

    def forward(self, a):
        return a.data.T

    def vjp(self, grad):
        return (grad.t(),)


class ReshapeBackward0(Node):
    r"""``a`` in another shape (for ``SumBackward1``'s VJP); the gradient goes back to ``a``'s shape."""

    def forward(self, a, shape):
        self.before = a.shape
        return a.data.reshape(shape)

    def vjp(self, grad):
        return (ReshapeBackward0.apply(grad, shape=self.before),)


class SumBackward0(Node):
    r"""``a.sum()``, every element; each element's derivative is 1: the gradient is spread over ``a``."""

    def forward(self, a):
        self.shape = a.shape
        return a.data.sum()

    def vjp(self, grad):
        return (grad * np.ones(self.shape, grad.dtype),)


class SumBackward1(SumBackward0):
    r"""``a.sum(axis, keepdims)``, torch's ``sum(dim)``: the gradient gets its summed axes back (as 1s), then is
    spread over ``a``."""

    def forward(self, a, axis, keepdims):
        self.shape = a.shape
        return a.data.sum(axis=axis, keepdims=keepdims)

    def vjp(self, grad):
        if not self.options["keepdims"]:
            grad = ReshapeBackward0.apply(grad, shape=np.expand_dims(grad.data, self.options["axis"]).shape)
        return super().vjp(grad)


class MeanBackward0(Node):
    r"""``a.mean()``: d/da_i = 1 / N for each of the N elements."""

    def forward(self, a):
        self.shape = a.shape
        return a.data.mean()

    def vjp(self, grad):
        return (grad * np.full(self.shape, 1 / np.prod(self.shape), grad.dtype),)


class TanhBackward0(Node):
    r"""``a = tanh(z)``; dz = da (1 - a^2), from the saved result a."""
    saves_result = True

    def forward(self, z):
        return np.tanh(z.data)

    def vjp(self, grad):
        a, = self.saved_tensors()
        return (grad * (1 - a * a),)


class SigmoidBackward0(Node):
    r"""``a = 1 / (1 + exp(-z))``; dz = da a (1 - a), from the saved result a."""
    saves_result = True

    def forward(self, z):
        with np.errstate(over="ignore"):            # exp(-z) = inf gives a = 0, the exact limit
            return 1 / (1 + np.exp(-z.data))

    def vjp(self, grad):
        a, = self.saved_tensors()
        return (grad * (a * (1 - a)),)


class ReluBackward0(Node):
    r"""``a = max(z, 0)``; dz = da [a > 0], a constant mask (0 at z == 0, as torch)."""
    saves_result = True

    def forward(self, z):
        return np.maximum(z.data, 0)

    def vjp(self, grad):
        a, = self.saved_tensors()
        return (grad * (a.data > 0).astype(grad.dtype),)


class AbsBackward0(Node):
    r"""``|a|``; d/da = sign(a), 0 at a == 0 (L1Loss's gradient)."""

    def forward(self, a):
        self.save(a)
        return np.abs(a.data)

    def vjp(self, grad):
        a, = self.saved_tensors()
        return (grad * np.sign(a.data),)


class MseLossBackward0(Node):
    r"""``mean((y_pred - y)^2)``; dL/dy_pred = g 2 (y_pred - y) / N, and its negative for y."""

    def forward(self, y_pred, y):
        self.save(y_pred, y)
        return ((y_pred.data - y.data) ** 2).mean()

    def vjp(self, grad):
        y_pred, y = self.saved_tensors()
        d = grad * (y_pred - y) * (2 / y.data.size)
        return d, -d


class OnceDifferentiable(Node):
    r"""A node whose VJP ``gradient`` is computed in NumPy (``@once_differentiable`` in torch): right for one
    backward, refused under ``create_graph=True``, where its result would be taken for a constant."""

    def vjp(self, grad):
        if GRAD_ENABLED[0]:
            raise RuntimeError(f"{self.name()}: this engine computes its gradient once, in NumPy "
                               "(@once_differentiable); create_graph=True cannot differentiate it again")
        saved = [t.data for t in self.saved_tensors()]
        return Tensor(self.gradient(grad.data, *saved)), None    # nothing for the labels


class BinaryCrossEntropyBackward0(OnceDifferentiable):
    r"""``-mean(y log p + (1 - y) log(1 - p))``, each log clamped at -100 as torch's;
    dL/dp = g (p - y) / max(p (1 - p), 1e-12) / N."""
    EPSILON = float(np.float32(1e-12))     # torch's constant, a C float

    def forward(self, p, y):
        self.save(p, y)
        with np.errstate(divide="ignore"):
            log_p, log_1_p = np.maximum(np.log(p.data), -100), np.maximum(np.log1p(-p.data), -100)
        return -(y.data * log_p + (1 - y.data) * log_1_p).mean()

    def gradient(self, g, p, y):
        return g * (p - y) / np.maximum(p * (1 - p), self.EPSILON) / y.size


class BinaryCrossEntropyWithLogitsBackward0(OnceDifferentiable):
    r"""BCE of ``sigmoid(z)``, fused: ``mean(max(z, 0) - z y + log(1 + exp(-|z|)))``;
    dL/dz = g (sigmoid(z) - y) / N."""

    def forward(self, z, y):
        self.save(z, y)
        z, y = z.data, y.data
        return (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean()

    def gradient(self, g, z, y):
        e = np.exp(-np.abs(z))                      # sigmoid(z) without overflow
        return g * (np.where(z >= 0, 1 / (1 + e), e / (1 + e)) - y) / y.size


class LogSoftmaxBackward0(OnceDifferentiable):
    r"""``log softmax(z)`` along each row (log-sum-exp of ``z - max z``); dz = g - softmax(z) sum_j g_j."""
    saves_result = True

    def forward(self, z):
        shifted = z.data - z.data.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def gradient(self, g, log_softmax):
        return g - np.exp(log_softmax) * g.sum(axis=1, keepdims=True)


class NllLossBackward0(OnceDifferentiable):
    r"""``-mean_n logp[n, y_n]`` of class indices ``target`` (integers: no edge); dL/dlogp = -g onehot(y) / B."""

    def forward(self, logp, target):
        self.save(logp)
        return -logp.data[np.arange(len(target)), target].mean()

    def gradient(self, g, logp):
        target = self.options["target"]
        onehot = np.zeros_like(logp)
        onehot[np.arange(len(target)), target] = 1
        return -g * onehot / len(target)


def topological_order(root):
    r"""Every node reachable from ``root``, each before the nodes its gradient flows to: a depth-first
    search lists a node after all it leads to, and the reverse of that list is the order to run them."""
    order, seen, stack = [], {root}, [(root, iter(root.next_functions))]
    while stack:
        current, edges = stack[-1]
        child = next((n for n, _ in edges if n is not None and n not in seen), None)
        if child is None:
            order.append(current)
            stack.pop()
        else:
            seen.add(child)
            stack.append((child, iter(child.next_functions)))
    return order[::-1]


def first_gradient(root, gradient):
    r"""dL/d(root) to start from: ``gradient``, or 1 for a scalar; torch's refusals where there is none."""
    if not root.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    if gradient is None and root.data.size != 1:
        raise RuntimeError("grad can be implicitly created only for scalar outputs")
    gradient = cast(tensor(np.ones_like(root.data) if gradient is None else gradient), root.dtype)
    if gradient.shape != root.shape:
        raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {gradient.shape} and output[0] has a "
                           f"shape of {root.shape}.")
    return gradient


def run(current, grad, execute=True):
    r"""One node's turn: its hooks see (and may replace) the gradient of its output, ``retain_grad``'s last, then
    its VJP gives one gradient per edge; an input that needs no gradient gets None, as torch computes none for it.
    Without ``execute`` (a node of ``grad()``'s inputs, past which no other input lies) no VJP runs."""
    for hook in sorted(current.pre_hooks.values(), key=lambda hook: hasattr(hook, "retains")):
        grad = hooked(hook, grad)
    if not execute:
        return grad, []
    sent = current.vjp(grad)
    return grad, [cast(g, dtype) if target is not None else None
                  for (target, _), g, dtype in zip(current.next_functions, sent, current.dtypes, strict=False)]


def hooked(hook, grad):
    r"""The gradient ``hook(grad)`` passes on: its own, or ``grad`` where it returns None; refused, as torch refuses
    it, where it is no Tensor, or of another size or dtype than ``grad``."""
    replaced = hook(grad)
    if replaced is None:
        return grad
    if not isinstance(replaced, Tensor):
        raise TypeError(f"expected Tensor, but hook returned '{type(replaced).__name__}'")
    name = getattr(hook, "__name__", hook)
    if replaced.shape != grad.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value")
    if replaced.dtype != grad.dtype:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was {TORCH_TYPES[grad.dtype.name]} got "
                           f"{TORCH_TYPES[replaced.dtype.name]})")
    return replaced


def backward(root, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    r"""``root.backward(gradient)``: run every node's VJP from ``root`` back to the leaves, adding up the
    gradients that reach a node along several edges; ``AccumulateGrad`` adds what reaches a leaf to its
    ``.grad``. Without ``retain_graph`` (it defaults to ``create_graph``) the saved values are freed as
    each node is done; with ``create_graph`` the VJPs are recorded. With ``inputs`` (``grad()``'s nodes) only
    the part of the graph between ``root`` and them runs, and no ``.grad`` is touched. Returns each node's
    incoming gradient and what it sent along its edges, ``{node: (grad, sent)}``: what compare/graph.py holds
    beside torch's."""
    retain_graph = create_graph if retain_graph is None else retain_graph
    start = node(root)
    order = topological_order(start)
    needed = set(order) if inputs is None else on_the_way(order, inputs)
    grads, flows = {start: first_gradient(root, gradient)}, {}
    with set_grad_enabled(create_graph):
        for current in order:
            if current not in grads or current not in needed:     # no gradient reached it (labels), or none is asked
                continue
            execute = inputs is None or any(target in needed for target, _ in current.next_functions)
            flows[current] = run(current, grads.pop(current), execute)
            for (target, _), g in zip(current.next_functions, flows[current][1], strict=False):
                if g is not None:
                    grads[target] = grads[target] + g if target in grads else g
            if execute and not retain_graph:
                current.release()
    return flows


def on_the_way(order, targets):
    r"""The nodes of ``order`` (topological) from which a gradient flows on to one of ``targets``, and those."""
    needed = set(targets)
    for current in reversed(order):                 # a node after every node its gradient flows to
        if any(target in needed for target, _ in current.next_functions):
            needed.add(current)
    return needed


def grad(output, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    r"""``torch.autograd.grad``: the gradient of ``output`` (given ``grad_outputs``, its own gradient, where it is
    not a scalar) that reaches each of ``inputs`` (a Tensor or a sequence), read off the walk (what ``backward``
    returns), touching no ``.grad``; None for an input the output does not depend on, where ``allow_unused``
    says that is meant."""
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not all(t.requires_grad for t in inputs):
        raise RuntimeError("One of the differentiated Tensors does not require grad")
    flows = backward(output, grad_outputs, retain_graph, create_graph, inputs=[node(t) for t in inputs])
    unused = [k for k, t in enumerate(inputs) if node(t) not in flows]
    if unused and not allow_unused:
        raise RuntimeError(f"The differentiated Tensor at index {unused[0]} appears to not have been used in the "
                           "graph. Set allow_unused=True if this is the desired behavior.")
    return tuple(flows[node(t)][0] if node(t) in flows else None for t in inputs)
