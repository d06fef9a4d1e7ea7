r"""One step's autograd graph on both sides, node for node: torch's ``grad_fn`` graph and the one
``manual/autograd.py`` records, and the gradient each node sends along each of its edges.

``walk(root)`` lists a graph's nodes (torch's or the engine's: both have ``next_functions``) in the
order a depth-first walk from the loss meets them, each with the indices of the nodes its edges lead
to. ``step_graphs`` records one step on both sides from the same weights and batch and walks both
backward passes: torch's through node hooks, the engine's from what its ``backward`` returns.
``edges`` pairs them: the graphs are equal when every node has the same name and edges, and every
edge carries the same gradient. ``python -m compare.trace --graph FILE`` draws both.
"""
from dataclasses import dataclass, replace

import numpy as np
import torch

import manual.autograd

from .core.pair import Pair, tolerance_ratio


def walk(root):
    r"""``[(node, [index of the node each edge leads to, or None]), ...]``, the root first, each node once."""
    index, order, stack = {}, [], [root]
    while stack:
        node = stack.pop()
        if node in index:
            continue
        index[node] = len(order)
        order.append(node)
        stack += [child for child, _ in reversed(node.next_functions) if child is not None]
    return [(node, [index.get(child) for child, _ in node.next_functions]) for node in order]


def name(node):
    r"""A node's class name, torch's ``AccumulateGrad`` included (its ``name()`` has a C++ namespace)."""
    return type(node).__name__


@dataclass
class Edge:
    r"""One edge of the step's graph: node ``node`` (``torch_name`` on torch's side, ``engine_name`` on the
    engine's) sends a gradient to input ``slot``, which leads to ``to`` (a node index, or None)."""
    node: int
    torch_name: str
    engine_name: str
    slot: int
    to: object
    torch: object             # the gradient torch sent along it (an array), or None
    engine: object

    def equal(self, dtype):
        if self.torch is None or self.engine is None:
            return self.torch is None and self.engine is None
        same_shape = self.torch.shape == self.engine.shape
        return same_shape and bool(np.all(tolerance_ratio(self.engine, self.torch, dtype) <= 1))


def step_graphs(config, weights, X, y):
    r"""Both sides' graphs of the loss of ``X, y`` from ``weights`` (``walk``), each node's gradients as it sent
    them along its edges in ``backward()`` (a list per node), and the ``Pair`` of the engine's model and torch's."""
    pair = Pair(replace(config, manual="autograd"), weights)
    (model, torch_model), (criterion, torch_criterion) = pair.models, pair.criteria
    torch_loss = torch_criterion(torch_model(torch.tensor(X)), torch.tensor(y))
    engine_loss = criterion(model(X), y)
    torch_graph, engine_graph = walk(torch_loss.grad_fn), walk(engine_loss.grad_fn)
    torch_sent = {}
    for node, _ in torch_graph:
        node.register_hook(lambda grad_inputs, _, node=node: torch_sent.__setitem__(node, grad_inputs))
    torch_loss.backward()
    flows = manual.autograd.backward(engine_loss)
    sent = [[None if g is None else g.detach().numpy() for g in torch_sent.get(node, ())] for node, _ in torch_graph]
    engine_sent = [[None if g is None else g.data for g in flows.get(node, (None, ()))[1]] for node, _ in engine_graph]
    return (torch_graph, sent), (engine_graph, engine_sent), pair


def edges(torch_side, engine_side):
    r"""The two graphs' edges side by side, in torch's walk order, as ``Edge``s; ``ValueError`` naming the first
    node where the graphs' shapes differ (another name, other edges, or a node missing on one side)."""
    (torch_graph, torch_sent), (engine_graph, engine_sent) = torch_side, engine_side
    paired = []
    for k, ((t_node, t_to), t_sent) in enumerate(zip(torch_graph, torch_sent, strict=False)):
        if k >= len(engine_graph) or (name(t_node), t_to) != (name(engine_graph[k][0]), engine_graph[k][1]):
            other = f"{name(engine_graph[k][0])} -> {engine_graph[k][1]}" if k < len(engine_graph) else "no node"
            raise ValueError(f"the graphs differ at node {k}: torch's {name(t_node)} -> {t_to}, the engine's {other}")
        t_sent, e_sent = (list(sent) + [None] * (len(t_to) - len(sent)) for sent in (t_sent, engine_sent[k]))
        paired += [Edge(k, name(t_node), name(engine_graph[k][0]), slot, to, t_sent[slot], e_sent[slot])
                   for slot, to in enumerate(t_to)]
    if len(engine_graph) != len(torch_graph):
        raise ValueError(f"the engine's graph has {len(engine_graph)} nodes, torch's {len(torch_graph)}")
    return paired


def first_unequal(paired, dtype):
    r"""The first edge, in torch's order from the loss, whose gradients differ, or None."""
    return next((edge for edge in paired if not edge.equal(dtype)), None)


def parameter_of(node, model):
    r"""The name of ``model``'s parameter whose ``.grad`` ``node`` fills (an ``AccumulateGrad``), or None."""
    variable = getattr(node, "variable", None)
    return next((name for name, p in model.named_parameters() if p is variable), None)


def graph_lines(paired, torch_graph, model, dtype):
    r"""The two graphs as text, one line per edge: where it leads (a leaf named by the parameter of ``model``, torch's,
    that it fills) and whether both sides sent the same gradient along it; last, how many nodes there are."""
    leaves = {k: parameter_of(node, model) for k, (node, to) in enumerate(torch_graph) if not to}
    lines = [f"{'node':4} {'torch':38} {'manual/autograd.py':38} edge -> {'node':20} max |diff|  verdict"]
    for edge in paired:
        to = "-" if edge.to is None else f"{edge.to} {leaves.get(edge.to) or ''}"
        diff = ("" if edge.torch is None or edge.engine is None or edge.torch.shape != edge.engine.shape
                else f"{float(np.abs(edge.engine - edge.torch).max(initial=0)):.1e}")
        verdict = "no gradient" if edge.torch is None and edge.engine is None else ("equal" if edge.equal(dtype)
                                                                                    else "DIFFERENT")
        lines.append(f"{edge.node:<4} {edge.torch_name:38} {edge.engine_name:38} {edge.slot:4} -> {to:20} "
                     f"{diff:>10}  {verdict}")
    lines.append(f"({len(torch_graph)} nodes in all: {len(torch_graph) - len(leaves)} that send gradients (a row per "
                 f"edge) and {len(leaves)} AccumulateGrad leaves (named by their parameter))")
    return lines
