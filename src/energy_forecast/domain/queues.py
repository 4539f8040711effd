"""Which Dramatiq queue each kind of task waits in, so that kinds never wait behind each other.

Training keeps the seed's queue ``default`` (``dramatiq:default``); fleet evaluation, forecast
publication and housekeeping have queues of their own. A worker serves every queue unless told
otherwise (``energy-forecast worker --queues``, ``EF_WORKER_QUEUES``), and takes a waiting
training before any other kind (``QUEUE_PRIORITY``), so a training waits at most for the task a
thread is already running.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any


class TaskKind(StrEnum):
    TRAINING = "training"
    EVALUATION = "evaluation"
    PUBLICATION = "publication"
    HOUSEKEEPING = "housekeeping"


QUEUE_NAMES: dict[TaskKind, str] = {
    TaskKind.TRAINING: "default",
    TaskKind.EVALUATION: "evaluation",
    TaskKind.PUBLICATION: "publication",
    TaskKind.HOUSEKEEPING: "housekeeping",
}
# Dramatiq's actor priority: a worker's threads take the lowest number first among fetched messages.
QUEUE_PRIORITY: dict[TaskKind, int] = {
    TaskKind.TRAINING: 0,
    TaskKind.PUBLICATION: 10,
    TaskKind.EVALUATION: 20,
    TaskKind.HOUSEKEEPING: 30,
}
ALL_QUEUES: tuple[str, ...] = tuple(QUEUE_NAMES.values())


def queue_for(kind: TaskKind | str) -> str:
    """The queue name of a task kind (``training`` -> ``default``)."""
    return QUEUE_NAMES[TaskKind(kind)]


def kind_of_queue(queue_name: str) -> TaskKind | None:
    """The task kind whose messages wait in ``queue_name`` (its ``.DQ``/``.XQ`` too); None if none."""
    base = queue_name.removesuffix(".DQ").removesuffix(".XQ")
    return next((kind for kind, name in QUEUE_NAMES.items() if name == base), None)


def parse_queues(value: Any) -> list[str] | None:
    """Queue names from kinds or queue names, comma-separated or a list; None (every queue) if empty.

    Raises:
        ValueError: a name that is neither a task kind nor a queue.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.strip().startswith("["):
        value = json.loads(value)
    items = value.split(",") if isinstance(value, str) else list(value)
    names: list[str] = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        if item in ALL_QUEUES:
            names.append(item)
        elif item in TaskKind.__members__.values():
            names.append(queue_for(item))
        else:
            known = ", ".join(k.value for k in TaskKind)
            raise ValueError(
                f"unknown task queue {item!r}; choose among {known} (training's queue is 'default')"
            )
    return list(dict.fromkeys(names)) or None
