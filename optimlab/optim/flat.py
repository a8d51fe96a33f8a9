"""Flat buffers: a group's parameters, gradients and states as views into contiguous arrays.

An optimizer step is memory-bound, and one kernel launch per small tensor wastes most of the
bandwidth. After ``optimizer.flatten()``, the parameters of each group (per dtype and backend) are
views into one contiguous buffer, their gradients views into a second, and every state entry a view
into a flat state array; the update then runs once over the whole buffer (one kernel launch), or on
NumPy as one pass over cache-sized pieces of it (``CHUNK``). ``Parameter.data``/``.grad`` stay
ordinary arrays (views), ``optimizer.state[p]`` stays torch-shaped (views, copied on
``state_dict()``), and the flat state is rebuilt from the per-parameter state whenever the two part
ways (after ``load_state_dict``, or a step where some gradient was None).

A flat buffer's state (and each piece's) is a ``FlatState``: besides the state entries it owns the
temporaries its in-place reference update needs (``scratch``), allocated on the first step and
reused, so that a steady-state NumPy step allocates no array memory. Scratch is never state: it is
not in ``optimizer.state``, not exported by ``state_dict()`` and not counted by ``state_bytes()``.
"""

from __future__ import annotations

import itertools
import operator

import numpy as np

from optimlab.backend import get_array_module, is_array
from optimlab.parameter import Parameter

# Elements per piece of the NumPy reference's pass over a flat buffer: a piece's arrays and the shared
# temporaries (~6 × 128 KB in float32) stay in a core's L2 cache between the update's ufuncs, where a
# whole-buffer pass sends every ufunc through memory. Measured (AdamW step, 16.7M float32, 2-core
# Xeon with AVX-512, two interleaved runs of medians of 12): whole buffer 96–100 ms; pieces of 2¹⁴
# 62 ms, 2¹⁵ 55–57, 2¹⁶ 56–57, 2¹⁷ 59–62 (smaller pieces pay Python's per-call overhead more often);
# torch's foreach AdamW 52–57 ms. A temporary per piece (before 2026-12-02) cost 10 ms more at 2¹⁵.
CHUNK = 1 << 15


class FlatBuffer:
    """Parameters of one dtype laid out in one contiguous buffer, with a gradient buffer beside it.

    ``param`` is the whole buffer as a single Parameter whose ``grad`` is the gradient buffer: an
    elementwise update applied to it is the update of every parameter at once.
    """

    def __init__(self, params: list[Parameter]):
        first = params[0].data
        xp = get_array_module(first)
        self.params = tuple(params)
        self.size = sum(int(p.size) for p in params)
        self.data = xp.empty(self.size, dtype=first.dtype)
        self.grad = xp.zeros(self.size, dtype=first.dtype)
        self.offsets = []
        offset = 0
        for p in params:
            self.offsets.append(offset)
            offset += int(p.size)
        self.grad_views = self.views(self.grad)
        for p, data_view, grad_view in zip(params, self.views(self.data), self.grad_views):
            data_view[...] = p.data
            if p.grad is not None:
                grad_view[...] = p.grad
            p.data = data_view
            p.use_grad_buffer(grad_view)
        self.param = Parameter(self.data)
        self.param.use_grad_buffer(self.grad)
        self.state: dict | None = None
        self.state_views: dict[str, tuple] = {}  # key -> (flat state array, its per-parameter views)
        self._published: tuple | None = None  # what publish() wrote: dicts, lengths, keys, values, flat keys
        self._scalar_slots: list[tuple] = []  # (index in the values, dict, key) of each scalar entry
        self._pieces: list[tuple[Parameter, FlatState, dict]] = []  # see update_in_pieces
        self._pieces_of: tuple = ()

    def views(self, flat) -> list:
        """Per-parameter views (with the parameters' shapes) into a flat array."""
        return [flat[o : o + int(p.size)].reshape(p.shape) for p, o in zip(self.params, self.offsets)]

    def publish(self, states: dict) -> None:
        """Make ``states[p]``, each parameter's torch-shaped state, the views of the flat state and its
        scalar entries (the step counter...), and remember what was written (see ``published``).
        After a step that kept the flat state's keys and arrays (the steady state) only the scalars
        are written."""
        fresh = False
        for key, value in self.state.items():
            if is_array(value) and self.state_views.get(key, (None,))[0] is not value:
                self.state_views[key] = (value, self.views(value))
                fresh = True
        if not fresh and self._published is not None:
            dicts, _, _, values, state_keys = self._published
            if (len(self.state) == len(state_keys) and all(_same(self.state, state_keys))
                    and all(_same(map(states.get, self.params), dicts))):
                for slot, per_param, key in self._scalar_slots:
                    per_param[key] = values[slot] = self.state[key]
                return
        dicts = [states.setdefault(p, {}) for p in self.params]
        for index, per_param in enumerate(dicts):
            for key, value in self.state.items():
                per_param[key] = self.state_views[key][1][index] if is_array(value) else value
        keys = list(itertools.chain.from_iterable(map(dict.keys, dicts)))
        values = list(itertools.chain.from_iterable(map(dict.values, dicts)))
        self._published = (dicts, list(map(len, dicts)), keys, values, list(self.state))
        owners = [per_param for per_param in dicts for _ in per_param]  # the dict of each flattened entry
        self._scalar_slots = [(slot, per_param, key) for slot, (per_param, key) in enumerate(zip(owners, keys))
                              if key in self.state and not is_array(self.state[key])]

    def published(self, states: dict) -> bool:
        """Is every ``states[p]`` still what ``publish`` wrote: the same dict, with the same keys
        holding the same objects (nobody replaced an entry or a dict since)? Checked in C loops,
        allocating no list: on a GPU, a step's host time is on the critical path."""
        if self.state is None or self._published is None:
            return False
        dicts, lengths, keys, values, _ = self._published
        return (all(_same(map(states.get, self.params), dicts)) and all(map(operator.eq, map(len, dicts), lengths))
                and all(_same(itertools.chain.from_iterable(map(dict.keys, dicts)), keys))
                and all(_same(itertools.chain.from_iterable(map(dict.values, dicts)), values)))

    def gather_grads(self) -> bool:
        """Make the gradient buffer hold every gradient (copying those set from outside); False if
        some parameter has no gradient."""
        for p, view in zip(self.params, self.grad_views):
            if p.grad is None:
                return False
            if p.grad is not view:
                view[...] = p.grad
        return True

    def update_in_pieces(self, update) -> None:
        """``update(param, grad, state)``, an elementwise in-place NumPy reference, over the buffer in
        pieces of ``CHUNK`` elements (views of the buffer, its gradient and its state). The pieces run
        one after another, so the full-size ones share one set of temporaries, which stays in cache
        (the shorter last piece has its own). Elementwise updates give bit-identical results in any
        split. Scalar state
        entries (the step counter...) are handed to every piece and must come back equal; an array
        entry a piece creates or replaces (SGD's first momentum buffer) is joined into one flat array."""
        arrays = tuple((key, id(value)) for key, value in self.state.items() if is_array(value))
        if self._pieces_of != (id(self.state), arrays):
            self._pieces = []
            temporaries: dict = {}
            for start in range(0, self.size, CHUNK):
                piece = Parameter(self.data[start : start + CHUNK])
                piece.use_grad_buffer(self.grad[start : start + CHUNK])
                views = {key: value[start : start + CHUNK] for key, value in self.state.items() if is_array(value)}
                shared = temporaries if piece.size == CHUNK else None
                self._pieces.append((piece, FlatState({**self.state, **views}, scratch=shared), views))
            self._pieces_of = (id(self.state), arrays)
        scalars = {key: value for key, value in self.state.items() if not is_array(value)}
        for piece, state, _ in self._pieces:
            state.update(scalars)
            update(piece, piece.grad, state)
        for key, value in self._pieces[0][1].items():
            if is_array(value):
                if any(state[key] is not views.get(key) for _, state, views in self._pieces):
                    self.state[key] = np.concatenate([state[key].reshape(-1) for _, state, _ in self._pieces])
            elif any(state[key] != value for _, state, _ in self._pieces):
                raise RuntimeError(f"state entry {key!r} came back different from the pieces of one flat buffer: "
                                   "the update is not elementwise")
            else:
                self.state[key] = value

    def zero_grad(self) -> None:
        """Zero the gradient buffer and point every parameter's gradient back at its view."""
        self.grad.fill(0)
        for p, view in zip(self.params, self.grad_views):
            p.use_grad_buffer(view)


