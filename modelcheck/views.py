"""What a spec wants reports to show: lanes of a sequence diagram, grid axes, the question, causes.

Renderers (``modelcheck/results/``) stay generic: every word about a particular system
comes from a :class:`Views` object. A spec names its views in a file beside it, with the
class attribute ``VIEWS = "virtio_blk_views.py"``; that file defines ``VIEWS``, a
:class:`Views` instance. The spec API never imports this module or any renderer, so a
spec without views gets the generic defaults (one lane of every field, no question, no
grid). This module imports only the state and trace layers below it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SpecError
from .loader import import_file
from .trace import field_changes

if TYPE_CHECKING:
    from .spec import Compiled, Step
    from .state import State


@dataclass(frozen=True)
class Lane:
    """One vertical lifeline of a sequence diagram: an actor of the system and how its state reads."""

    key: str
    title: str
    subtitle: str
    show: Callable[[State], list[str]]


@dataclass(frozen=True)
class Arrow:
    """How one step is drawn: from lane to lane (equal for a step within one actor), or across all."""

    source: str
    target: str
    label: str
    color: str = "#222"
    across: bool = False


class SequenceView:
    """The generic sequence view: one lane with every field, arrows labelled with the fields a step changed."""

    legend = "red box: the step after which the property fails · grey text: unchanged by the step"

    def __init__(self, compiled: Compiled):
        self.compiled = compiled
        self.types = compiled.state_class.types

    def vm(self, s: State | None) -> str | None:
        """The run state shown in the left column (None: no such column)."""
        return None

    def lanes(self) -> list[Lane]:
        return [Lane("spec", "spec", "every field", self._all_fields)]

    def arrow(self, step: Step, before: State, after: State) -> Arrow:
        label = self.compiled.show_step(step)
        changes = field_changes(self.types, before, after)
        return Arrow("spec", "spec", f"{label}: {'; '.join(changes)}" if changes else label)

    def highlight(self, line: str) -> bool:
        """Whether a lane line of the final state is the reason for the failure (drawn in red)."""
        return False

    def _all_fields(self, s: State) -> list[str]:
        return [" ".join(f"{k}={self.types[k].show(v)}" for k, v in zip(s.fields, s))]


@dataclass(frozen=True)
class Sentence:
    """How the answer names one value of the sentence axis (e.g. a guest policy) and one property."""

    subject: str  # "A guest that drains before each flush (`guest=drain`)"
    keeps: str = "`{prop}` holds"  # {prop} is replaced by the property's name
    loses: str = "`{prop}` fails"  # after a 'keeps' part
    loses_alone: str = ""  # when nothing holds ("loses its barrier"); default: ``loses``


@dataclass
class Views:
    """Everything a report says about one spec that the spec's code cannot say by itself.

    ``axes`` are the three grid axes: the answer's sentence axis (e.g. ``guest``), the grid's
    rows (``profile``) and columns (``werror``); ``explain`` are further parameters that may
    distinguish where a cause shows (``order``, ``evict``). ``headline`` are the properties
    the answer speaks of, in order. ``causes`` maps a cause's short letter to its words.
    ``replay`` names the (case, property) whose counterexample ``modelcheck run`` replays
    on the real device for the report (empty: none).
    """

    question: str = ""
    axes: tuple[str, str, str] | tuple[()] = ()
    explain: tuple[str, ...] = ()
    headline: tuple[str, ...] = ()
    sentences: Mapping[tuple[str, str], Sentence] = field(default_factory=dict)  # (axis value, property)
    words: Mapping[str, str] = field(default_factory=dict)  # "guest=drain": one line for the glossary
    causes: Mapping[str, str] = field(default_factory=dict)  # "R": "reordering: ..."
    cause_names: Mapping[str, str] = field(default_factory=dict)  # "R": "host reordering"
    replay: tuple[str, str] | tuple[()] = ()  # ("seed~guest=nodrain", "barrier")
    meaning_title: str = "what it means"  # the header of the report's column of :meth:`meaning`

    def cause(self, prop: str, steps: Sequence[str], params: Mapping[str, Any]) -> str:
        """The letter of what made a counterexample fail, read from its steps ('' when not known)."""
        return ""

    def meaning(self, params: Mapping[str, Any], violated: Mapping[str, str]) -> str:
        """What the violations of one case (property -> cause letter) mean for the system's user,
        in words; '' when there is nothing to say beyond the causes (the report then shows no row)."""
        return ""

    def sequence(self, compiled: Compiled) -> SequenceView:
        """How a trace of ``compiled`` is drawn."""
        return SequenceView(compiled)


DEFAULT = Views()


def views_of(spec_cls: type) -> Views:
    """The views a spec class names with ``VIEWS = "file.py"`` (beside its own file), or the defaults."""
    owner = next((c for c in spec_cls.__mro__ if "VIEWS" in vars(c)), None)  # a subclass inherits its base's views
    name = vars(owner)["VIEWS"] if owner is not None else None
    if not name:
        return DEFAULT
    module_file = getattr(sys.modules.get(owner.__module__), "__file__", None)
    if module_file is None:
        return DEFAULT
    path = Path(module_file).parent / name
    where = f"{owner.__name__}.VIEWS"
    if not path.is_file():
        raise SpecError(f"{module_file}: {where} names {name!r}, which is not a file beside the spec; "
                        "fix the name or remove VIEWS")
    module = import_file(path, "views")
    views = getattr(module, "VIEWS", None)
    if not isinstance(views, Views):
        raise SpecError(f"{path}: defines no VIEWS = Views(...) ({where}); define one or remove VIEWS")
    return views
