"""The configuration every mode shares (backtest, paper, live): the YAML layout's models
(:mod:`.models`), loading with ``${VAR}`` interpolation and clear errors (:mod:`.loader`),
``config validate`` / ``config-help`` (:mod:`.check`)."""