def _same(items, others):
    """``items[i] is others[i]``, lazily, element by element."""
    return map(operator.is_, items, others)


class FlatState(dict):
    """The state of a flat buffer (same entries as a parameter's state), plus ``scratch``: named
    temporaries of the buffer's shape, kept between steps (see ``scratch``), its own unless a dict
    shared with other states is given."""

    def __init__(self, entries=(), scratch: dict | None = None):
        super().__init__(entries)
        self.scratch: dict = {} if scratch is None else scratch


def scratch(state: dict, name: str, like):
    """A temporary array shaped like ``like`` for an in-place update: allocated once and reused on
    every later step when ``state`` is a ``FlatState``, a fresh one for a per-parameter state (whose
    dict keeps torch's keys only)."""
    xp = get_array_module(like)
    if not isinstance(state, FlatState):
        return xp.empty_like(like)
    array = state.scratch.get(name)
    if array is None or array.shape != like.shape or array.dtype != like.dtype:
        array = state.scratch[name] = xp.empty_like(like)
    return array


def partition(params) -> list[list[Parameter]]:
    """Group parameters by (backend, dtype), keeping their order."""
    parts: dict = {}
    for p in params:
        parts.setdefault((type(p.data), p.data.dtype), []).append(p)
    return list(parts.values())


def build_flat_state(flat: FlatBuffer, states: list[dict | None], init) -> dict | None:
    """The flat state of ``flat``: fresh from ``init()`` when no parameter has state yet, else the
    per-parameter states concatenated; ``None`` when they cannot be joined (mixed presence, keys,
    or differing scalar entries such as the step counter)."""
    if all(s is None for s in states):
        return FlatState(init())
    if any(s is None for s in states) or any(set(s) != set(states[0]) for s in states):
        return None
    xp = get_array_module(flat.data)
    joined = {}
    for key, value in states[0].items():
        if is_array(value):
            if any(s[key].shape != p.shape for s, p in zip(states, flat.params)):
                return None
            joined[key] = xp.concatenate([s[key].reshape(-1) for s in states])
        elif any(s[key] != value for s in states):
            return None
        else:
            joined[key] = value
    return FlatState(joined)
