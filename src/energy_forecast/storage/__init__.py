"""Time-series and model storage adapters."""
