"""The ranks of a partitioned search: MPI's (through mpi4py) or this one process alone.

The partitioned search (:mod:`.distributed`) talks to the other ranks through a few
collectives: ``allgather`` (a small Python object from every rank, once a level), ``bcast``,
``barrier``, ``exchange`` (one ``Alltoall`` of counts, then one ``Alltoallv`` of bytes) and, for
a level's batches, a :class:`Pipeline` of the same two collectives, non-blocking and one batch
behind. A waiting rank sleeps between looks at a request instead of spinning, so that on a
shared host the ranks still computing get the cores. MPI is the transport; :class:`One` is the
same interface for a single process, so that a checkpointed search runs without MPI too.
"""

from __future__ import annotations

import os
import pickle
import time
from typing import Any

import numpy as np

from ..errors import UsageError

INSTALL = ("--distributed needs MPI and mpi4py: install an MPI implementation (Debian/Ubuntu: "
           "apt-get install openmpi-bin libopenmpi-dev) and then pip install -e '.[cluster]' "
           "(or pip install mpi4py); run it as mpirun -n N python3 -m modelcheck check --distributed ...")


WAIT = 2e-4  # seconds a rank waiting in a collective sleeps at most between two looks


class MpiUnavailable(UsageError):
    """--distributed was asked for where mpi4py (or MPI under it) cannot be imported (exit 2)."""


