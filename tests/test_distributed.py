"""The partitioned search: the single-process search's answers on 1, 2 and 3 ranks, checkpoints, resume.

Runs with MPI start ``mpirun -n N --oversubscribe`` (as root too) and skip, saying why, where
mpirun or mpi4py is missing; CI installs both (``.ci/run``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import NODRAIN, ROOT, SMALL, VIRTIO
from test_native import Jumps

from modelcheck.check import check, configure
from modelcheck.explicit import SearchOptions
from modelcheck.explicit.checkpoint import MANIFEST, CheckpointError

# every property (`completion` is at_end: the partitioned search peels its graph for cycles)
PROPS = ["barrier", "flush_contract", "barrier_order", "conservation", "restart_order", "restart_after_resume",
         "read_your_writes", "completion", "flush_seen_while_write_parked", "request_parked"]
CLOCK = str(ROOT / "tests" / "fixtures" / "clock.py")
SETS = {**SMALL, "guest": "nodrain"}  # 85,107 states; barrier, barrier_order and restart_order violated


def _mpi_missing() -> str:
    if shutil.which("mpirun") is None:
        return "mpirun not found (apt-get install openmpi-bin libopenmpi-dev)"
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py not installed (pip install -e '.[cluster]')"
    return ""


needs_mpi = pytest.mark.skipif(bool(_mpi_missing()), reason=_mpi_missing() or "MPI present")


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    return env


def _cli(settings: dict, props: list[str], *extra: str) -> list[str]:
    argv = ["check", VIRTIO, "-q", "--no-progress"]
    for k, v in settings.items():
        argv += ["--set", f"{k}={v}"]
    for p in props:
        argv += ["-p", p]
    return argv + list(extra)


def mpirun(n: int, argv: list[str], timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    cmd = ["mpirun", "-n", str(n), "--oversubscribe", sys.executable, "-m", "modelcheck", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, env={**_env(), **env}, timeout=timeout, cwd=ROOT)


def summary(results: list) -> list[tuple]:
    return [(r.name, r.verdict.value, r.states, r.transitions, r.depth, len(r.trace) if r.trace else None)
            for r in results]


def json_summary(path: Path) -> list[tuple]:
    data = json.loads(path.read_text())
    return [(r["property"], r["verdict"], r["states"], r["transitions"], r["depth"],
             len(r["trace"]["steps"]) if r["trace"] else None) for r in data["results"]]


@pytest.fixture(scope="module")
def single() -> list[tuple]:
    return summary(check(configure(VIRTIO, SETS), PROPS, SearchOptions(backend="auto")).results)


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_mpirun_gives_the_single_process_answer(ranks, single, tmp_path):
    out = tmp_path / "out.json"
    done = mpirun(ranks, _cli(SETS, PROPS, "--distributed", "--json", str(out)))
    assert done.returncode == 1, done.stderr  # barrier is violated
    assert json_summary(out) == single
    assert f"{ranks} MPI ranks" in done.stdout
    assert done.stdout.count("search: partitioned") == 1  # only rank 0 prints


@needs_mpi
def test_without_a_c_compiler_the_ranks_run_the_compiled_python_kernel(tmp_path):
    one = check(configure(VIRTIO, NODRAIN), ["barrier", "completion"], SearchOptions(backend="interpreted"))
    out = tmp_path / "out.json"
    done = mpirun(2, _cli(NODRAIN, ["barrier", "completion"], "--distributed", "--json", str(out)),
                  CC="/nonexistent/cc")
    assert done.returncode == 1, done.stderr
    assert "compiled Python successors" in done.stdout
    assert json_summary(out) == summary(one.results)


def test_one_process_gives_the_single_process_answer(single, tmp_path):
    run = check(configure(VIRTIO, SETS), PROPS, SearchOptions(checkpoint=str(tmp_path / "ck")))
    assert summary(run.results) == single
    assert any(r.trace is not None and r.verdict.value == "VIOLATED" for r in run.results)


def test_a_liveness_property_is_unknown_there_and_says_why(tmp_path):
    """Every property is the default: a liveness one (progress) is not judged by the partitioned
    search, which keeps no steps; it is UNKNOWN, saying so, and the others are judged."""
    run = check(configure(VIRTIO, NODRAIN), None, SearchOptions(checkpoint=str(tmp_path / "ck")))
    by_name = {r.name: r for r in run.results}
    assert by_name["progress"].verdict.value == "UNKNOWN" and "--distributed" in by_name["progress"].reason
    assert by_name["barrier"].verdict.value == "VIOLATED"


def test_a_cycle_fails_an_at_end_property_as_in_one_process(tmp_path):
    from modelcheck.loader import load_spec_class

    clock = load_spec_class(CLOCK)
    one = check(clock(), None, SearchOptions(backend="native"))
    part = check(clock(), None, SearchOptions(checkpoint=str(tmp_path / "ck")))
    assert summary(part.results) == summary(one.results)
    stops = next(r for r in part.results if r.name == "stops")
    assert stops.verdict.value == "VIOLATED" and stops.trace.loop_start is not None  # a lasso, replayed


@needs_mpi
def test_a_cycle_found_across_ranks(tmp_path):
    from modelcheck.loader import load_spec_class

    one = check(load_spec_class(CLOCK)(), None, SearchOptions(backend="native"))
    out = tmp_path / "out.json"
    done = mpirun(2, ["check", CLOCK, "--distributed", "-q", "--json", str(out)])
    assert done.returncode == 1, done.stderr
    assert json_summary(out) == summary(one.results)


def test_a_step_property_and_the_python_kernel(monkeypatch, tmp_path):
    plain = check(Jumps(), None, SearchOptions(backend="interpreted"))
    monkeypatch.setenv("CC", "/nonexistent/cc")  # no C compiler: the compiled Python kernel
    run = check(Jumps(), None, SearchOptions(checkpoint=str(tmp_path / "ck")))
    assert "compiled Python" in run.exploration.plan
    assert summary(run.results) == summary(plain.results)
    assert run.results[0].trace is not None


def test_depth_bound_cuts_where_the_single_search_cuts(tmp_path):
    opts = dict(max_depth=6)
    one = check(configure(VIRTIO, NODRAIN), ["barrier"], SearchOptions(backend="native", **opts))
    part = check(configure(VIRTIO, NODRAIN), ["barrier"], SearchOptions(checkpoint=str(tmp_path / "c"), **opts))
    assert summary(part.results) == summary(one.results)
    assert part.results[0].verdict.value == "HOLDS up to bound"


def _run_checkpointed(tmp_path: Path) -> Path:
    where = tmp_path / "ck"
    check(configure(VIRTIO, NODRAIN), ["barrier"], SearchOptions(checkpoint=str(where)))
    return where


def test_a_checkpoint_of_other_settings_is_refused(tmp_path):
    where = _run_checkpointed(tmp_path)
    with pytest.raises(CheckpointError, match="settings"):
        check(configure(VIRTIO, {**NODRAIN, "failures": 2}), ["barrier"], SearchOptions(resume=str(where)))
    with pytest.raises(CheckpointError, match="properties"):
        check(configure(VIRTIO, NODRAIN), ["flush_contract"], SearchOptions(resume=str(where)))


def test_a_checkpoint_of_another_rank_count_or_damaged_is_refused(tmp_path):
    where = _run_checkpointed(tmp_path)
    manifest = json.loads((where / MANIFEST).read_text())
    manifest["identity"]["ranks"] = 2
    (where / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="ranks"):
        check(configure(VIRTIO, NODRAIN), ["barrier"], SearchOptions(resume=str(where)))
    manifest["identity"]["ranks"] = 1
    (where / MANIFEST).write_text(json.dumps(manifest))
    links = sorted(where.glob("links-r0-*.npz"))[3]
    data = bytearray(links.read_bytes())
    data[len(data) // 2] ^= 0xFF
    links.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="damaged"):
        check(configure(VIRTIO, NODRAIN), ["barrier"], SearchOptions(resume=str(where)))
    (where / MANIFEST).write_text("{not json")
    with pytest.raises(CheckpointError, match="not a readable"):
        check(configure(VIRTIO, NODRAIN), ["barrier"], SearchOptions(resume=str(where)))


def test_a_checkpoint_is_never_overwritten_by_a_new_run(tmp_path):
    where = _run_checkpointed(tmp_path)
    with pytest.raises(CheckpointError, match="already holds a checkpoint"):
        check(configure(VIRTIO, NODRAIN), ["barrier"], SearchOptions(checkpoint=str(where)))


def test_resuming_a_finished_checkpoint_gives_the_same_answer(tmp_path):
    where = tmp_path / "ck"
    first = check(configure(VIRTIO, NODRAIN), ["barrier"], SearchOptions(checkpoint=str(where)))
    again = check(configure(VIRTIO, NODRAIN), ["barrier"], SearchOptions(resume=str(where)))
    assert summary(again.results) == summary(first.results)


def _kill_mid_search(argv: list[str], where: Path, level: int, sig: int = signal.SIGKILL) -> int:
    """Start ``argv``, send it ``sig`` once its checkpoint has reached ``level``; the level it had then."""
    proc = subprocess.Popen(argv, env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    reached = -1
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                reached = json.loads((where / MANIFEST).read_text())["level"]
            except (OSError, ValueError, KeyError):
                reached = -1
            if reached >= level:
                os.killpg(proc.pid, sig)
                break
            time.sleep(0.005)
    finally:
        proc.wait()
    stopped = (-sig, 130) if sig == signal.SIGINT else (-sig,)  # Ctrl-C: modelcheck's own exit code
    assert proc.returncode in stopped, f"the search ended before the signal ({proc.returncode}): choose a larger one"
    return reached


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=["KILL", "TERM", "INT"])
def test_a_signal_mid_search_then_resume_gives_the_uninterrupted_answer(sig, single, tmp_path):
    where = tmp_path / "ck"
    argv = [sys.executable, "-m", "modelcheck", *_cli(SETS, PROPS, "--checkpoint", str(where))]
    reached = _kill_mid_search(argv, where, 12, sig)
    assert 12 <= reached < single[0][4]  # killed mid-search: the search is 37 levels deep
    run = check(configure(VIRTIO, SETS), PROPS, SearchOptions(resume=str(where)))
    assert summary(run.results) == single


@needs_mpi
def test_sigkill_under_mpirun_then_resume_on_two_ranks(single, tmp_path):
    where = tmp_path / "ck"
    argv = ["mpirun", "-n", "2", "--oversubscribe", sys.executable, "-m", "modelcheck",
            *_cli(SETS, PROPS, "--distributed", "--checkpoint", str(where))]
    _kill_mid_search(argv, where, 12)
    out = tmp_path / "out.json"
    done = mpirun(2, _cli(SETS, PROPS, "--distributed", "--resume", str(where), "--json", str(out)))
    assert done.returncode == 1, done.stderr
    assert json_summary(out) == single


def test_without_mpi4py_distributed_says_how_to_install(tmp_path):
    fake = tmp_path / "mpi4py"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('libmpi.so.40: cannot open shared object file')\n")
    env = dict(_env(), PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    done = subprocess.run([sys.executable, "-m", "modelcheck", *_cli(NODRAIN, ["barrier"], "--distributed")],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 2
    assert "pip install -e '.[cluster]'" in done.stderr and "openmpi-bin" in done.stderr


def test_what_the_partitioned_search_does_not_do_is_refused():
    from modelcheck.errors import UsageError

    for opts in (dict(symmetry=True), dict(por=True), dict(max_states=10), dict(store="full")):
        with pytest.raises(UsageError, match="partitioned"):
            check(configure(VIRTIO, NODRAIN), ["barrier"], SearchOptions(checkpoint="/nonexistent/x", **opts))
    with pytest.raises(UsageError, match="keeps checkpointing"):
        check(configure(VIRTIO, NODRAIN), ["barrier"], SearchOptions(checkpoint="/tmp/a", resume="/tmp/b"))


@needs_mpi
def test_matrix_shares_whole_cases_out_across_ranks(tmp_path):
    from modelcheck.matrix import load_matrix, run_cases

    matrix = tmp_path / "m.toml"
    matrix.write_text(f'spec = "{VIRTIO}"\n[defaults]\nworkload = "W0 F"\nqdepth = 2\nguest = "drain"\n'
                      '[[grid]]\nname = "g"\nprofile = ["qemu-2010", "qemu-7.2", "fifo"]\n'
                      'guest = ["drain", "nodrain"]\n')
    out = tmp_path / "m.json"
    done = mpirun(2, ["matrix", str(matrix), "--distributed", "--json", str(out)])
    assert done.returncode in (0, 1), done.stderr
    shared = json.loads(out.read_text())["cases"]
    alone = run_cases(load_matrix(str(matrix)).cases, 1)
    strip = [[(r["property"], r["verdict"], r["states"], r["transitions"]) for r in c["results"]] for c in alone]
    assert [[(r["property"], r["verdict"], r["states"], r["transitions"]) for r in c["results"]]
            for c in shared] == strip
    assert len(shared) == 6 and done.stdout.count("g~") == 6  # rank 0 printed every case, once


def test_peeling_that_would_pass_the_budget_says_unknown_with_the_budget_it_needs(tmp_path, monkeypatch):
    from modelcheck.explicit import peeling
    from modelcheck.loader import load_spec_class

    clock = load_spec_class(CLOCK)
    monkeypatch.setattr(peeling, "PER_STEP", 1 << 40)  # as a graph too large for the budget
    part = check(clock(), None, SearchOptions(checkpoint=str(tmp_path / "ck"), memory=1 << 40))
    stops = next(r for r in part.results if r.name == "stops")
    assert stops.verdict.value == "UNKNOWN" and stops.trace is None
    assert "peeling the graph for cycles" in stops.reason and "--memory to at least" in stops.reason
    unlimited = check(clock(), None, SearchOptions(checkpoint=str(tmp_path / "ck2"), memory=None))
    assert next(r for r in unlimited.results if r.name == "stops").verdict.value == "VIOLATED"
