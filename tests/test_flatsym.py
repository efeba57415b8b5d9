"""Symmetry over flat states: the generated canonicalizer gives the Canonicalizer's own representative.

``f(flatten(s)) == flatten(canon(s))`` on every reachable state of symmetric virtio-blk
configurations and on random states of the field types (a fixture spec covers the shapes
virtio-blk does not use); so its values are members of the class, the same for the whole
class, idempotent, and exactly the states the symmetry search stores.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
from conftest import ANY, NODRAIN, SMALL, VIRTIO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcheck import Bool, Enum, Int, Seq, Spec, Tuple, action
from modelcheck.check import configure
from modelcheck.explicit import SearchOptions, explore
from modelcheck.explicit.compiled.expander import flat_expander
from modelcheck.explicit.compiled.flat_symmetry import Unsupported, flat_canonicalizer
from modelcheck.explicit.flat import FlatLayout
from modelcheck.explicit.reductions.hooks import canonicalizer
from modelcheck.explicit.reductions.symmetry import Canonicalizer, Symmetry
from modelcheck.spec import Compiled, compile_spec
from modelcheck.symbolic.layout import width
from modelcheck.types import FieldType

# Besides conftest's pinned configurations (SMALL, NODRAIN, ANY), two from test_reduce.py's
# automorphism test: a fifo backend (flight is a renamed sequence) and reads
# with the device's own flush (returned, and ids past the requests').
FIFO = {"workload": "W0 W1 F W2 W3", "guest": "nodrain", "qdepth": 2, "order": "fifo", "profile": "fifo"}
READS = {"workload": "W0 R1 W2 W3", "guest": "nodrain", "qdepth": 2, "profile": "flush-after-restart",
         "read_failures": 1, "werror": "enospc", "eio_failures": 1, "failures": 0}

# name -> (settings, states in symmetry mode: test_reduce.py's pins, where it has one)
CONFIGS = {"small": (SMALL, 789), "nodrain": (NODRAIN, 5656), "any": (ANY, 1304), "fifo": (FIFO, None),
           "reads": (READS, None)}


def layout_of(compiled: Compiled) -> FlatLayout:
    """The compiled mode's layout, without running the spec symbolically."""
    fields, start = [], 0
    for name, ftype in compiled.state_class.types.items():
        fields.append((name, ftype, start, start + width(ftype)))
        start += width(ftype)
    return FlatLayout(compiled.state_class, fields)


def setup(settings_: dict) -> tuple[Compiled, FlatLayout, Canonicalizer]:
    compiled = compile_spec(configure(VIRTIO, settings_))
    canon = canonicalizer(compiled)
    assert canon is not None
    return compiled, layout_of(compiled), canon


def test_layout_is_the_compiled_modes():
    compiled = compile_spec(configure(VIRTIO, {"workload": "W0 W1 F", "migrations": 0}))
    expander, reason = flat_expander(compiled, [])
    assert expander is not None, reason
    assert expander.layout.fields == layout_of(compiled).fields


# ----------------------------------------------------------------- reachable states


@pytest.mark.parametrize(("name", "limit"), [*((name, 512) for name in CONFIGS), ("small", 0), ("fifo", 0)],
                         ids=[*CONFIGS, "small-generic", "fifo-generic"])
def test_representative_is_the_canonicalizers_on_every_reachable_state(name, limit):
    """f is flatten ∘ canon: so f(x) is a member of x's class, is the same for every member, and f is
    idempotent (``limit=0``: the functions that test sequence lengths instead of being specialized to them)."""
    compiled, layout, canon = setup(CONFIGS[name][0])
    f = flat_canonicalizer(compiled, layout, canon, limit=limit)
    flatten = layout.flatten
    for s in explore(compiled, []).states:
        x = flatten(s)
        rep = f(x)
        assert rep == flatten(canon(s)), s
        assert f(rep) == rep
        images = [flatten(image) for _, _, image in canon.images(s)]
        assert rep == x or rep in images
        assert all(f(y) == rep for y in images)
    if limit == 0:
        assert len(f.sources) <= 2 ** len(canon.ids)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_representatives_are_the_states_of_the_symmetry_search(name):
    settings_, pinned = CONFIGS[name]
    compiled, layout, canon = setup(settings_)
    f = flat_canonicalizer(compiled, layout, canon)
    reps = {f(layout.flatten(s)) for s in explore(compiled, []).states}
    stored = explore(compiled, [], SearchOptions(symmetry=True)).states
    assert reps == {layout.flatten(s) for s in stored}
    assert len(reps) == len(stored) == (pinned or len(stored))


def test_identity_until_two_ids_of_a_group_are_ready():
    compiled, layout, canon = setup(SMALL)
    f = flat_canonicalizer(compiled, layout, canon)
    for s in compiled.initial:
        x = layout.flatten(s)
        assert f(x) is x
    assert "return x\n" in next(iter(f.sources.values()))