class One:
    """The ranks of a search that runs in one process: rank 0 of 1."""

    rank = 0
    size = 1
    name = "one process"

    def allgather(self, value: Any) -> list[Any]:
        return [value]

    def bcast(self, value: Any, root: int = 0) -> Any:
        return value

    def barrier(self) -> None:
        pass

    def abort(self, message: str) -> None:
        """Stop the search with ``message`` (a UsageError, exit 2)."""
        raise UsageError(message)

    def pipeline(self) -> Direct:
        return Direct()

    def exchange(self, data: np.ndarray, counts: np.ndarray, more: bool,
                 displs: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
        """Every rank's bytes for this rank (``counts[r]`` bytes of ``data`` from ``displs[r]``, by
        default packed in rank order, go to rank ``r``), and whether any rank has more to send after
        this round."""
        start = 0 if displs is None else int(displs[0])
        return data[start:start + int(counts[0])], more


class Direct:
    """The batch exchange of a single process: nothing leaves it (its own records never go through MPI)."""

    going = True

    def send(self, data: np.ndarray, counts: np.ndarray, displs: np.ndarray, more: bool) -> list[np.ndarray]:
        self.going = more
        return []

    def drain(self) -> list[np.ndarray]:
        return []


class Pipeline:
    """A level's batches to their owners, one ``Alltoall`` of counts and one ``Alltoallv`` of records
    per batch, non-blocking and one batch behind: a rank posts batch r's counts, then completes batch
    r-1's counts and posts its records, then takes in batch r-2's, so it may run one batch ahead of
    the slowest rank instead of waiting for it at every batch (ranks sharing cores are not scheduled
    in step). Every rank posts the same collectives in the same order; :attr:`going` turns false,
    on every rank at once, once a batch's counts say no rank has more to send."""

    def __init__(self, mpi: Any, comm: Any, size: int, wait: Any):
        self.mpi, self.comm, self.size, self.wait = mpi, comm, size, wait
        self.counting: tuple[Any, ...] | None = None  # (request, counts sent, counts got, data, sizes, displs)
        self.moving: tuple[Any, ...] | None = None  # (request, received, data)
        self.going = True

    def send(self, data: np.ndarray, counts: np.ndarray, displs: np.ndarray, more: bool) -> list[np.ndarray]:
        """Post this batch (``counts[r]`` bytes of ``data`` from ``displs[r]`` for rank r); the records
        received from a batch two behind, if any."""
        sent = np.empty((self.size, 2), dtype=np.int64)
        sent[:, 0], sent[:, 1] = counts, int(more)
        got = np.empty((self.size, 2), dtype=np.int64)
        posted = (self.comm.Ialltoall(sent, got), sent, got, data, counts.copy(), np.asarray(displs, dtype=np.int64))
        done = self._received()
        self._post_records()
        self.counting = posted
        return done

    def _received(self) -> list[np.ndarray]:
        if self.moving is None:
            return []
        request, out, _ = self.moving
        self.wait(request)
        self.moving = None
        return [out]

    def _post_records(self) -> None:
        if self.counting is None:
            return
        request, _, got, data, counts, displs = self.counting
        self.wait(request)
        self.counting = None
        rcounts = got[:, 0].copy()
        rdispl = np.zeros(self.size, dtype=np.int64)
        np.cumsum(rcounts[:-1], out=rdispl[1:])
        out = np.empty(int(rcounts.sum()), dtype=np.uint8)
        byte = self.mpi.BYTE
        request = self.comm.Ialltoallv([data, (counts, displs), byte], [out, (rcounts, rdispl), byte])
        self.moving = (request, out, data)
        self.going = bool(got[:, 1].any())

    def drain(self) -> list[np.ndarray]:
        """The level is over: the records of the batches still under way."""
        done = self._received()
        self._post_records()
        return done + self._received()


class Mpi:
    """MPI's ``COMM_WORLD`` through mpi4py."""

    def __init__(self) -> None:
        # A rank waiting in a collective yields its core instead of spinning (Open MPI spins by
        # default), so that on a shared or oversubscribed host the rank still expanding gets it;
        # read at MPI_Init, so set before mpi4py is imported; a user's own setting wins.
        os.environ.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")
        try:
            from mpi4py import MPI
        except ImportError as err:  # mpi4py missing, or its MPI library
            raise MpiUnavailable(f"{INSTALL} ({err})") from None
        self.mpi = MPI
        self.comm = MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.name = f"{self.size} MPI ranks"
        self._received = np.empty(0, dtype=np.uint8)  # reused from round to round (the caller copies what it keeps)

    def allgather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (pickled), gathered with non-blocking collectives waited for asleep."""
        data = np.frombuffer(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), dtype=np.uint8)
        sizes = np.empty(self.size, dtype=np.int64)
        self._wait(self.comm.Iallgather(np.array([len(data)], dtype=np.int64), sizes))
        displs = np.zeros(self.size, dtype=np.int64)
        np.cumsum(sizes[:-1], out=displs[1:])
        out = np.empty(int(sizes.sum()), dtype=np.uint8)
        self._wait(self.comm.Iallgatherv(data, [out, (sizes, displs), self.mpi.BYTE]))
        return [pickle.loads(out[d:d + n].tobytes()) for d, n in zip(displs.tolist(), sizes.tolist())]

    def bcast(self, value: Any, root: int = 0) -> Any:
        return self.comm.bcast(value, root=root)

    def barrier(self) -> None:
        self._wait(self.comm.Ibarrier())  # rank 0 may be compiling the code: the others sleep meanwhile

    def abort(self, message: str) -> None:
        """Stop every rank: the other ranks wait in a collective, so only MPI can end them. The one
        place outside the CLI that writes to stderr, because no rank returns to print it."""
        import sys

        print(f"modelcheck: {message}", file=sys.stderr, flush=True)
        self.comm.Abort(2)

    def pipeline(self) -> Pipeline:
        return Pipeline(self.mpi, self.comm, self.size, self._wait)

    def exchange(self, data: np.ndarray, counts: np.ndarray, more: bool,
                 displs: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
        """See :meth:`One.exchange`: one ``Alltoall`` of (count, more) pairs, one ``Alltoallv`` of bytes."""
        size = self.size
        send = np.empty((size, 2), dtype=np.int64)
        send[:, 0] = counts
        send[:, 1] = int(more)
        got = np.empty((size, 2), dtype=np.int64)
        self._wait(self.comm.Ialltoall(send, got))
        if displs is None:
            sdispl = np.zeros(size, dtype=np.int64)
            np.cumsum(counts[:-1], out=sdispl[1:])
        else:
            sdispl = np.asarray(displs, dtype=np.int64)
        rcounts = got[:, 0]
        rdispl = np.zeros(size, dtype=np.int64)
        np.cumsum(rcounts[:-1], out=rdispl[1:])
        total = int(rcounts.sum())
        if len(self._received) < total:
            self._received = np.empty(max(total, 2 * len(self._received)), dtype=np.uint8)
        out = self._received[:total]
        byte = self.mpi.BYTE
        self._wait(self.comm.Ialltoallv([data, (counts, sdispl), byte], [out, (rcounts, rdispl), byte]))
        return out, bool(got[:, 1].any())

    def _wait(self, request: Any) -> None:
        """Wait for a non-blocking collective, sleeping between looks (a waiting rank leaves its core
        to the others instead of spinning on it)."""
        pause = 2e-6
        while not request.Test():
            time.sleep(pause)
            pause = min(pause * 2, WAIT)


def launched_rank() -> int:
    """This process's rank as the MPI launcher's environment says it (0 when not launched by one)."""
    for name in ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"):
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def world(distributed: bool) -> One | Mpi:
    """MPI's ranks with ``distributed`` (MpiUnavailable, exit 2, when mpi4py is missing), else one process."""
    return Mpi() if distributed else One()
