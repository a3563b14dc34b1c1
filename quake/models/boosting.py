"""Gradient boosting (xgboost) on per-(day, cell) features: the shared machinery.

A subclass supplies raw dynamic maps (`_raw`: float32 ``(n, n_raw, n_cells)`` per day
block, all 0 where nothing happened nearby), optional per-cell statics fitted on the
fitting period (`_fit_statics`) and the features (`_feature_maps`, the log prior always
among them).

Training rows, temporal splits only (PROTOCOL.md):
- selection fit: train-period rows; early stopping on validation-period rows sampled the
  same way (logloss: smooth, where PR AUC on sampled negatives jumps from tree to tree);
- ``final``: the same selection first, then a refit on train + validation rows with the
  selected number of trees.
The log prior of a training row is out-of-fold: the naive prior computed from the other
``n_folds`` contiguous day blocks of the fitting range. The in-sample prior would be a
leaky target encoding (a cell with no positive training day has exactly no positive row,
which a tree learns and the test period breaks). Validation and forecast rows use the
prior of the whole fitting period, as a forecast does.

Class imbalance: every positive pair is kept; negatives with any non-zero raw value
("busy" rows) are kept at random with probability ``neg_rate`` (a per-pair uniform draw,
independent of the labels). "Quiet" rows (raw all 0) have features that depend on the
cell only, so they enter as one weighted row per (cell, label, fold): positives with
weight = count, negatives with weight = ``neg_rate`` x count, the same expected share as
sampling. The booster thus sees negatives at rate ``neg_rate`` and learns odds
``1 / neg_rate`` too high; predictions are corrected back to calibrated probabilities by
adding ``log(neg_rate)`` to the margin (the prior correction of King & Zeng 2001).

Prediction: quiet rows take a per-cell prediction made once; xgboost runs only on busy
rows, and once per distinct vector of split-threshold bins among them (`_predict_rows`).
"""

from __future__ import annotations

import json
import math
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quake.data.forecast_data import ForecastData
from quake.errors import ModelError
from quake.models import store as v
from quake.models.base import Forecaster, ModelConfig, load_arrays, save_arrays
from quake.models.boost_rows import SampledRows, fold_edges
from quake.progress import OnProgress, emit

BOOSTER_FILE = "booster.ubj"
STATICS_FILE = "statics.safetensors"
MAX_TREES = 10_000
MAX_DEPTH = 16
MAX_BOOSTER_BYTES = 64 << 20
"""A booster file's cap: the committed ones are 60-160 kB (34-200 trees of depth 4). A
crafted 172 MB booster of 100,000 trees took 27 s and 2.5 GB to load and check."""


@dataclass
class BoostConfig(ModelConfig):
    """xgboost settings shared by the boosting baselines."""

    neg_rate: float = 0.01
    max_depth: int = 4
    learning_rate: float = 0.1
    max_trees: int = 200
    early_stopping_rounds: int = 30
    subsample: float = 0.8
    min_child_weight: float = 1.0
    max_bin: int = 64
    seed: int = 0
    n_threads: int = 2
    feature_chunk: int = 16
    n_folds: int = 5

    def check(self) -> None:
        f = "model_args."
        self.neg_rate = v.check_float(self.neg_rate, f + "neg_rate", 0.0, 1.0, lo_open=True)
        self.max_depth = v.check_int(self.max_depth, f + "max_depth", 1, MAX_DEPTH)
        self.learning_rate = v.check_float(
            self.learning_rate, f + "learning_rate", 0.0, 10.0, lo_open=True
        )
        self.max_trees = v.check_int(self.max_trees, f + "max_trees", 1, MAX_TREES)
        self.early_stopping_rounds = v.check_int(
            self.early_stopping_rounds, f + "early_stopping_rounds", 1, MAX_TREES
        )
        self.subsample = v.check_float(self.subsample, f + "subsample", 0.0, 1.0, lo_open=True)
        self.min_child_weight = v.check_float(
            self.min_child_weight, f + "min_child_weight", 0.0, 1e6
        )
        self.max_bin = v.check_int(self.max_bin, f + "max_bin", 2, 65_536)
        self.seed = v.check_int(self.seed, f + "seed", 0, 2**31 - 1)
        self.n_threads = v.check_int(self.n_threads, f + "n_threads", 1, 256)
        self.feature_chunk = v.check_int(self.feature_chunk, f + "feature_chunk", 1, 4096)
        self.n_folds = v.check_int(self.n_folds, f + "n_folds", 1, 100)


