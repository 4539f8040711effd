"""The current time as an injectable function, so "past" and "future" are testable."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

Clock = Callable[[], pd.Timestamp]


def utc_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")
