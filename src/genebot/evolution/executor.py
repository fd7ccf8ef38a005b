"""Where fitness is computed: in this process, in a local process pool, or on a Dask cluster.

Every executor is given the :class:`Evaluator` (with the in-sample bars) once, then evaluates
lists of candidate specs, returning results in the order given: the search is the same whichever
executor runs it.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol

from genebot.core.errors import InputError
from genebot.evolution.fitness import Evaluator, FoldScore, Spec


class Executor(Protocol):
    def start(self, evaluator: Evaluator) -> None: ...

    def evaluate(self, specs: Sequence[Spec]) -> list[list[FoldScore]]: ...

    def close(self) -> None: ...


class SerialExecutor:
    """Evaluates in this process, one after the other."""

    def __init__(self) -> None:
        self._evaluator: Evaluator | None = None

    def start(self, evaluator: Evaluator) -> None:
        self._evaluator = evaluator

    def evaluate(self, specs: Sequence[Spec]) -> list[list[FoldScore]]:
        assert self._evaluator is not None, "start() first"
        return [self._evaluator.evaluate(s) for s in specs]

    def close(self) -> None:
        self._evaluator = None


_WORKER_EVALUATOR: Evaluator | None = None


def _install(evaluator: Evaluator) -> None:
    global _WORKER_EVALUATOR
    _WORKER_EVALUATOR = evaluator


def _evaluate_installed(spec: Spec) -> list[FoldScore]:
    assert _WORKER_EVALUATOR is not None
    return _WORKER_EVALUATOR.evaluate(spec)


class ProcessExecutor:
    """A local pool of ``jobs`` worker processes; the bars are sent to each worker once."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None

    def start(self, evaluator: Evaluator) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_install,
            initargs=(evaluator,),
        )

    def evaluate(self, specs: Sequence[Spec]) -> list[list[FoldScore]]:
        assert self._pool is not None, "start() first"
        chunk = max(1, len(specs) // (self.jobs * 4))
        return list(self._pool.map(_evaluate_installed, specs, chunksize=chunk))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _evaluate_with(spec: Spec, evaluator: Evaluator) -> list[FoldScore]:
    return evaluator.evaluate(spec)


class DaskExecutor:
    """Evaluates on a Dask distributed cluster (``tcp://host:8786``); the evaluator, with its
    bars, is scattered to every worker once."""

    def __init__(self, address: str) -> None:
        from distributed import Client

        connect: Any = Client  # (its constructor is untyped)
        try:
            self._client: Any = connect(address, timeout=10)
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler {address}: {exc}") from None
        self._evaluator: Any = None

    def start(self, evaluator: Evaluator) -> None:
        self._evaluator = self._client.scatter(evaluator, broadcast=True, hash=False)

    def evaluate(self, specs: Sequence[Spec]) -> list[list[FoldScore]]:
        futures = self._client.map(
            _evaluate_with, list(specs), evaluator=self._evaluator, pure=False
        )
        results: list[list[FoldScore]] = self._client.gather(futures)
        return results

    def close(self) -> None:
        self._client.close()


def executor_for(jobs: int = 1, scheduler: str | None = None) -> Executor:
    """Dask when a scheduler address is given, else a process pool for ``jobs`` > 1, else
    serial."""
    if scheduler:
        return DaskExecutor(scheduler)
    if jobs > 1:
        return ProcessExecutor(jobs)
    return SerialExecutor()
