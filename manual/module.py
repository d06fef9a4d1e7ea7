r"""``Parameter`` and ``Module``: the part of ``torch.nn`` that the manual network is built on.

``torch.nn.Module`` keeps a model's sub-modules and parameters in two ordered dictionaries, and
everything else (``named_parameters``, ``state_dict``, ``load_state_dict``, ...) walks them. This file
does the same, with only the methods this project uses.
"""
import numpy as np


class Parameter:
    r"""A trainable array and its gradient, like ``torch.nn.Parameter``.

    Attributes
    ----------
    data : ndarray
        The value. Updated in place by the optimizer.
    grad : ndarray or None
        dL/d(data), same shape as ``data``. ``None`` until a backward pass fills it; like torch,
        a second backward pass adds to it (hence ``optimizer.zero_grad()``).
    """

    def __init__(self, data):
        self.data = data
        self.grad = None

    def accumulate_grad(self, grad):
        r"""``grad += new gradient``, as autograd accumulates into ``.grad``."""
        self.grad = grad if self.grad is None else self.grad + grad


class Module:
    r"""Base class of the manual layers and network, like ``torch.nn.Module``.

    Assigning a ``Parameter`` or a ``Module`` to an attribute registers it (``self.weight = ...``),
    as in torch; ``add_module(name, module)`` does the same for a computed name. Calling a module
    runs its ``forward``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", {})    # name -> Parameter, in registration order
        object.__setattr__(self, "_modules", {})       # name -> Module, in registration order

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def add_module(self, name, module):
        r"""Register ``module`` as ``self.<name>``, for a name computed at run time."""
        setattr(self, name, module)

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def named_children(self):
        return iter(self._modules.items())

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self, prefix=""):
        r"""Yield ``("layer1.weight", p), ("layer1.bias", p), ...``: own parameters, then each child's."""
        for name, parameter in self._parameters.items():
            yield prefix + name, parameter
        for name, module in self._modules.items():
            yield from module.named_parameters(prefix=f"{prefix}{name}.")

    def parameters(self):
        for _, parameter in self.named_parameters():
            yield parameter

    def state_dict(self):
        r"""A copy of every parameter's value, keyed like torch's ``state_dict()``."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state_dict):
        r"""Copy values in, converted to each parameter's dtype.

        Raises ``ValueError`` (torch: ``RuntimeError``) for a missing or unexpected key or a wrong
        shape; the model is unchanged then.
        """
        parameters = dict(self.named_parameters())
        missing = sorted(parameters.keys() - state_dict.keys())
        unexpected = sorted(state_dict.keys() - parameters.keys())
        if missing or unexpected:
            raise ValueError(f"state dict does not fit the model: missing keys {missing}, "
                           f"unexpected keys {unexpected}; expected {list(parameters)}")
        for name, p in parameters.items():
            if np.shape(state_dict[name]) != p.data.shape:
                raise ValueError(f"{name}: shape {np.shape(state_dict[name])} does not match "
                                 f"the model's {p.data.shape}")
        for name, p in parameters.items():
            p.data[...] = state_dict[name]
