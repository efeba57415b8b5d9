"""Benchmark: modelcheck's explicit engine against SPIN on the virtio-blk configurations of issue 6.

A script, not a test. Every run is a child process, so that its peak RSS
(``os.wait4``'s rusage) is its own; bytes per stored state are the RSS growth during
the search divided by the distinct states. For each configuration (small, medium,
large; see ``bench/spin/gen.py``) it runs

- our explicit engine in each mode: ``plain`` (no reduction, one process), ``symmetry``,
  ``por``, ``both`` and ``parallel`` (every core); and the compiled successor mode:
  ``compiled-cold`` (code generated: the child's code cache starts empty), ``compiled``
  (code from the cache the cold run filled), ``compiled-symmetry``, ``compiled-parallel``
  and ``compiled-symmetry-parallel``; and the native search (the compiled code and the
  compact-store search in C, :mod:`modelcheck.explicit.native.driver`): ``native-cold`` (empty cache: code
  generated and compiled by the C compiler), ``native`` (both from the cache), ``native-symmetry`` and
  ``native-symmetry-cold`` likewise with ``--symmetry``. A row says
  where its code came from; its seconds include getting it. A mode runs only when
  ``modelcheck.explicit.search.SearchOptions`` has its switch and the engine accepts it; otherwise
  its row says ``n/a`` with the reason;
- SPIN on the generated Promela model (``spin -o2 -a``, then ``gcc -O2 -DSAFETY`` with and
  without ``-DNOREDUCE``, then ``./pan -m100000``), timing the compile separately.

It checks that SPIN's distinct states equal ours in plain mode, and that verdicts agree,
and writes ``bench/results/bench.md`` and ``bench/results/bench.json`` (plus
``bench/results/bench.svg``, a bar chart of the seconds)::

    python bench/bench_explicit.py                      # small, medium, large
    python bench/bench_explicit.py --configs small,medium --timeout 600
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPEC = str(ROOT / "specs" / "virtio_blk.py")
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE / "spin"))

from gen import CONFIGS, Config, Model  # noqa: E402

MODES: dict[str, dict[str, Any]] = {
    "plain": {},
    "symmetry": {"symmetry": True},
    "por": {"por": True},
    "both": {"symmetry": True, "por": True},
    "parallel": {"workers": os.cpu_count() or 1},
    "compiled-cold": {"compiled": True},
    "compiled": {"compiled": True},
    "compiled-symmetry": {"compiled": True, "symmetry": True},
    "compiled-parallel": {"compiled": True, "workers": os.cpu_count() or 1},
    "compiled-symmetry-parallel": {"compiled": True, "symmetry": True, "workers": os.cpu_count() or 1},
    "native-cold": {"native": True},
    "native": {"native": True},
    "native-symmetry": {"native": True, "symmetry": True},
    "native-symmetry-cold": {"native": True, "symmetry": True},
    "default-cold": {"backend": "auto"},  # what `modelcheck check` does with no engine flag, empty cache
    "simulate": {"simulate": True},  # random walks on every core for --sim-seconds (not exhaustive)
}
# run with an empty code cache (then filled)
COLD = {"compiled-cold", "native-cold", "native-symmetry-cold", "default-cold"}
PLAIN_MODES = ("plain", "compiled-cold", "compiled", "native-cold", "native")  # the per-core speed goal
SAMPLED = {"simulate"}  # modes that do not enumerate: no state count or verdict to agree on
SPIN_VARIANTS = {"spin": ["-DSAFETY"], "spin-noreduce": ["-DSAFETY", "-DNOREDUCE"]}
MEMLIM_MB = 8192  # pan's memory limit for small, medium and large
BIG = {"xlarge", "xlarge-w5"}  # configurations where pan's limit is the machine's memory
XLARGE_MODES = "native-cold,native-symmetry-cold,simulate"  # what --configs xlarge runs by default (with SPIN)


def memlim_mb(config: str) -> int:
    """pan's -DMEMLIM: :data:`MEMLIM_MB`, or for the big configurations all of this machine's memory."""
    if config not in BIG:
        return MEMLIM_MB
    with contextlib.suppress(OSError, StopIteration, ValueError):
        total_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                        if line.startswith("MemTotal:"))
        return total_kb // 1024
    return MEMLIM_MB


# --------------------------------------------------------------------------- children


def run_child(argv: list[str], timeout: float, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one command; its output, return code and wall seconds (killed with its group on timeout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=env)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return {"stdout": out, "stderr": err, "rc": proc.returncode, "seconds": time.perf_counter() - started,
            "timed_out": timed_out}


def run_measured(argv: list[str], timeout: float, cwd: Path | None = None) -> dict[str, Any]:
    """Like :func:`run_child`, with the child's own peak RSS from ``os.wait4`` (output to files)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err, start_new_session=True)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"stdout": out.read(), "stderr": err.read(), "rc": proc.returncode, "seconds": seconds,
                "timed_out": timed_out, "rss": usage.ru_maxrss * 1024}


