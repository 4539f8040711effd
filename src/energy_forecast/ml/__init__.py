"""Pure modelling: training, forecasting, evaluation on in-memory series; no I/O."""
