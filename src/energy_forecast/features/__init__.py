"""Pure feature engineering: hourly series in, leakage-safe feature frame out."""

from __future__ import annotations

from energy_forecast.features.spec import FeatureSpec, build_features

__all__ = ["FeatureSpec", "build_features"]