# --------------------------------------------------------------------------- our engine


def available_modes() -> dict[str, str]:
    """Per mode: "" when SearchOptions has its switches, else why it is n/a."""
    from modelcheck.explicit import SearchOptions

    names = {f.name for f in dataclasses.fields(SearchOptions)}
    return {mode: "" if mode in SAMPLED or set(opts) <= names
            else f"SearchOptions has no {', '.join(sorted(set(opts) - names))}" for mode, opts in MODES.items()}


def worker(config: str, mode: str, store: str, sim_seconds: float = 60.0) -> None:
    """In the child: one check, printed as one JSON line (states, transitions, verdict, RSS)."""
    if mode == "simulate":
        simulate_worker(config, sim_seconds)
        return
    import modelcheck.explicit.compiled.expander  # noqa: F401  (z3 and the code generator: imports, not per-state memory)
    from modelcheck.check import check, configure
    from modelcheck.explicit import SearchOptions

    cfg = CONFIGS[config]
    spec = configure(SPEC, cfg.settings())
    names = {f.name for f in dataclasses.fields(SearchOptions)}
    opts: dict[str, Any] = dict(MODES[mode])
    if "store" in names and "backend" not in opts:  # the default search picks its own store
        opts["store"] = store
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    run = check(spec, [cfg.property], SearchOptions(**opts))
    seconds = time.perf_counter() - started
    result = run.results[0]
    code: dict[str, Any] = {}
    if opts.get("backend") == "auto":
        ex = run.exploration
        code = {"plan": ex.plan, "code_origin": ex.code_origin, "native_origin": ex.native}
    elif opts.get("compiled") or opts.get("native"):
        from modelcheck.explicit.compiled.expander import flat_expander

        flat, why = flat_expander(run.compiled, run.compiled.select([cfg.property]))
        code = {"fallback": run.exploration.fallback or why} if flat is None else \
            {"from_cache": flat.from_cache, "codegen_seconds": flat.codegen_seconds}
    if opts.get("native"):
        ex = run.exploration
        code.update({"native_fallback": ex.native_fallback} if not ex.native else
                    {"native_from_cache": ex.native_from_cache, "native_seconds": ex.native_seconds,
                     "native_origin": ex.native})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(json.dumps({"states": result.states, "transitions": result.transitions, "depth": result.depth,
                      "verdict": result.verdict.name, "seconds": seconds, "baseline_rss": baseline,
                      "rss": peak, "children_rss": children, "options": {k: v for k, v in opts.items()}, **code}))


