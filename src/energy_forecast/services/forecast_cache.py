"""What the forecast path remembers: parsed bundles, forecasts by input digest, whole answers.

Loaded bundles are kept in a ``ModelCache`` keyed by version, so repeated calls skip parsing.
It also remembers recent forecasts under a key made of the model version, origin, horizon and a
digest of the exact readings and temperatures they were computed from: a repeated request (a
dashboard polling) skips the ~70 ms of feature building and prediction, and any change of the
inputs changes the key, so a memoised forecast is never stale. ``answer_version`` is the token
under which the API keeps whole serialised answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import ModelNotFoundError, NotFoundError
from energy_forecast.ml.forecasting import forecast, forecast_inputs
from energy_forecast.ml.model import ForecastModel
from energy_forecast.ml.quantiles import DEFAULT_LEVELS
from energy_forecast.services.climatology import climatology_table
from energy_forecast.services.fleet_model import fleet_token
from energy_forecast.services.groups import get_group
from energy_forecast.services.memo import Memo
from energy_forecast.storage.base import ModelStore, ModelVersion, SeriesStore

if TYPE_CHECKING:
    from energy_forecast.services.weather import ProviderTemperature


class ModelCache:
    """Parsed bundles, forecasts and whole answers of this process, each keyed by what it depends on.

    ``answers`` holds serialised API answers under ``answer_version`` tokens; the API layer fills it.
    ``levels`` are the quantile levels every forecast carries (``EF_FORECAST_QUANTILES``).
    """

    def __init__(
        self, max_entries: int = 256, max_forecasts: int = 1024, levels: tuple[float, ...] = DEFAULT_LEVELS
    ) -> None:
        self.levels = tuple(levels)
        self._models: Memo[ForecastModel] = Memo(max_entries)
        self._forecasts: Memo[pd.DataFrame] = Memo(max_forecasts)
        self.answers: Memo[bytes] = Memo(max_forecasts)

    def forecast(
        self,
        info: ModelVersion,
        model: ForecastModel,
        readings: pd.Series,
        temperature: pd.Series,
        origin: pd.Timestamp,
        horizon_hours: int,
    ) -> pd.DataFrame:
        """``ml.forecasting.forecast``, memoised by the content of the inputs it reads."""
        readings, temperature = forecast_inputs(model.spec, readings, temperature, origin, horizon_hours)
        model.levels = self.levels
        key = (*model_key(info), origin, horizon_hours, self.levels, content_digest(readings, temperature))
        cached = self._forecasts.get(key)
        if cached is not None:
            return cached.copy()
        result = forecast(model, readings, temperature, origin, horizon_hours)
        self._forecasts.put(key, result.copy())
        return result

    def get(
        self, model_store: ModelStore, meter_type: MeterType, meter_id: str
    ) -> tuple[ModelVersion, ForecastModel] | None:
        """The active version and its model, or None when the meter has no trained model.

        Raises:
            ValueError: the bundle exists but cannot be parsed (incomplete or newer format).
        """
        try:
            info = model_store.get_version(meter_type, meter_id)
        except ModelNotFoundError:
            return None
        model = self._models.get(model_key(info))
        if model is None:
            info, artifacts = model_store.load(meter_type, meter_id, info.version)
            model = ForecastModel.from_artifacts(artifacts)
            self._models.put(model_key(info), model)
        model.levels = self.levels
        return info, model


def model_key(info: ModelVersion) -> tuple[str, str, int, str]:
    return (info.meter_type.value, info.meter_id, info.version, str(info.created_at))


def answer_version(
    store: SeriesStore,
    model_store: ModelStore,
    meter_type: MeterType,
    meter_id: str,
    weather: ProviderTemperature | None,
) -> Hashable | None:
    """A token that stays equal exactly while ``forecast_meter`` would answer the same for this meter.

    Made of the store's data version (readings, site temperatures, registries), the active
    model's version and the type's fleet model version; None when it cannot be known cheaply: a
    store that other processes write to, a meter outside the registry, or a weather provider that
    may supply the future temperatures (its values move with every provider update). Take it
    before computing an answer and store the answer only if it is unchanged afterwards, so a write
    racing the computation is never cached.
    """
    meter = store.get_meter(meter_id)
    if meter is None or meter.meter_type != MeterType(meter_type):
        return None
    if weather is not None and weather.applies(meter.site_id):
        return None
    data = store.data_version(meter_type, meter_id, meter.site_id)
    if data is None:
        return None
    try:
        model = model_key(model_store.get_version(meter_type, meter_id))
    except ModelNotFoundError:
        model = None
    return data, model, fleet_token(model_store, meter_type)


def group_answer_version(
    store: SeriesStore, model_store: ModelStore, group_id: str, weather: ProviderTemperature | None
) -> Hashable | None:
    """``answer_version`` of a group's total: its resolved members and each member's token (None
    when any member's is unknown, or the group is unknown, so that case is computed and raises)."""
    try:
        view = get_group(store, group_id)
    except NotFoundError:
        return None
    meter_type = view.group.meter_type
    tokens = []
    for meter_id in view.members:
        token = answer_version(store, model_store, meter_type, meter_id, weather)
        if token is None:
            return None
        tokens.append(token)
    return "group", meter_type.value, view.members, tuple(tokens)


_CLIMATOLOGIES: Memo[np.ndarray] = Memo(64)


def content_digest(*series: pd.Series | None) -> str:
    """A content digest of series (index and values): equal digests, equal inputs.

    SHA-256 over the arrays' memory, no copies: ~0.3 ms for three years of hours.
    """
    digest = hashlib.sha256()
    for one in series:
        if one is not None:
            digest.update(memoryview(np.ascontiguousarray(one.index.asi8)))
            digest.update(memoryview(np.ascontiguousarray(one.to_numpy(dtype="float64"))))
        digest.update(b"|")
    return digest.hexdigest()


def climatology(temperature: pd.Series) -> np.ndarray:
    """``climatology_table`` memoised by the content of the history it is built from."""
    key = content_digest(temperature)
    table = _CLIMATOLOGIES.get(key)
    if table is None:
        table = climatology_table(temperature)
        _CLIMATOLOGIES.put(key, table)
    return table