# ----------------------------------------------------------------- random states of the types


def values(ftype: FieldType) -> st.SearchStrategy:
    """Any value of a field type."""
    if isinstance(ftype, Bool):
        return st.booleans()
    if isinstance(ftype, Enum):
        return st.sampled_from(ftype.names)
    if isinstance(ftype, Int):
        return st.integers(ftype.lo, ftype.hi)
    if isinstance(ftype, Tuple):
        return st.tuples(*[values(ftype.elem)] * ftype.size)
    assert isinstance(ftype, Seq)
    return st.lists(values(ftype.elem), max_size=ftype.maxlen).map(tuple)


def states(compiled: Compiled) -> st.SearchStrategy:
    cls = compiled.state_class
    return st.tuples(*[values(t) for t in cls.types.values()]).map(lambda v: tuple.__new__(cls, v))


class Shapes(Spec):
    """Ids 0, 1, 2 interchangeable, 3 fixed: every field shape a symmetry declaration can move.

    ``mode`` (enum names out of order) and ``queue`` (a sequence per id: images compare
    sequences of different lengths) are indexed; ``owner`` (-1 for none), ``line`` (the
    padding is id 0) and ``mode``'s neighbours are renamed; ``tags`` holds tuples, which
    renaming leaves alone. ``ready`` returns an int where the symbolic engine forks, so
    ``opaque`` makes the canonicalizer ask the spec's own ``ready``.
    """

    PAIRS = tuple((a, b) for a in range(3) for b in range(3) if a != b)

    def __init__(self, opaque: bool = False):
        super().__init__()
        self.opaque = opaque

    def fields(self):
        return {"phase": Int(0, 3), "mode": Tuple(Enum("zeta", "alpha", "mid"), 4),
                "queue": Tuple(Seq(Enum("y", "x"), 2), 3), "before": Tuple(Bool(), len(self.PAIRS)),
                "owner": Int(-1, 3), "line": Seq(Int(0, 3), 3), "cells": Tuple(Int(0, 3), 2),
                "tags": Seq(Tuple(Int(0, 3), 2), 2), "words": Seq(Enum("b", "a"), 2), "on": Bool()}

    def initial(self):
        yield self.state(phase=0, mode=("zeta",) * 4, queue=((),) * 3, before=(False,) * len(self.PAIRS),
                         owner=-1, line=(), cells=(0, 0), tags=(), words=(), on=False)

    @action
    def advance(self, s):
        return s.replace(phase=min(s.phase + 1, 3))

    def symmetry(self):
        ready = (lambda s, r: (r < s.phase) and 1) if self.opaque else (lambda s, r: r < s.phase)
        return Symmetry(groups=((0, 1, 2), (3,)), ready=ready,
                        indexed={"mode": (0, 1, 2, 3), "queue": (0, 1, 2), "before": self.PAIRS},
                        renamed=("owner", "line", "cells", "tags", "words"))


@pytest.mark.parametrize("opaque", [False, True], ids=["translated", "spec-ready"])
def test_every_field_shape_on_random_states(opaque):
    compiled = compile_spec(Shapes(opaque))
    layout, canon = layout_of(compiled), canonicalizer(compiled)
    f = flat_canonicalizer(compiled, layout, canon)
    assert ("_ready(x" in f.source) == opaque

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(states(compiled))
    def check(s):
        assert f(layout.flatten(s)) == layout.flatten(canon(s))

    check()


@functools.cache
def fifo_three() -> tuple[Compiled, FlatLayout, Canonicalizer, Callable]:
    """A fifo configuration with three interchangeable writes, and its flat canonicalizer."""
    compiled, layout, canon = setup({**FIFO, "workload": "W0 W1 W2 F W3"})
    return compiled, layout, canon, flat_canonicalizer(compiled, layout, canon)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_virtio_blk_on_random_states(data):
    """States the search never reaches (any readiness, any sequence contents) as well."""
    compiled, layout, canon, f = fifo_three()
    s = data.draw(states(compiled))
    rep = f(layout.flatten(s))
    assert rep == layout.flatten(canon(s))
    assert all(f(layout.flatten(image)) == rep for _, _, image in canon.images(s))


def test_declarations_it_cannot_mirror_are_refused():
    compiled = compile_spec(Shapes())
    layout = layout_of(compiled)
    renamed_bools = Symmetry(groups=((0, 1),), ready=lambda s, r: True, renamed=("on",))
    with pytest.raises(Unsupported, match="bools"):
        flat_canonicalizer(compiled, layout, Canonicalizer(renamed_bools, compiled.state_class))
    indexed_seq = Symmetry(groups=((0, 1),), ready=lambda s, r: True, indexed={"line": (0, 1, 2)})
    with pytest.raises(Unsupported, match="line"):
        flat_canonicalizer(compiled, layout, Canonicalizer(indexed_seq, compiled.state_class))
