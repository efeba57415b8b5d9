"""The spec API: parameters, state fields, actions, properties and assumptions.

A spec is a plain Python class. Decorators only attach metadata; :func:`compile_spec`
checks the class once, early, and raises :class:`SpecError` naming ``Class.method``
and the fix. Engines never name a spec, and a spec never names an engine: action,
guard and property code only reads ``s.field``, calls :func:`require` and returns
``s.replace(...)``, so the same code can run over concrete values or z3 terms.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .errors import SpecError, UsageError, Where
from .state import State, state_class
from .types import FieldType


class Disabled(Exception):
    """Raised by :func:`require` when an action's guard is false."""


def require(condition: Any) -> None:
    """Guard of an action: when ``condition`` is false the action is not enabled.

    A fresh exception each time: re-raising one shared instance would chain every
    traceback onto it and keep every frame alive.
    """
    if not condition:
        raise Disabled


# --------------------------------------------------------------------------- parameters


class Param:
    """A parameter of a spec, with a default and the values it may take.

    Values are plain scalars (int, str, bool) so that configurations print and serialise
    as they were given. ``allowed`` is an iterable of values (a ``range`` for integers);
    ``parse`` checks command-line text and returns the canonical value, raising
    ``ValueError`` with a reason when the text is malformed.
    """

    def __init__(
        self,
        default: Any,
        *,
        allowed: Iterable[Any] | None = None,
        parse: Callable[[str], Any] | None = None,
        doc: str = "",
    ):
        self.default = default
        self.allowed = allowed if isinstance(allowed, range) else (
            tuple(allowed) if allowed is not None else None
        )
        self.parse_text = parse
        self.doc = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance.params[self.name]

    def describe_allowed(self) -> str:
        if self.allowed is None:
            return "see the description" if self.parse_text is not None else "any"
        if isinstance(self.allowed, range):
            return f"{self.allowed.start}..{self.allowed.stop - 1}"
        return "|".join(str(v) for v in self.allowed)

    def parse(self, text: str) -> Any:
        """The value of ``--set NAME=text``; :class:`UsageError` when it is not allowed."""
        if self.parse_text is not None:
            try:
                value = self.parse_text(text)
            except ValueError as err:
                raise UsageError(f"parameter {self.name}: {err}") from None
        elif isinstance(self.default, bool):
            lowered = text.lower()
            if lowered not in ("on", "off", "true", "false", "yes", "no", "1", "0"):
                raise UsageError(f"parameter {self.name}: {text!r} is not on or off")
            value = lowered in ("on", "true", "yes", "1")
        elif isinstance(self.default, int):
            try:
                value = int(text)
            except ValueError:
                raise UsageError(
                    f"parameter {self.name}: {text!r} is not a whole number "
                    f"(allowed: {self.describe_allowed()})"
                ) from None
        else:
            value = text
        self.check(value)
        return value

    def check(self, value: Any) -> None:
        if self.allowed is not None and value not in self.allowed:
            raise UsageError(
                f"parameter {self.name}: {value!r} is not allowed "
                f"(allowed: {self.describe_allowed()})"
            )


# --------------------------------------------------------------------------- decorators

Domain = str | Iterable[Any] | Callable[[Any], Iterable[Any]] | FieldType


@dataclass(frozen=True)
class ActionMeta:
    args: tuple[tuple[str, Domain], ...]
    hint: Callable[[Any, Any], Iterable[Any]] | None = None
    fair: str | None = None


class PropertyKind(StrEnum):
    """What a property claims; a ``str`` too, so ``kind == "always"`` and JSON keep working."""

    ALWAYS = "always"  # true in every reachable state
    STEP = "step"  # true of every step taken
    SOMETIMES = "sometimes"  # true in some reachable state (a witness)
    AT_END = "at_end"  # true where every execution ends, and none runs forever
    EVENTUALLY = "eventually"  # every fair execution reaches a state where it is true
    LEADS_TO = "leads_to"  # every fair execution from a state where p holds reaches one where q holds


