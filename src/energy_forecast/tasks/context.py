"""What actors need from the process they run in: stores and the training service.

Set once per worker process (``configure``) by the entry point that read the settings; actors
read it with ``get_context()``. Nothing is built at import time, and tests inject a fake training
function here instead of patching modules.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TrainFn = Callable[..., dict[str, Any]]


def _default_train() -> TrainFn:
    from energy_forecast.services.training import train_meter

    return train_meter


def _default_evaluate() -> TrainFn:
    from energy_forecast.services.evaluation import fleet_row

    return fleet_row


@dataclass
class WorkerContext:
    """Store factories are called once, on first use, from whichever worker thread asks first.

    ``train`` has the signature of ``services.training.train_meter``:
    ``train(store, model_store, *, meter_id, meter_type, start, end, reporter) -> dict``.
    ``evaluate`` has that of ``services.evaluation.fleet_row`` (one row of a fleet test).
    """

    series_store_factory: Callable[[], Any]
    model_store_factory: Callable[[], Any]
    train: TrainFn = field(default_factory=_default_train)
    evaluate: TrainFn = field(default_factory=_default_evaluate)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stores: tuple[Any, Any] | None = field(default=None, repr=False)

    def stores(self) -> tuple[Any, Any]:
        with self._lock:
            if self._stores is None:
                self._stores = (self.series_store_factory(), self.model_store_factory())
            return self._stores

    def close(self) -> None:
        with self._lock:
            stores, self._stores = self._stores, None
        for store in stores or ():
            close = getattr(store, "close", None)
            if callable(close):
                close()


_context: WorkerContext | None = None


def configure(
    series_store_factory: Callable[[], Any],
    model_store_factory: Callable[[], Any],
    *,
    train: TrainFn | None = None,
    evaluate: TrainFn | None = None,
) -> WorkerContext:
    """Install this process's worker context, replacing (and closing) any earlier one."""
    global _context
    previous = _context
    _context = WorkerContext(series_store_factory, model_store_factory)
    if train is not None:
        _context.train = train
    if evaluate is not None:
        _context.evaluate = evaluate
    if previous is not None:
        previous.close()
    return _context


def get_context() -> WorkerContext:
    if _context is None:
        raise RuntimeError("worker context not configured: call tasks.context.configure(...) at start-up")
    return _context


def reset() -> None:
    """Close and forget the context (process shutdown, tests)."""
    global _context
    previous, _context = _context, None
    if previous is not None:
        previous.close()