def simulate_worker(config: str, seconds: float) -> None:
    """In the child: ``modelcheck simulate`` for ``seconds`` on every core (depth 60, seed 1); the
    row's states are the distinct states the walks saw, its transitions the steps they took."""
    from modelcheck.check import configure
    from modelcheck.simulate import simulate
    from modelcheck.spec import compile_spec

    cfg = CONFIGS[config]
    compiled = compile_spec(configure(SPEC, cfg.settings()))
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    sim = simulate(compiled, compiled.select([cfg.property]), 60, 1, seconds=seconds, workers=os.cpu_count() or 1)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    est = sim.coverage.estimate
    print(json.dumps({"states": sim.coverage.distinct_states, "transitions": sim.steps, "depth": sim.depth,
                      "verdict": "VIOLATED" if sim.violation else "none found", "seconds": elapsed,
                      "baseline_rss": baseline, "rss": peak, "children_rss": children,
                      "options": {"workers": sim.workers, "seconds": seconds},
                      "walks": sim.walks, "estimate": est.states}))


def bench_mode(config: str, mode: str, store: str, timeout: float, cache: Path,
               sim_seconds: float = 60.0) -> dict[str, Any]:
    """One mode of our engine on one configuration, in a child process whose compiled-code
    cache is ``cache`` (emptied first for a cold mode)."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", config, mode, "--store", store,
            "--sim-seconds", str(sim_seconds)]
    if mode in COLD:
        shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    got = run_child(argv, timeout, cwd=ROOT, env={**os.environ, "MODELCHECK_CACHE_DIR": str(cache)})
    row: dict[str, Any] = {"engine": "modelcheck", "mode": mode, "config": config}
    if got["timed_out"]:
        return {**row, "status": f"timeout after {timeout:.0f}s"}
    if got["rc"] != 0:
        last = (got["stderr"].strip().splitlines() or ["no output"])[-1]
        return {**row, "status": f"n/a: {last[:160]}"}
    data = json.loads(got["stdout"].strip().splitlines()[-1])
    row.update(data, status="ok", wall=got["seconds"])
    row["bytes_per_state"] = max(data["rss"] - data["baseline_rss"], 0) / max(data["states"], 1)
    row["states_per_second"] = data["states"] / data["seconds"] if data["seconds"] else None
    return row


# --------------------------------------------------------------------------- SPIN


def spin_version() -> str:
    try:
        out = subprocess.run(["spin", "-V"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.strip()


def parse_pan(text: str) -> dict[str, Any]:
    """States, transitions, errors, depth and SPIN's own memory figures from pan's report."""
    def number(pattern: str, cast: type = int) -> Any:
        m = re.search(pattern, text)
        return cast(m.group(1)) if m else None

    transitions = re.search(r"([\d.e+]+) transitions \(= stored\+matched\)", text)
    return {
        "states": number(r"(\d+) states, stored"),
        "matched": round(number(r"([\d.e+]+) states, matched", float) or 0),
        "spin_transitions": round(float(transitions.group(1))) if transitions else None,
        "transitions_digits": pan_digits(transitions.group(1)) if transitions else None,
        "errors": number(r"errors: (\d+)"),
        "depth": number(r"depth reached (\d+)"),
        "vector_bytes": number(r"State-vector (\d+) byte"),
        "state_mb": number(r"([\d.]+)\s+actual memory usage for states", float),
        "total_mb": number(r"([\d.]+)\s+total actual memory usage", float),
        "pan_seconds": number(r"pan: elapsed time ([\d.e+-]+)", float),
        "transitions_rounded": bool(transitions and "e" in transitions.group(1)),
    }


def pan_digits(printed: str) -> int | None:
    """The significant digits of a count pan printed with ``%9.8g``: None when exact (plain
    digits), else the mantissa's (8 at most: past 10^8, pan's counts are rounded)."""
    if "e" not in printed:
        return None
    return sum(ch.isdigit() for ch in printed.split("e")[0].lstrip("0."))


def bench_spin(config: str, variant: str, timeout: float, workdir: Path) -> dict[str, Any]:
    """SPIN on one configuration: compile (spin -a, gcc) and verify, each timed."""
    row: dict[str, Any] = {"engine": "spin", "mode": variant, "config": config}
    if not spin_version():
        return {**row, "status": "n/a: spin not installed (apt-get install spin)"}
    cfg: Config = CONFIGS[config]
    (workdir / "model.pml").write_text(Model(cfg).promela())
    started = time.perf_counter()
    steps = [["spin", "-o2", "-a", "model.pml"],
             ["gcc", "-O2", "-w", *SPIN_VARIANTS[variant], f"-DMEMLIM={memlim_mb(config)}", "-o", "pan", "pan.c"]]
    for argv in steps:
        got = run_child(argv, timeout, cwd=workdir)
        if got["rc"] != 0:
            return {**row, "status": f"n/a: {' '.join(argv[:2])} failed: {got['stderr'].strip()[-160:]}"}
    compile_seconds = time.perf_counter() - started
    got = run_measured(["./pan", "-m100000"], timeout, cwd=workdir)
    if got["timed_out"]:
        return {**row, "status": f"timeout after {timeout:.0f}s", "compile_seconds": compile_seconds}
    pan = parse_pan(got["stdout"])
    if pan["states"] is None:
        return {**row, "status": f"n/a: pan said {got['stdout'].strip()[-160:]}"}
    seconds = got["seconds"]
    row.update(pan, status="ok", seconds=seconds, compile_seconds=compile_seconds, memlim_mb=memlim_mb(config),
               total_seconds=seconds + compile_seconds, rss=got["rss"],
               verdict="HOLDS" if pan["errors"] == 0 else "VIOLATED",
               transitions=pan["spin_transitions"] - 1,  # pan counts the initial state as one
               states_per_second=pan["states"] / seconds if seconds else None,
               bytes_per_state=pan["state_mb"] * 2**20 / pan["states"] if pan["state_mb"] else None)
    return row


# --------------------------------------------------------------------------- report


def fmt(value: Any, spec: str = ",.0f") -> str:
    if value is None:
        return "–"
    return format(value, spec)


def rss_text(r: dict[str, Any]) -> str:
    """Peak RSS in MB; for parallel runs also the largest worker process's peak."""
    text = fmt(r["rss"] / 2**20, ".0f")
    if r.get("children_rss") and r.get("options", {}).get("workers", 1) > 1:  # not the C compiler's
        text += f" (+{r['children_rss'] / 2**20:.0f} per worker)"
    return text


