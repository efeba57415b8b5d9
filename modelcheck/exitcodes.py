"""Exit codes: one table, true for every command, from which each command's --help is printed.

A code means the same thing everywhere (0 as expected, 1 a violation or a difference,
2 bad input, 3 inconclusive, 4 a vacuous proof, 130 interrupted); what "as expected"
is for each command is its row's text. ``tests/test_exitcodes.py`` drives every
command into every outcome listed here and compares with its ``--help``.
"""

from __future__ import annotations

OK = 0
VIOLATION = 1
USAGE = 2
INCONCLUSIVE = 3
VACUOUS = 4
INTERRUPTED = 130

_USAGE = "usage error, spec error, or unreadable input (the message names the place and the fix)"
_INTERRUPTED = "interrupted (Ctrl-C): one line on stderr; no output file was written or changed"

TABLE: dict[str, dict[int, str]] = {
    "check": {
        OK: "every property holds; a NOT REACHED witness counts only when named with --property",
        VIOLATION: "a property is violated, or a witness named with --property is NOT REACHED",
        USAGE: _USAGE + "; --distributed where MPI or mpi4py is missing (the message says how to install "
                        "them); a --resume checkpoint of another spec, configuration or rank count, or damaged; "
                        "a --spill-dir that cannot be written, or no room left in it while the search spills",
        INCONCLUSIVE: "inconclusive: --max-states, --max-depth, --time-limit or the --memory budget cut the search "
                      "before a verdict",
        INTERRUPTED: _INTERRUPTED,
    },
    "matrix": {
        OK: "no case violates a property and every verdict is conclusive",
        VIOLATION: "some case violates a property (the table shows which)",
        USAGE: _USAGE + "; a --where NAME that is no parameter of the matrix",
        INCONCLUSIVE: "nothing violated, but some verdict is inconclusive (a bound was hit, or unknown)",
        INTERRUPTED: _INTERRUPTED,
    },
    "list": {OK: "the spec's parameters, assumptions, actions and properties were printed", USAGE: _USAGE},
    "graph": {
        OK: "the graph was written (a bound that cut it is noted on stderr)",
        USAGE: _USAGE,
        INTERRUPTED: _INTERRUPTED,
    },
    "prove": {
        OK: "every property proved, or (--engine bmc) no violation within --depth steps; a witness "
            "counts only when named with --property",
        VIOLATION: "a property is violated (its counterexample replayed in the explicit engine)",
        USAGE: _USAGE,
        INCONCLUSIVE: "inconclusive: solver unknown or timeout, or an engine bug (a trace that does not replay)",
        VACUOUS: "every property proved, but a proof is vacuous: an assumption it rests on blocks every "
                 "step of an action, allows no step from the initial states, or adds a deadlock (shown with a trace)",
        INTERRUPTED: _INTERRUPTED,
    },
    "simulate": {
        OK: "no violation found within the walks (not a proof: the walks may have missed it)",
        VIOLATION: "a walk violated a property (its trace and the shrunk trace were replayed)",
        USAGE: _USAGE,
        INTERRUPTED: _INTERRUPTED,
    },
    "run": {
        OK: "results written (violations found are results, not failures)",
        USAGE: _USAGE + "; an unusable --output or a corrupt conformance.json in it (checked before any work)",
        INCONCLUSIVE: "results written, but some verdict is inconclusive (a bound was hit, or unknown)",
        INTERRUPTED: "interrupted (Ctrl-C): one line on stderr; the previous results/ is left as it was",
    },
    "gate": {
        OK: "no difference from the committed results",
        VIOLATION: "some property differs from the committed results",
        USAGE: _USAGE + ", or a corrupt or foreign results file",
        INTERRUPTED: "interrupted (Ctrl-C): one line on stderr; the previous results/ is left as it was",
    },
    "conform": {
        OK: "QEMU ran every scenario and at least one profile conforms (a refuted profile is a finding); "
            "with --replay: the device followed every step of the trace",
        VIOLATION: "no profile asked for conforms: the spec does not describe the real device; "
                   "with --replay: the device went another way at some step (printed)",
        USAGE: "usage error (unknown profile, unreadable spec)",
        INCONCLUSIVE: "inconclusive: QEMU is not installed, or it timed out or misbehaved",
        INTERRUPTED: _INTERRUPTED,
    },
}


def epilog(command: str | None = None) -> str:
    """The 'exit codes:' block of ``command``'s --help (of every command, without one)."""
    if command is None:
        lines = ["exit codes: (the same meaning for every command; `modelcheck COMMAND --help` says more)",
                 "  0    as expected", "  1    a property is violated, or the gate found a difference",
                 f"  2    {_USAGE}", "  3    inconclusive: a bound was hit, the solver said unknown, or an engine bug",
                 "  4    prove: PROVED, but vacuously", f"  130  {_INTERRUPTED}"]
        return "\n".join(lines) + "\n"
    lines = ["exit codes:"]
    for code, text in TABLE[command].items():
        lines.append(f"  {code:<4} {text}")
    return "\n".join(lines) + "\n"


def documented(help_text: str) -> set[int]:
    """The exit codes a --help text lists under 'exit codes'."""
    codes: set[int] = set()
    block = help_text.split("exit codes", 1)[1] if "exit codes" in help_text else ""
    for line in block.splitlines()[1:]:
        head = line.strip().split(" ", 1)[0]
        if head.isdigit():
            codes.add(int(head))
    return codes