LIVENESS = (PropertyKind.EVENTUALLY, PropertyKind.LEADS_TO)
FAIRNESS = ("weak", "strong")  # fairness an action may declare, alone or as "KIND:GROUP"


@dataclass(frozen=True)
class Fairness:
    """One fairness condition: its kind (``"weak"`` or ``"strong"``) and the actions it covers.

    The condition is enabled in a state when a step of any member is allowed there, and taken
    by a step of any member. An action declared ``fair=KIND`` is a condition alone (named after
    it); actions declared ``fair="KIND:GROUP"`` share the condition named ``GROUP``."""

    kind: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class PropertyMeta:
    kind: PropertyKind
    doc: str


@dataclass(frozen=True)
class AssumptionMeta:
    when: Callable[[Any], bool] | None
    doc: str


def action(func: Callable | None = None, /, *, hint: Callable[[Any, Any], Iterable[Any]] | None = None,
           fair: str | None = None, **domains: Domain) -> Any:
    """Mark a method as an action ``(self, s, *args) -> next state``.

    Keyword arguments give each argument's finite domain: a field type, an iterable,
    a callable of the spec, or the name of a spec attribute holding one of those.

    ``hint(self, s)`` is an optional speed-up for the explicit engine: the arguments
    (values for a one-argument action, tuples otherwise) worth trying in concrete state
    ``s``. It must include every argument for which the action is enabled; the engine
    still runs the guards, and ``SearchOptions(check_hints=True)`` verifies the hint.
    The symbolic engine ignores it.

    ``fair="weak"`` declares weak fairness, for liveness properties: no execution keeps the
    action enabled forever without taking it (any of its steps counts). ``fair="strong"``
    declares strong fairness: no execution has the action enabled infinitely often (even
    intermittently) without taking it. ``fair="weak:NAME"`` / ``fair="strong:NAME"`` put the
    action in group ``NAME``: the group is one condition, enabled when any member is and taken
    when any member is (its members must agree on the kind). Actions without ``fair`` may be
    postponed forever (the environment's choices: failures, migrations).
    """

    def mark(f: Callable) -> Callable:
        f._mc_action = ActionMeta(tuple(domains.items()), hint, fair)  # type: ignore[attr-defined]
        return f

    return mark(func) if func is not None else mark


def _property(kind: PropertyKind) -> Callable[[Callable], Callable]:
    def mark(f: Callable) -> Callable:
        f._mc_property = PropertyMeta(kind, inspect.getdoc(f) or "")  # type: ignore[attr-defined]
        return f

    return mark


always = _property(PropertyKind.ALWAYS)
"""Mark ``(self, s) -> bool`` as an invariant: true in every reachable state."""

always_on_step = _property(PropertyKind.STEP)
"""Mark ``(self, before, step, after) -> bool`` as true of every step taken."""

sometimes = _property(PropertyKind.SOMETIMES)
"""Mark ``(self, s) -> bool`` as a witness: true in some reachable state."""

at_end = _property(PropertyKind.AT_END)
"""Mark ``(self, s) -> bool`` as true where every execution ends (and none runs forever)."""

eventually = _property(PropertyKind.EVENTUALLY)
"""Mark ``(self, s) -> bool`` as true in some state of every fair execution (liveness)."""

leads_to = _property(PropertyKind.LEADS_TO)
"""Mark ``(self, s) -> (p, q)`` as *p leads to q*: every fair execution that reaches a state
where ``p`` holds later (or there) reaches one where ``q`` holds (liveness)."""


def invariant(func: Callable) -> Callable:
    """Mark a method as an invariant a user states for a proof (``modelcheck prove --parametric``).

    It only attaches metadata: a parametric description (:mod:`modelcheck.parametric`) marks
    ``(self, L, v) -> formula`` with it, and the prover takes it as a conjunct that must be
    true initially and kept by every step. One that is not (or is false somewhere) makes the
    proof UNKNOWN, naming it and the step that breaks it; it never makes a proof.
    """
    func._mc_invariant = inspect.getdoc(func) or ""  # type: ignore[attr-defined]
    return func


