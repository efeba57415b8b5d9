"""The parametric description API: requests as an unbounded sort, per-request symbols, steps as
guarded updates, and the abstraction function from a spec's concrete states.

A spec names its description with ``PARAMETRIC = "file.py"`` (beside the spec file); that file
defines ``PARAMETRIC``, a :class:`Parametric` subclass. Its methods take a logic ``L`` and a
state view ``v`` (:mod:`.logic`), so the one text is read over a finite instance (to be checked
against the spec, :mod:`.refine`) and over z3's unbounded sort (to be proved, :mod:`.houdini`).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

from ..errors import SpecError, UsageError
from ..loader import import_file
from ..spec import Spec, Step, members_in_order
from ..state import State
from .logic import Structure, Symbol

REQ = "Req"  # an argument ranging over the requests


@dataclass(frozen=True)
class Update:
    """What a step does when its guard holds: new values (or functions of the arguments) per symbol."""

    guard: Any
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class TransitionMeta:
    args: tuple[tuple[str, Any], ...]  # (name, REQ or a tuple of values)


def transition(**args: Any) -> Callable[[Callable], Callable]:
    """Mark ``(self, L, v, *args) -> Update`` as a step of the description; each argument ranges
    over the requests (``REQ``) or over a tuple of values (enumerated in Python)."""

    def mark(f: Callable) -> Callable:
        f._mc_transition = TransitionMeta(tuple(args.items()))  # type: ignore[attr-defined]
        return f

    return mark


@dataclass(frozen=True)
class Instance:
    """A step of the description with its value arguments fixed: ``execute`` with ``result="ok"``.
    ``requests`` names its request arguments, in order."""

    action: str
    func: Callable[..., Update]
    values: tuple[tuple[str, Any], ...]
    requests: tuple[str, ...]

    def label(self, reqs: Iterable[Any]) -> tuple[str, tuple]:
        """The step as ``(action, args)``, every argument in declaration order."""
        given = dict(zip(self.requests, reqs))
        given.update(self.values)
        return self.action, tuple(given[n] for n in self.order)

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.func._mc_transition.args)  # type: ignore[attr-defined]


class Parametric:
    """Base class of parametric descriptions; one instance per spec configuration.

    Subclasses define ``symbols``, ``background``, ``parameters``, ``initial``, the steps
    (``@transition``), ``assumptions``, the properties (``@always``, names as in the spec),
    user invariants (``@invariant``), ``abstract`` (the abstraction function), ``label`` (a
    concrete step as a step of the description) and ``settings`` (a finite instance as a
    configuration of the spec)."""

    covers = ""  # in words: what the proof covers (shown with every verdict)

    def __init__(self, spec: Spec):
        self.spec = spec

    # -- to be defined by a description
    def symbols(self) -> list[Symbol]:
        raise NotImplementedError

    def background(self, L: Any, v: Any) -> Any:
        """Facts about the static symbols (program order is a strict total order)."""
        return True

    def parameters(self, L: Any, v: Any) -> Any:
        """The constraint on the static parameters (qdepth >= 1, budgets >= 0)."""
        return True

    def initial(self, L: Any, v: Any) -> Mapping[str, Any]:
        raise NotImplementedError

    def assumptions(self) -> Mapping[str, Callable[..., Any]]:
        """Per assumption name, ``(L, v, action, args) -> formula`` (args as a dict)."""
        return {}

    def abstract(self, state: State) -> Structure:
        raise NotImplementedError

    def label(self, step: Step) -> tuple[str, tuple]:
        raise NotImplementedError

    def settings(self, structure: Structure) -> dict[str, str]:
        raise NotImplementedError

    def concrete_steps(self, label: tuple[str, tuple], structure: Structure) -> Step:
        raise NotImplementedError

    # -- derived
    def symbol_table(self) -> dict[str, Symbol]:
        return {s.name: s for s in self.symbols()}

    def instances(self) -> list[Instance]:
        out = []
        for name in members_in_order(type(self)):
            meta = getattr(getattr(type(self), name), "_mc_transition", None)
            if meta is None:
                continue
            reqs = tuple(n for n, dom in meta.args if dom == REQ)
            enums = [(n, dom) for n, dom in meta.args if dom != REQ]
            for values in product(*[dom for _, dom in enums]):
                out.append(Instance(name, getattr(self, name), tuple((n, v) for (n, _), v in zip(enums, values)),
                                    reqs))
        return out

    def apply(self, inst: Instance, L: Any, v: Any, reqs: tuple) -> Update:
        given = dict(zip(inst.requests, reqs))
        given.update(inst.values)
        return inst.func(L, v, *[given[n] for n in inst.order])

    def properties(self) -> dict[str, Callable[..., Any]]:
        return {name: getattr(self, name) for name in members_in_order(type(self))
                if getattr(getattr(type(self), name), "_mc_property", None) is not None}

    def invariants(self) -> dict[str, Callable[..., Any]]:
        return {name: getattr(self, name) for name in members_in_order(type(self))
                if getattr(getattr(type(self), name), "_mc_invariant", None) is not None}


def description_of(spec: Spec) -> Parametric:
    """The parametric description a spec names with ``PARAMETRIC = "file.py"``, for its configuration."""
    cls = type(spec)
    owner = next((c for c in cls.__mro__ if "PARAMETRIC" in vars(c)), None)
    if owner is None:
        raise UsageError(f"{cls.__name__} has no parametric description; fix: name one with "
                         "PARAMETRIC = \"file.py\" in the spec class (docs/parametric.md), "
                         "or prove without --parametric")
    module_file = getattr(sys.modules.get(owner.__module__), "__file__", None)
    name = vars(owner)["PARAMETRIC"]
    path = Path(module_file or ".").parent / name
    if not path.is_file():
        raise SpecError(f"{module_file}: {owner.__name__}.PARAMETRIC names {name!r}, which is not a file beside "
                        "the spec; fix the name or remove PARAMETRIC")
    module = import_file(path, "parametric")
    desc = getattr(module, "PARAMETRIC", None)
    if not (inspect.isclass(desc) and issubclass(desc, Parametric)):
        raise SpecError(f"{path}: defines no PARAMETRIC = a Parametric subclass ({owner.__name__}.PARAMETRIC); "
                        "define one or remove PARAMETRIC")
    return desc(spec)