def mode_text(r: dict[str, Any]) -> str:
    """The mode, and for compiled modes where the generated code came from (its seconds are in the total)."""
    if r["mode"] == "simulate":
        return (f"simulate ({r['options']['seconds']:g} s on {r['options']['workers']} cores, {r['walks']:,} walks; "
                f"states = distinct states seen, capture-recapture estimate {r['estimate']:,.0f})")
    if r.get("plan"):
        origin = "; ".join(x for x in (r.get("code_origin"), r.get("native_origin")) if x)
        return f"{r['mode']} ({r['plan']}{'; ' + origin if origin else ''})"
    if "native_seconds" in r:
        how = "cached" if r["from_cache"] else "generated"
        c = "cached" if r["native_from_cache"] else "compiled"
        if "search's part from the cache" in r.get("native_origin", ""):
            c = "compiled, the search's unit from the cache"
        elif "search's part compiled while" in r.get("native_origin", ""):
            c = "compiled, the search's unit during the code generation"
        return f"{r['mode']} (code {how}, {r['codegen_seconds']:.2f} s; C {c}, {r['native_seconds']:.2f} s)"
    if r.get("native_fallback"):
        return f"{r['mode']} (ran in Python: {r['native_fallback']})"
    if "from_cache" in r:
        how = "cached" if r["from_cache"] else "generated"
        return f"{r['mode']} (code {how}, {r['codegen_seconds']:.2f} s)"
    if r.get("fallback"):
        return f"{r['mode']} (ran plain: {r['fallback']})"
    return r["mode"]