def assumption(func: Callable | None = None, /, *, when: Callable[[Any], bool] | None = None) -> Any:
    """Mark ``(self, before, step, after) -> bool`` as a named assumption on steps.

    An active assumption removes the steps it rejects. ``when(spec)`` says whether it is
    active for a configuration (for example ``lambda self: self.guest == "drain"``).
    """

    def mark(f: Callable) -> Callable:
        f._mc_assumption = AssumptionMeta(when, inspect.getdoc(f) or "")  # type: ignore[attr-defined]
        return f

    return mark(func) if func is not None else mark


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Step:
    """One action with its arguments, as it appears in a trace."""

    action: str
    args: tuple[tuple[str, Any], ...] = ()

    def arg(self, name: str) -> Any:
        for key, value in self.args:
            if key == name:
                return value
        raise KeyError(name)

    def __getitem__(self, name: str) -> Any:
        return self.arg(name)


# --------------------------------------------------------------------------- the base class


class Spec:
    """Base class of every spec.

    Subclasses declare :class:`Param` attributes and implement :meth:`fields` (the state's
    field types for this configuration) and :meth:`initial` (the initial states, built with
    :meth:`state`). Actions and properties are methods marked with the decorators above.
    """

    params: dict[str, Any]

    def __init__(self, **values: Any):
        declared = self.parameters()
        unknown = sorted(set(values) - set(declared))
        if unknown:
            raise UsageError(
                f"unknown parameter {unknown[0]!r} for {type(self).__name__}; "
                f"known: {', '.join(declared) or 'none'}"
            )
        params = {}
        for name, param in declared.items():
            value = values.get(name, param.default)
            needs_parse = param.parse_text is not None or not isinstance(param.default, str)
            if isinstance(value, str) and needs_parse:
                value = param.parse(value)
            else:
                param.check(value)
            params[name] = value
        self.params = params
        self.setup()

    @classmethod
    def parameters(cls) -> dict[str, Param]:
        """The declared parameters by name, in declaration order (base classes first)."""
        found: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Param):
                    found[name] = value
        return found

    def setup(self) -> None:
        """Derive sizes and names from the parameters (override when needed)."""

    def fields(self) -> Mapping[str, FieldType]:
        raise NotImplementedError

    def initial(self) -> Iterable[State]:
        raise NotImplementedError

    def state(self, **values: Any) -> State:
        """A state of this configuration; every field must be given."""
        cls = self.state_class()
        missing = [f for f in cls.fields if f not in values]
        extra = [f for f in values if f not in cls._index]
        if missing or extra:
            problem = f"missing {missing}" if missing else f"unknown {extra}"
            raise SpecError(
                f"state(): {problem}", where=Where.of(type(self).initial, type(self).__name__),
                fix=f"give exactly the fields {', '.join(cls.fields)}",
            )
        return tuple.__new__(cls, [values[f] for f in cls.fields])

    def state_class(self) -> type[State]:
        cls = self.__dict__.get("_state_class")
        if cls is None:
            cls = state_class(f"{type(self).__name__}State", self.fields())
            self.__dict__["_state_class"] = cls
        return cls

    def describe(self) -> str:
        """One line naming this configuration."""
        inner = " ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{type(self).__name__}({inner})"


# --------------------------------------------------------------------------- compiled form


@dataclass(frozen=True)
class ActionInstance:
    """An action with concrete arguments: what an engine fires."""

    name: str
    func: Callable[..., Any]
    args: tuple[Any, ...]
    step: Step
    where: Where | None


@dataclass(frozen=True)
class Property:
    name: str
    kind: PropertyKind
    func: Callable[..., Any]
    doc: str
    where: Where | None


@dataclass(frozen=True)
class Assumption:
    name: str
    func: Callable[..., Any]
    doc: str
    active: bool
    where: Where | None