class BoostedModel(Forecaster):
    """xgboost on features of (day, cell); see the module docstring."""

    config_cls = BoostConfig
    derived_statics: tuple[str, ...] = ()  # statics `_prepare` recomputes; not saved

    def __init__(self, config: BoostConfig | None = None) -> None:
        super().__init__(config)
        self.booster = None
        self.statics: dict[str, np.ndarray] = {}
        self._quiet_p: np.ndarray | None = None
        self._thresholds: list[np.ndarray] | None = None
        self._twin = None

    # -- what a subclass provides -----------------------------------------------------
    @abstractmethod
    def raw_names(self) -> list[str]:
        """Names of the raw dynamic maps."""

    @abstractmethod
    def feature_names(self) -> list[str]:
        """Names of the feature columns `_features` returns."""

    @abstractmethod
    def _raw(
        self, data: ForecastData, start: int, stop: int, chunk: int
    ) -> Iterator[tuple[int, np.ndarray]]:
        """``(first_day, raw)`` blocks, raw float32 ``(n, n_raw, n_cells)``."""

    @abstractmethod
    def _feature_maps(self, raw: np.ndarray, cell: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
        """Features float32 ``(n, n_features, m)`` from raw ``(n, n_raw, m)`` of cells ``(m,)``
        with log priors ``(m,)``: a day block (m = all cells) or rows (n = 1)."""

    def _features(self, raw: np.ndarray, cell: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
        """Feature rows float32 ``(N, n_features)`` from raw rows ``(N, n_raw)``, their cells
        ``(N,)`` and log priors ``(N,)``; the same formula as a day block's."""
        return np.ascontiguousarray(self._feature_maps(raw.T[None], cell, log_prior)[0].T)

    def _fit_statics(self, data: ForecastData, final: bool) -> None:
        """Per-cell statics from the fitting period: the prior, and what a subclass adds."""
        self.statics = {"prior": data.prior(final).astype(np.float32).ravel()}
        self.meta["fit_days"] = list(data.protocol.fit_days(final))

    def _prepare(self, data: ForecastData) -> None:
        """Restore statics that are recomputed from the data rather than saved (none here)."""

    # -- fit ---------------------------------------------------------------------------
    def fit(self, data: ForecastData, final: bool = False, on_progress: OnProgress | None = None):
        import xgboost as xgb

        c = self.config
        ranges = {
            "train": data.protocol.fit_days(False),
            "validation": data.days("validation"),
            "final": data.protocol.fit_days(True),
        }
        edges = np.unique(
            np.concatenate(
                [fold_edges(*ranges[k], c.n_folds) for k in ("train", "final")]
                + [np.asarray(ranges["validation"])]
            )
        )
        first, last = int(edges[0]), int(edges[-1])
        rows = SampledRows(data.grid.n_cells, ranges, edges)
        rng = np.random.default_rng(c.seed)
        for a, raw in self._raw(data, first, last, c.feature_chunk):
            n = raw.shape[0]
            y = data.targets.dense(a, a + n).reshape(n, -1).astype(bool)
            rows.add(a, raw, y, rng.random(y.shape, dtype=np.float32), c.neg_rate)
            emit(on_progress, "features", a + n - first, last - first)
        rows.done()

        params = self._params()
        self._fit_statics(data, False)
        dtrain = self._dmatrix(xgb, rows, data, "train", folds=True)
        dval = self._dmatrix(xgb, rows, data, "validation", folds=False)
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=c.max_trees,
            evals=[(dval, "validation")],
            early_stopping_rounds=c.early_stopping_rounds,
            verbose_eval=False,
        )
        n_trees = booster.best_iteration + 1
        self.meta["selection"] = {
            "n_trees": n_trees,
            "validation_logloss": round(float(booster.best_score), 6),
            "train_rows": int(dtrain.num_row()),
            "validation_rows": int(dval.num_row()),
        }
        booster = booster[:n_trees]
        # The final=False model, for validation scores.
        self._twin = (booster, self.statics, self.meta["fit_days"])
        if final:
            self._fit_statics(data, True)
            dfinal = self._dmatrix(xgb, rows, data, "final", folds=True)
            booster = xgb.train(params, dfinal, num_boost_round=n_trees)
            self.meta["selection"]["final_rows"] = int(dfinal.num_row())
        self.booster = booster
        self._quiet_p = None
        self._thresholds = None
        self.bind(data)
        self.meta["final"] = final
        self.meta["features"] = self.feature_names()
        return self

    def validation_twin(self, data: ForecastData) -> BoostedModel:
        """The selection fit (train rows, train statics) of a ``final`` fit: the model a
        validation score may use. Only right after `fit` (it is not saved)."""
        if not self.meta.get("final"):
            return self
        if getattr(self, "_twin", None) is None:
            raise ModelError(f"{self.kind}: the selection fit is kept only right after fit")
        twin = type(self)(self.config)
        twin.booster, twin.statics, fit_days = self._twin
        twin.meta = {**self.meta, "final": False, "fit_days": fit_days}
        return twin

    def _params(self) -> dict:
        c = self.config
        return {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "max_depth": c.max_depth,
            "eta": c.learning_rate,
            "subsample": c.subsample,
            "min_child_weight": c.min_child_weight,
            "max_bin": c.max_bin,
            "seed": c.seed,
            "nthread": c.n_threads,
        }

    def _dmatrix(self, xgb, rows: SampledRows, data: ForecastData, name: str, folds: bool):
        """Busy rows of range ``name`` plus one weighted row per (cell, label, fold) of its
        quiet rows. With ``folds``, a row's prior comes from the range's other folds
        (out-of-fold), else from `statics` (the prior a forecast uses)."""
        s0, s1 = rows.ranges[name]
        edges = fold_edges(s0, s1, self.config.n_folds) if folds else np.array([s0, s1])
        pos_all = data.targets.positives_per_cell(s0, s1)
        n_cells = len(pos_all)
        parts = []
        for f0, f1 in zip(edges[:-1], edges[1:], strict=True):
            if folds:  # naive_prior's formula on the range minus this fold
                k = pos_all - data.targets.positives_per_cell(f0, f1)
                prior = (k + 0.5) / ((s1 - s0) - (f1 - f0) + 1.0)
            else:
                prior = self.statics["prior"].astype(np.float64)
            log_prior = np.log(prior).astype(np.float32)
            inside = (rows.day >= f0) & (rows.day < f1)
            cell = rows.cell[inside]
            x = self._features(rows.raw[inside], cell, log_prior[cell])
            parts.append((x, rows.y[inside], np.ones(inside.sum())))
            neg, pos = rows.quiet_counts(f0, f1)
            zeros = np.zeros((n_cells, rows.raw.shape[1]), np.float32)
            x_quiet = self._features(zeros, np.arange(n_cells), log_prior)
            for label, count, scale in ((0.0, neg, self.config.neg_rate), (1.0, pos, 1.0)):
                has = count > 0
                parts.append((x_quiet[has], np.full(has.sum(), label), scale * count[has]))
        x, y, w = (np.concatenate(v) for v in zip(*parts, strict=True))
        return xgb.DMatrix(x, label=y, weight=w, feature_names=self.feature_names())

    # -- predict -----------------------------------------------------------------------
    def _margin_to_p(self, margin: np.ndarray) -> np.ndarray:
        z = margin.astype(np.float64) + math.log(self.config.neg_rate)
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def _predict_rows(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of feature rows ``(N, n_features)``: float32 ``(N,)``.

        Rows that fall between the same split thresholds of every feature reach the same
        leaves, so xgboost runs once per distinct threshold-bin vector (exact, not an
        approximation); on the Japan grid that is ~1/4 of the busy rows.
        """
        if len(x) == 0:
            return np.zeros(0, dtype=np.float32)
        thresholds = self._split_thresholds()
        bits = [len(t).bit_length() for t in thresholds]
        if sum(bits) > 63:  # too many bins for one int64 key: no deduplication
            return self._margin_to_p(self.booster.inplace_predict(x, predict_type="margin"))
        key = np.zeros(len(x), dtype=np.int64)
        shift = 0
        for f, (t, b) in enumerate(zip(thresholds, bits, strict=True)):
            if b:
                key |= np.searchsorted(t, x[:, f], side="right").astype(np.int64) << shift
                shift += b
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        margin = self.booster.inplace_predict(np.ascontiguousarray(x[first]), predict_type="margin")
        return self._margin_to_p(margin)[inverse]

    def _split_thresholds(self) -> list[np.ndarray]:
        """Per feature, the sorted float32 split values used by the booster's trees."""
        if self._thresholds is None:
            doc = json.loads(self.booster.save_raw("json"))
            found = [set() for _ in self.feature_names()]
            for tree in doc["learner"]["gradient_booster"]["model"]["trees"]:
                for f, value, left in zip(
                    tree["split_indices"],
                    tree["split_conditions"],
                    tree["left_children"],
                    strict=True,
                ):
                    if left != -1:  # an internal node; xgboost goes left iff x < value
                        found[f].add(value)
            self._thresholds = [np.array(sorted(v), dtype=np.float32) for v in found]
        return self._thresholds

    def _log_prior(self, cell: np.ndarray) -> np.ndarray:
        return np.log(self.statics["prior"][cell].astype(np.float64)).astype(np.float32)

    def quiet_forecast(self) -> np.ndarray:
        """The forecast of every cell on a day with no event nearby: float32 ``(n_cells,)``."""
        if self._quiet_p is None:
            cells = np.arange(len(self.statics["prior"]))
            zeros = np.zeros((len(cells), len(self.raw_names())), np.float32)
            self._quiet_p = self._predict_rows(self._features(zeros, cells, self._log_prior(cells)))
        return self._quiet_p

    def predict_days(
        self, data: ForecastData, start: int, stop: int, chunk: int = 64
    ) -> Iterator[tuple[int, np.ndarray]]:
        if self.booster is None:
            raise ModelError(f"{self.kind}: fit or load the model first")
        self._prepare(data)
        quiet = self.quiet_forecast()
        cells = np.arange(data.grid.n_cells)
        log_prior = self._log_prior(cells)
        out, first = [], start
        for a, raw in self._raw(data, start, stop, min(chunk, self.config.feature_chunk)):
            n = raw.shape[0]
            p = np.broadcast_to(quiet, (n, len(quiet))).copy()
            di, ci = np.nonzero(raw.any(axis=1))
            if len(di):
                feats = self._feature_maps(raw, cells, log_prior)
                p[di, ci] = self._predict_rows(feats[di, :, ci])
            out.append(p.reshape(n, *data.grid.shape))
            if a + n - first >= chunk or a + n == stop:
                yield first, np.concatenate(out)
                out, first = [], a + n

    # -- persistence -------------------------------------------------------------------
    def _save_arrays(self, folder: Path) -> None:
        saved = {k: v for k, v in self.statics.items() if k not in self.derived_statics}
        save_arrays(folder / STATICS_FILE, saved)
        self.booster.save_model(str(folder / BOOSTER_FILE))

    def _load_arrays(self, folder: Path) -> None:
        if "fit_days" not in self.meta:
            raise ModelError(f"{folder / 'model.json'}: fit_days: missing (the fitting period)")
        path = folder / STATICS_FILE
        arrays = load_arrays(path)
        ny, nx = self.grid_shape()
        prior = v.check_array(arrays, "prior", file=path, shape=(ny * nx,), prob=True)
        v.check_names(arrays, {"prior"}, path)  # what `_fit_statics` saves
        if (prior <= 0).any():
            raise ModelError(f"{path}: 'prior' has zeros (its log is a feature)")
        self.statics = {"prior": prior}
        self.booster = self._read_booster(folder / BOOSTER_FILE)
        self._quiet_p = None
        self._thresholds = None

    def _read_booster(self, path: Path):
        """An xgboost booster from a UBJ/JSON file of bounded size, parsed by xgboost in a
        child process first (`store.probe_booster`: nothing unpickles, and a crafted file
        cannot crash this process), then checked against the model's features and for
        well-formed trees."""
        import xgboost as xgb

        raw = v.read_bytes(path, MAX_BOOSTER_BYTES, "booster file")
        v.probe_booster(raw, path)
        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(raw))
            n_features, n_trees = booster.num_features(), booster.num_boosted_rounds()
            names = booster.feature_names
            booster.set_param({"nthread": self.config.n_threads})
            doc = json.loads(booster.save_raw("json"))
        except ValueError as err:  # XGBoostError (not expected after the probe)
            raise ModelError(f"{path}: not a valid xgboost model ({type(err).__name__})") from None
        want = self.feature_names()
        if n_features != len(want) or (names is not None and list(names) != want):
            raise ModelError(
                f"{path}: the booster has {n_features} features {list(names or [])[:3]}..., "
                f"this {self.kind} model has {len(want)}"
            )
        if not 1 <= n_trees <= MAX_TREES:
            raise ModelError(f"{path}: the booster has {n_trees} trees (1 to {MAX_TREES})")
        v.check_booster_doc(doc, n_features, path)
        return booster
