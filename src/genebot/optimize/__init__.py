"""Parameter optimization with Optuna: studies over the strategies' declared ranges, walk-forward
scoring, a batch backtest path with an indicator cache, reports."""