@dataclass
class Compiled:
    """A spec instance checked and flattened for the engines."""

    spec: Spec
    state_class: type[State]
    initial: tuple[State, ...]
    actions: tuple[str, ...]
    instances: tuple[ActionInstance, ...]
    properties: dict[str, Property]
    assumptions: dict[str, Assumption]
    arg_types: dict[tuple[str, str], FieldType | None] = field(default_factory=dict)
    hints: dict[str, Callable[[Any, Any], Iterable[Any]]] = field(default_factory=dict)
    fairness: dict[str, Fairness] = field(default_factory=dict)  # condition name -> its kind and actions

    @property
    def active_assumptions(self) -> tuple[Assumption, ...]:
        return tuple(a for a in self.assumptions.values() if a.active)

    def instance_for(self, step: Step) -> ActionInstance | None:
        for inst in self.instances:
            if inst.step == step:
                return inst
        return None

    def show_arg(self, action: str, name: str, value: Any) -> str:
        ftype = self.arg_types.get((action, name))
        return ftype.show(value) if ftype is not None else str(value)

    def show_step(self, step: Step) -> str:
        parts = [self.show_arg(step.action, k, v) for k, v in step.args]
        return " ".join([step.action, *parts])

    def select(self, names: Iterable[str] | None) -> list[Property]:
        """The properties to check: all, or the named ones (UsageError on a misspelling)."""
        if not names:
            return list(self.properties.values())
        chosen = []
        for name in names:
            if name not in self.properties:
                raise UsageError(
                    f"no property {name!r} in {type(self.spec).__name__}; "
                    f"known: {', '.join(self.properties)}"
                )
            chosen.append(self.properties[name])
        return chosen


def _resolve_domain(spec: Spec, domain: Domain, where: Where | None, arg: str) -> tuple[list[Any], FieldType | None]:
    value: Any = domain
    if isinstance(value, str):
        if not hasattr(spec, value):
            raise SpecError(
                f"argument {arg!r} ranges over {value!r}, which the spec does not have",
                where=where, fix=f"define {value} on the spec or pass the values directly",
            )
        value = getattr(spec, value)
    if callable(value) and not isinstance(value, FieldType):
        value = value() if inspect.ismethod(value) else value(spec)
    if isinstance(value, FieldType):
        return list(value.values()), value
    try:
        return list(value), None
    except TypeError:
        raise SpecError(
            f"argument {arg!r}: domain {domain!r} is not a finite collection",
            where=where, fix="give a field type, a list, a range, or a method returning one",
        ) from None


def compile_spec(spec: Spec) -> Compiled:
    """Check a spec instance and flatten it for the engines (SpecError on a mistake)."""
    cls = type(spec)
    owner = cls.__name__
    state_cls = spec.state_class()
    instances: list[ActionInstance] = []
    actions: list[str] = []
    properties: dict[str, Property] = {}
    assumptions: dict[str, Assumption] = {}
    arg_types: dict[tuple[str, str], FieldType | None] = {}
    hints: dict[str, Callable[[Any, Any], Iterable[Any]]] = {}
    fairness: dict[str, Fairness] = {}
    for name in members_in_order(cls):
        func = getattr(cls, name)
        where = Where.of(func, owner)
        meta = getattr(func, "_mc_action", None)
        if meta is not None:
            _check_signature(func, ["self", "s", *[a for a, _ in meta.args]], where, "action")
            actions.append(name)
            if meta.hint is not None:
                hints[name] = meta.hint
            if meta.fair is not None:
                _add_fairness(fairness, name, meta.fair, where)
            domains = []
            for arg, domain in meta.args:
                values, ftype = _resolve_domain(spec, domain, where, arg)
                arg_types[(name, arg)] = ftype
                domains.append((arg, values))
            for combo in _product([v for _, v in domains]):
                step = Step(name, tuple(zip([a for a, _ in domains], combo)))
                instances.append(ActionInstance(name, func, tuple(combo), step, where))
            continue
        pmeta = getattr(func, "_mc_property", None)
        if pmeta is not None:
            expected = ["self", "before", "step", "after"] if pmeta.kind == "step" else ["self", "s"]
            _check_signature(func, expected, where, f"{pmeta.kind} property")
            properties[name] = Property(name, pmeta.kind, func, pmeta.doc, where)
            continue
        ameta = getattr(func, "_mc_assumption", None)
        if ameta is not None:
            _check_signature(func, ["self", "before", "step", "after"], where, "assumption")
            active = bool(ameta.when(spec)) if ameta.when is not None else True
            assumptions[name] = Assumption(name, func, ameta.doc, active, where)
    if not actions:
        raise SpecError(f"{owner} has no actions", fix="mark at least one method with @action")
    initial = tuple(spec.initial())
    if not initial:
        raise SpecError(
            "initial() produced no state", where=Where.of(cls.initial, owner),
            fix="yield at least one self.state(...)",
        )
    for s in initial:
        check_state(state_cls, s, Where.of(cls.initial, owner), "initial()")
    return Compiled(spec, state_cls, initial, tuple(actions), tuple(instances), properties,
                    assumptions, arg_types, hints, fairness)


