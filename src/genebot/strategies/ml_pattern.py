"""MLPatternStrategy: a walk-forward random forest that predicts the sign of the next move.

Trades: a scikit-learn ``RandomForestClassifier`` learns whether the close ``horizon`` bars ahead
will be above today's close (label 1, else 0) from a few causal features of the bar. Buys when
the predicted probability of "up" is at least ``probability_threshold`` and closes the long when
it drops below 0.5. Long only. Made for liquid markets with short-lived, repeating patterns such
as the bundled Binance BTC/USDT 5m data (May 2021); it is a demonstration of honest walk-forward
machine learning, not a promise of an edge.

Walk-forward, with no lookahead:

- Retrain points are ``t = training_period + m * retrain_every`` (bar indices, m = 0, 1, ...).
  The model fitted at *t* predicts bars ``t .. t + retrain_every - 1``; before the first
  retrain point there is no prediction (NaN).
- **The label rule.** At the close of bar *t* only closes ``<= t`` are known, so sample *j*
  (features of bar *j*, label from ``close[j + horizon]``) may be used only if
  ``j + horizon <= t``. The training window is the last ``training_period`` bars up to *t*,
  ``j`` in ``[t - training_period + 1, t - horizon]`` (see :func:`training_samples`); samples
  with undefined features are dropped.
- Features of bar *i* use bars ``<= i`` only: ``returns`` (1-bar return), ``rsi`` (RSI 14),
  ``volatility`` (standard deviation of 1-bar returns over 20 bars), ``volume_change`` (1-bar
  change of the volume, 0 where the volume was 0), ``momentum`` (10-bar return) and ``range``
  ((high - low) / close).
- Deterministic: ``random_state`` seeds the forest and it fits on one core (``n_jobs=1``).
  Fitted models are memoized by a digest of their exact training samples and settings, so a
  rerun on the same or a prefix of the data (the lookahead check, the optimizer) reuses them;
  the fit being deterministic, the result is the same as refitting.

Parameters: ``model_type`` (random_forest), ``training_period`` (default 500 bars, optimize
250-2000), ``retrain_every`` (default 250), ``features`` (default returns, rsi, volatility,
volume_change), ``horizon`` (default 5, optimize 1-20), ``probability_threshold`` (default 0.55,
optimize 0.5-0.7), ``n_estimators`` (default 50) and ``random_state`` (default 42). The training
window must hold at least ``MIN_SAMPLES`` labelled samples: ``training_period - horizon >=
MIN_SAMPLES``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping

import numpy as np
import talib
from sklearn.ensemble import RandomForestClassifier  # type: ignore[import-untyped]

from genebot.core.errors import ParameterError
from genebot.trading.data import F64, BarData, Signals
from genebot.trading.params import Param, check_choice_list
from genebot.trading.strategy import Strategy

MIN_SAMPLES = 50
_CACHE_SIZE = 512
_MODELS: OrderedDict[str, RandomForestClassifier | float] = OrderedDict()


def _returns(data: BarData) -> F64:
    out = np.full(len(data), np.nan)
    out[1:] = data.close[1:] / data.close[:-1] - 1.0
    return out


def _volume_change(data: BarData) -> F64:
    out = np.full(len(data), np.nan)
    prev, cur = data.volume[:-1], data.volume[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[1:] = np.where(prev > 0, cur / prev - 1.0, 0.0)
    return out


def _momentum(data: BarData) -> F64:
    out = np.full(len(data), np.nan)
    out[10:] = data.close[10:] / data.close[:-10] - 1.0
    return out


FEATURES: dict[str, Callable[[BarData], F64]] = {
    "returns": _returns,
    "rsi": lambda d: talib.RSI(d.close, timeperiod=14),
    "volatility": lambda d: talib.STDDEV(_returns(d), timeperiod=20, nbdev=1.0),
    "volume_change": _volume_change,
    "momentum": _momentum,
    "range": lambda d: (d.high - d.low) / d.close,
}


def feature_matrix(data: BarData, names: list[str]) -> F64:
    """Features per bar, one column per name; row *i* uses bars ``<= i`` only."""
    if len(data) == 0:
        return np.empty((0, len(names)))
    return np.column_stack([FEATURES[name](data) for name in names]).astype(np.float64)


def up_labels(close: F64, horizon: int) -> F64:
    """1.0 where ``close[j + horizon] > close[j]``, 0.0 where not, NaN for the last ``horizon``
    bars (their future close is not in the data)."""
    out = np.full(close.shape[0], np.nan)
    if close.shape[0] > horizon:
        out[:-horizon] = (close[horizon:] > close[:-horizon]).astype(np.float64)
    return out


def retrain_points(n: int, training_period: int, retrain_every: int) -> range:
    """Bar indices where a model is fitted: ``training_period``, then every ``retrain_every``."""
    return range(training_period, n, retrain_every)


def training_samples(t: int, training_period: int, horizon: int) -> range:
    """Samples the model fitted at the close of bar *t* may learn from.

    The no-lookahead rule: the label of sample *j* is ``close[j + horizon]``, known at *t* only
    if ``j + horizon <= t``. So ``j`` runs from the start of the training window up to and
    including ``t - horizon``; the last ``horizon`` bars before *t* are left out.
    """
    return range(max(0, t - training_period + 1), t - horizon + 1)


class MLPatternStrategy(Strategy):
    """Walk-forward random forest on causal bar features, long only."""

    name = "ml_pattern"
    default_data = ("BTC/USDT", "5m")
    model_type = Param("random_forest", choices=("random_forest",), doc="the classifier")
    training_period = Param(
        500, min=MIN_SAMPLES + 1, max=100_000, opt=(250, 2000, 250), doc="bars in the window"
    )
    retrain_every = Param(250, min=1, max=100_000, opt=(100, 1000, 50), doc="bars between fits")
    features = Param(
        ["returns", "rsi", "volatility", "volume_change"], doc=f"any of {', '.join(FEATURES)}"
    )
    horizon = Param(5, min=1, max=1_000, opt=(1, 20, 1), doc="bars ahead the label looks")
    probability_threshold = Param(
        0.55, min=0.5, max=1.0, opt=(0.5, 0.7, 0.01), doc="P(up) needed to enter"
    )
    n_estimators = Param(50, min=1, max=2_000, opt=(25, 200, 25), doc="trees in the forest")
    random_state = Param(42, min=0, max=2**32 - 1, doc="seed of the forest")

    def validate_parameters(self) -> None:
        where = f"strategy {self.strategy_id}"
        check_choice_list(where, "features", self.features, list(FEATURES), "known feature")
        if self.training_period - self.horizon < MIN_SAMPLES:
            raise ParameterError(
                f"{where}: training_period ({self.training_period}) must exceed horizon "
                f"({self.horizon}) by at least {MIN_SAMPLES} bars, or the window holds too few "
                "samples whose label is known"
            )

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        n = len(data)
        x = feature_matrix(data, list(self.features))
        y = up_labels(data.close, self.horizon)
        finite = np.asarray(np.isfinite(x).all(axis=1), dtype=bool)
        p_up = np.full(n, np.nan)
        for t in retrain_points(n, self.training_period, self.retrain_every):
            rows = np.asarray(training_samples(t, self.training_period, self.horizon))
            rows = rows[finite[rows]]
            model = self._fit(x[rows], y[rows]) if rows.size >= MIN_SAMPLES else None
            block = np.arange(t, min(t + self.retrain_every, n))
            block = block[finite[block]]
            if model is None or block.size == 0:
                continue
            p_up[block] = _predict_up(model, x[block])
        return {"p_up": p_up}

    def signals(self, data: BarData, ind: Mapping[str, F64]) -> Signals:
        p = ind["p_up"]
        with np.errstate(invalid="ignore"):
            return Signals(entries=p >= self.probability_threshold, exits=p < 0.5)

    def _fit(self, x: F64, y: F64) -> RandomForestClassifier | float:
        """A fitted forest, or the constant P(up) when the window holds one class only."""
        key = _digest(x, y, self.n_estimators, self.random_state)
        model = _MODELS.get(key)
        if model is not None:
            _MODELS.move_to_end(key)
            return model
        if np.unique(y).size < 2:
            model = float(y[0])
        else:
            model = RandomForestClassifier(
                n_estimators=self.n_estimators, random_state=self.random_state, n_jobs=1
            ).fit(x, y.astype(np.int64))
        _MODELS[key] = model
        if len(_MODELS) > _CACHE_SIZE:
            _MODELS.popitem(last=False)
        return model


def _predict_up(model: RandomForestClassifier | float, x: F64) -> F64:
    if isinstance(model, float):
        return np.full(x.shape[0], model)
    proba: F64 = np.asarray(model.predict_proba(x), dtype=np.float64)
    return proba[:, list(model.classes_).index(1)]


def _digest(x: F64, y: F64, n_estimators: int, random_state: int) -> str:
    h = hashlib.blake2b(digest_size=20)
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    h.update(f"{x.shape}|{n_estimators}|{random_state}".encode())
    return h.hexdigest()


def clear_model_cache() -> None:
    """Forget memoized models (for tests that must refit)."""
    _MODELS.clear()
