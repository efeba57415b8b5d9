"""modelcheck: explore every interleaving of a spec written in plain Python, and prove it with z3."""

from .errors import EngineBug, ModelcheckError, ResultsError, SpecError, UsageError
from .spec import (
    Param,
    Spec,
    Step,
    action,
    always,
    always_on_step,
    assumption,
    at_end,
    eventually,
    leads_to,
    require,
    sometimes,
)
from .types import Bool, Enum, Int, Seq, Tuple

__version__ = "0.1.0"

__all__ = [
    "Bool", "EngineBug", "Enum", "Int", "ModelcheckError", "Param", "ResultsError", "Seq", "Spec",
    "SpecError", "Step", "Tuple", "UsageError", "action", "always", "always_on_step", "assumption",
    "at_end", "eventually", "leads_to", "require", "sometimes",
]
