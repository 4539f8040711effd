"""Typed dependency aliases for routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from energy_forecast.settings import Settings
from energy_forecast.storage.base import SeriesStore


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _store(request: Request) -> SeriesStore:
    return request.app.state.store  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(_settings)]
SeriesStoreDep = Annotated[SeriesStore, Depends(_store)]