def goals(rows: list[dict[str, Any]]) -> list[str]:
    """Issue 6's goals, each with the measured figure it is judged on."""
    ok = [r for r in rows if r["status"] == "ok" and r["engine"] == "modelcheck"]
    lines = []
    medium = [r for r in ok if r["config"] == "medium" and r["mode"] in PLAIN_MODES]
    if medium:
        best = max(medium, key=lambda r: r["states_per_second"])
        met = "met" if best["states_per_second"] >= 100_000 else "not met"
        each = ", ".join(f"{r['mode']} {r['states_per_second']:,.0f}" for r in medium)
        lines.append(f"- ≥ 100,000 states/s per core, medium, no reduction, one process: {met} "
                     f"(states/s, code generation included: {each}).")
    spin = next((r for r in rows if r["config"] == "large" and r["mode"] == "spin-noreduce" and r["status"] == "ok"),
                None)
    for config, share in (("large", 0.5), ("medium", 1.0)):
        spin_c = next((r for r in rows if r["config"] == config and r["mode"] == "spin" and r["status"] == "ok"),
                      None)
        default = next((r for r in ok if r["config"] == config and r["mode"] == "default-cold"), None)
        if spin_c and default:
            limit = share * spin_c["total_seconds"]
            met = "met" if default["seconds"] <= limit else "not met"
            lines.append(f"- {config}, no engine flag, empty code cache, time to verdict ≤ {share:g} × SPIN's with "
                         f"compile ({limit:.2f} s): {met} ({default['seconds']:.2f} s; {default['plan']}).")
    large = [r for r in ok if r["config"] == "large"]
    if spin and large:
        best = min(large, key=lambda r: r["seconds"])
        met = "met" if best["seconds"] <= spin["total_seconds"] else "not met"
        lines.append(f"- large, time to verdict ≤ SPIN's with compile ({spin['total_seconds']:.2f} s): {met} "
                     f"(fastest: {best['mode']}, {best['seconds']:.2f} s, "
                     f"{best['seconds'] / spin['total_seconds']:.1f}x).")
    lines += xlarge_goals(rows)
    ok = [r for r in ok if r["mode"] not in SAMPLED]
    largest = max((r for r in ok if r.get("bytes_per_state") is not None), key=lambda r: r["states"], default=None)
    if largest is not None:
        runs = [r for r in ok if r["config"] == largest["config"] and r.get("bytes_per_state") is not None]
        within = [r["mode"] for r in runs if r["bytes_per_state"] <= 100]
        lines.append(f"- ≤ 100 bytes per stored state, judged on the largest configuration run "
                     f"({largest['config']}, where fixed costs weigh least): "
                     f"{'met by ' + ', '.join(within) if within else 'not met'} "
                     f"(bytes/state: " + ", ".join(f"{r['mode']} {r['bytes_per_state']:.0f}" for r in runs) + ").")
    return lines


def xlarge_goals(rows: list[dict[str, Any]]) -> list[str]:
    """Issue 19's goals on the big configurations: native ≤ 0.25 × SPIN's time with its compile (the
    faster SPIN variant), native with symmetry ≤ 0.1 ×, and ≤ 40 bytes per stored state natively."""
    lines = []
    for config in [c for c in dict.fromkeys(r["config"] for r in rows) if c in BIG]:
        spins = [r for r in rows if r["config"] == config and r["engine"] == "spin" and r["status"] == "ok"]
        mine = {r["mode"]: r for r in rows if r["config"] == config and r["engine"] == "modelcheck"
                and r["status"] == "ok"}
        spin = min(spins, key=lambda r: r["total_seconds"], default=None)
        for mode, share in (("native", 0.25), ("native-symmetry", 0.1)):
            r = mine.get(f"{mode}-cold") or mine.get(mode)  # judged on a cold run where there is one
            if r is None:
                continue
            paid = ("code generation and C compile included" if not r.get("from_cache") and not
                    r.get("native_from_cache") else "code generation or C compile from an earlier mode's cache")
            if spin is None:
                lines.append(f"- {config}, {mode} ≤ {share:g} × SPIN's time with compile: no SPIN result.")
                continue
            ratio = r["seconds"] / spin["total_seconds"]
            lines.append(f"- {config}, {r['mode']} ({paid}) ≤ {share:g} × SPIN's time "
                         f"with compile ({spin['mode']}, {spin['total_seconds']:.2f} s): "
                         f"{'met' if ratio <= share else 'not met'} ({r['seconds']:.2f} s, {ratio:.2f}x).")
        r = mine.get("native-cold") or mine.get("native")
        if r is not None:
            met = "met" if r["bytes_per_state"] <= 40 else "not met"
            lines.append(f"- {config}, native search ≤ 40 bytes per stored state: {met} "
                         f"({r['bytes_per_state']:.1f}; peak RSS {r['rss'] / 2**20:,.0f} MB).")
    return lines