def _add_fairness(fairness: dict[str, Fairness], action_name: str, fair: Any, where: Where | None) -> None:
    """Record action ``action_name``'s ``fair=`` declaration in ``fairness`` (condition name ->
    condition); SpecError for an unknown kind, or a group whose members disagree on the kind."""
    text = fair if isinstance(fair, str) else ""
    kind, _, group = text.partition(":")
    if kind not in FAIRNESS or (":" in text and not group.isidentifier()):
        raise SpecError(f"fairness {fair!r} is not supported", where=where,
                        fix='use fair="weak" or fair="strong" (or "weak:GROUP" / "strong:GROUP" '
                            "with a name for the group), or leave the action unfair")
    name = group or action_name
    known = fairness.get(name)
    if known is None:
        fairness[name] = Fairness(kind, (action_name,))
        return
    if not group or (len(known.actions) == 1 and known.actions[0] == name):
        raise SpecError(f"fairness group {name!r} has the name of an action with its own fairness",
                        where=where, fix="give the group a name no fairly declared action has")
    if known.kind != kind:
        raise SpecError(f"fairness group {name!r} mixes {known.kind} ({', '.join(known.actions)}) "
                        f"and {kind} ({action_name})", where=where,
                        fix=f'declare every action of group {name!r} with the same kind, e.g. '
                            f'fair="{known.kind}:{name}"')
    fairness[name] = Fairness(kind, (*known.actions, action_name))


def check_state(state_cls: type[State], s: Any, where: Where | None, what: str) -> None:
    """SpecError unless ``s`` is a state of this configuration with every field in range."""
    if type(s) is not state_cls:
        fix = "return s.replace(...) or use require() to disable the action"
        raise SpecError(f"{what} returned {type(s).__name__}, not a state", where=where, fix=fix)
    for name, value in zip(state_cls.fields, s):
        ftype = state_cls.types[name]
        if not ftype.contains(value):
            raise SpecError(
                f"{what} set field {name} to {value!r}, outside {ftype.describe()}",
                where=where, fix="widen the field's type in fields() or correct the effect",
            )


def _check_signature(func: Callable, expected: list[str], where: Where | None, what: str) -> None:
    names = list(inspect.signature(func).parameters)
    if names != expected:
        raise SpecError(
            f"{what} takes ({', '.join(names)})", where=where,
            fix=f"declare it as ({', '.join(expected)})",
        )


def members_in_order(cls: type) -> list[str]:
    """Method names in definition order, base classes first, each once."""
    seen: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        for name in vars(klass):
            seen.setdefault(name, None)
    return [n for n in seen if not n.startswith("__")]


def _product(lists: list[list[Any]]) -> Iterable[tuple[Any, ...]]:
    if not lists:
        yield ()
        return
    for head in lists[0]:
        for rest in _product(lists[1:]):
            yield (head, *rest)