def table(rows: list[dict[str, Any]]) -> list[str]:
    """One markdown table row per run, with the comparison columns against SPIN."""
    head = ["config", "engine", "mode", "states", "transitions", "seconds", "states/s", "peak RSS MB",
            "bytes/state", "verdict", "vs SPIN"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['config']} | {r['engine']} | {r['mode']} | {r['status']} |" + " |" * 7)
            continue
        seconds = fmt(r["seconds"], ".2f")
        if r["engine"] == "spin":
            seconds += f" (+{r['compile_seconds']:.2f} compile)"
        lines.append("| " + " | ".join([
            r["config"], r["engine"], mode_text(r), fmt(r["states"]),
            ("≈" if r.get("transitions_digits") else "") + fmt(r["transitions"]), seconds,
            fmt(r.get("states_per_second")), rss_text(r), fmt(r.get("bytes_per_state"), ".0f"),
            r["verdict"], r.get("vs_spin", ""),
        ]) + " |")
    return lines


def compare(rows: list[dict[str, Any]]) -> list[str]:
    """Fill ``vs_spin`` on our rows and return the agreement lines (states and verdicts)."""
    notes = []
    for config in dict.fromkeys(r["config"] for r in rows):
        spins = [r for r in rows if r["config"] == config and r["engine"] == "spin" and r["status"] == "ok"]
        spin = next((r for r in spins if r["mode"] == "spin-noreduce"), spins[0] if spins else None)
        if spin is None:
            notes.append(f"- {config}: no SPIN result to compare with.")
            continue
        exact = "plain" if any(r["config"] == config and r["mode"] == "plain" for r in rows) else "native"
        for r in rows:
            if r["config"] != config or r["engine"] != "modelcheck" or r["status"] != "ok" or r["mode"] in SAMPLED:
                continue
            ratio = r["seconds"] / spin["total_seconds"]
            r["vs_spin"] = f"{ratio:.1f}x time (compile incl.), {r['seconds'] / spin['seconds']:.1f}x (excl.)"
            r["verdicts_agree"] = r["verdict"] == spin["verdict"]
            if r["mode"] == exact:
                same, how = transitions_agree(r["transitions"], spin)
                same = same and r["states"] == spin["states"]
                r["states_agree"] = same
                shown = f"≈{spin['transitions']:,}" if spin.get("transitions_digits") else f"{spin['transitions']:,}"
                notes.append(f"- {config}: {exact} {r['states']:,} states / {r['transitions']:,} transitions, "
                             f"SPIN {spin['states']:,} / {shown}: "
                             f"{how if same else 'DIFFERENT'}; verdicts {r['verdict']} / "
                             f"{spin['verdict']}: {'agree' if r['verdicts_agree'] else 'DISAGREE'}.")
            elif not r["verdicts_agree"]:
                notes.append(f"- {config}: mode {r['mode']} says {r['verdict']}, SPIN {spin['verdict']}: DISAGREE.")
    return notes


def transitions_agree(ours: int, spin: dict[str, Any]) -> tuple[bool, str]:
    """Whether our transitions are SPIN's, and how that is known. pan prints its counts with
    ``%9.8g``: past 10^8 only 8 significant digits, so its figure (stored + matched, the initial
    state counted as one) is rounded, and ours can only be found inside the range it stands for;
    the note then says the agreement is only that close."""
    digits = spin.get("transitions_digits")
    if not digits:
        return ours == spin["transitions"], "identical"
    low, high = spin_range(spin["transitions"] + 1, digits)
    return (low - 1 <= ours <= high - 1,
            f"states identical, transitions agree within pan's rounding (pan prints {digits} significant "
            f"digits, so SPIN's count is {low - 1:,} to {high - 1:,})")


def spin_range(printed: int, digits: int) -> tuple[int, int]:
    """The counts that pan prints as ``printed`` with ``digits`` significant digits (both ends in)."""
    unit = 10 ** max(len(str(printed)) - digits, 0)
    return printed - unit // 2, printed + (unit - 1) // 2


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """A small SVG bar chart: seconds to verdict (SPIN: compile included) per configuration and
    engine/mode, on a log scale. Written directly, so the benchmark needs no plotting library."""
    import math
    from xml.sax.saxutils import escape

    done = [r for r in rows if r["status"] == "ok"]
    bar_h, gap, left, right, top = 14, 6, 250, 720, 24
    values = [r.get("total_seconds", r["seconds"]) for r in done]
    lo = math.floor(math.log10(max(min(values, default=1), 1e-3)))
    hi = math.ceil(math.log10(max(values, default=1)) + 1e-9)
    hi = max(hi, lo + 1)

    def x(v: float) -> float:
        return left + (right - left) * (math.log10(max(v, 10 ** lo)) - lo) / (hi - lo)

    out = []
    y = top
    for config in dict.fromkeys(r["config"] for r in done):
        out.append(f'<text x="4" y="{y + 11}" font-weight="bold">{escape(config)}</text>')
        y += bar_h + gap
        for r in (r for r in done if r["config"] == config):
            v = r.get("total_seconds", r["seconds"])
            colour = "#c0504d" if r["engine"] == "spin" else "#4f81bd"
            out += [f'<text x="{left - 6}" y="{y + 11}" text-anchor="end">{escape(r["mode"])}</text>',
                    f'<rect x="{left}" y="{y}" width="{x(v) - left:.1f}" height="{bar_h}" fill="{colour}"/>',
                    f'<text x="{x(v) + 4:.1f}" y="{y + 11}">{v:.2f} s</text>']
            y += bar_h + gap
    ticks = []
    for e in range(lo, hi + 1):
        ticks += [f'<line x1="{x(10 ** e):.1f}" y1="{top - 4}" x2="{x(10 ** e):.1f}" y2="{y}" stroke="#ddd"/>',
                  f'<text x="{x(10 ** e):.1f}" y="{top - 8}" text-anchor="middle">{10 ** e:g} s</text>']
    height = y + 10
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{right + 80}" height="{height}" '
                    f'font-family="sans-serif" font-size="11">\n'
                    f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(ticks + out) + "\n</svg>\n")


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "spin": spin_version(),
            "load_average": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def write(rows: list[dict[str, Any]], notes: list[str], info: dict[str, Any], out: Path, stem: str = "bench") -> None:
    out.mkdir(parents=True, exist_ok=True)
    clean = [{k: v for k, v in r.items() if k not in ("stdout", "stderr")} for r in rows]
    payload = {"machine": info, "configs": {c: dataclasses.asdict(CONFIGS[c]) for c in
                                            dict.fromkeys(r["config"] for r in rows)}, "runs": clean}
    (out / f"{stem}.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    title = "issue 19: the xlarge configuration" if stem.startswith("xlarge") else "issue 6"
    lines = [f"# modelcheck explicit engine vs SPIN (virtio-blk, {title})", "",
             f"Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
             f"{info['spin'] or 'no SPIN'}; load average at start {info['load_average'][0]:.2f}"
             + (f", at the end {info['load_end'][0]:.2f}" if info.get("load_end") else "") + f"; {info['date']}.",
             "", "Generated by `python bench/bench_explicit.py`; see bench/README.md for what each column means.", ""]
    for name in payload["configs"]:
        cfg = CONFIGS[name]
        lines.append(f"- **{name}**: `{cfg.workload}`, qdepth {cfg.qdepth}, {cfg.guest}, {cfg.profile}, "
                     f"failures {cfg.failures}, flush_failures {cfg.flush_failures}, migrations {cfg.migrations}, "
                     f"evict {cfg.evict}, order {cfg.order}: `{cfg.property}`")
    lines += ["", *table(rows), "", "Agreement:", "", *notes, "", "Goals (issues 6 and 19):", "", *goals(rows), ""]
    plot(rows, out / f"{stem}.svg")
    lines += [f"![seconds to verdict per configuration and mode]({stem}.svg)", ""]
    (out / f"{stem}.md").write_text("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="small,medium,large", help="comma-separated: small, medium, large")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated engine modes")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run (default 1800)")
    parser.add_argument("--store", default="compact", help="our engine's state store, if it has the option")
    parser.add_argument("--no-spin", action="store_true", help="skip SPIN")
    parser.add_argument("--spin-variants", default=",".join(SPIN_VARIANTS),
                        help="comma-separated SPIN variants (default: spin,spin-noreduce)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for bench.md / bench.json")
    parser.add_argument("--name", default=None,
                        help="file stem of the results (default: bench; xlarge when only big configurations run)")
    parser.add_argument("--sim-seconds", type=float, default=60.0, help="seconds of the simulate mode (default 60)")
    parser.add_argument("--worker", nargs=2, metavar=("CONFIG", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker, store=args.store, sim_seconds=args.sim_seconds)
        return 0
    configs = [c for c in args.configs.split(",") if c]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration {unknown[0]!r}; known: {', '.join(CONFIGS)}")
    only_big = all(c in BIG for c in configs)
    modes = args.modes if args.modes != ",".join(MODES) or not only_big else XLARGE_MODES
    name = args.name or ("xlarge" if only_big else "bench")
    info = machine()
    missing = available_modes()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mc-bench-") as tmp:
        for config in configs:
            if not args.no_spin:
                for variant in [v for v in args.spin_variants.split(",") if v in SPIN_VARIANTS]:
                    rows.append(bench_spin(config, variant, args.timeout, Path(tmp)))
                    print(_line(rows[-1]), file=sys.stderr, flush=True)
            for mode in modes.split(","):
                if missing.get(mode):
                    rows.append({"engine": "modelcheck", "mode": mode, "config": config,
                                 "status": f"n/a: {missing[mode]}"})
                else:
                    rows.append(bench_mode(config, mode, args.store, args.timeout, Path(tmp) / "code-cache",
                                           args.sim_seconds))
                print(_line(rows[-1]), file=sys.stderr, flush=True)
    notes = compare(rows)
    info["load_end"] = os.getloadavg()
    write(rows, notes, info, args.out, name)
    print("\n".join(notes))
    bad = any(r.get("states_agree") is False or r.get("verdicts_agree") is False for r in rows)
    return 1 if bad else 0


def _line(r: dict[str, Any]) -> str:
    if r["status"] != "ok":
        return f"{r['config']:7} {r['engine']:10} {r['mode']:27} {r['status']}"
    return (f"{r['config']:7} {r['engine']:10} {r['mode']:27} {r['states']:>10,} states {r['transitions']:>11,} "
            f"transitions {r['seconds']:8.2f}s  {r['rss'] / 2**20:7.0f} MB  {r['verdict']}")


if __name__ == "__main__":
    sys.exit(main())
