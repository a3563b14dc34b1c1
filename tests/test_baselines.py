"""The baselines (naive, ri, xgb-rtl, xgb-indicator): features, round trips, leakage, skill."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from conftest import as_catalog

from quake.data.forecast_data import ForecastData
from quake.models import create, kinds, load_model
from quake.models.features.activity import box_mean, decayed_energy
from quake.models.features.indicator import indicator_raw
from quake.models.features.indicator import raw_names as indicator_names
from quake.models.features.rtl import raw_names as rtl_names
from quake.models.features.rtl import rtl_background, rtl_raw, rupture_km
from quake.scoring.evaluate import evaluate

KINDS = ("naive", "ri", "xgb-rtl", "xgb-indicator")
MC = 3.5


@pytest.fixture
def tiny_data(aftershock_catalog, tiny_protocol) -> ForecastData:
    return ForecastData.build(aftershock_catalog, MC, tiny_protocol)


def _brute_rtl(data, day, cell, r0, t0):
    ev, nx = data.events, data.grid.nx
    s = ev.span(0, day + 1)
    iy, ix = np.divmod(ev.cell[s].astype(np.int64), nx)
    cy, cx = divmod(cell, nx)
    r = np.hypot(iy - cy, ix - cx) * data.grid.cell_km
    age = day - ev.day[s]
    inside = (r <= 2 * r0 + 1e-9) & (age < 2 * t0)
    return (
        np.exp(-r[inside] / r0).sum(),
        np.exp(-age[inside] / t0).sum(),
        (rupture_km(ev.mag[s][inside]) / np.maximum(r[inside], data.grid.cell_km / 2)).sum(),
    )


def test_rtl_sums_match_brute_force(tiny_data):
    start = tiny_data.days("test")[0]
    names = rtl_names()
    _, raw = next(rtl_raw(tiny_data.events, start, start + 5, chunk=5))
    for cell in (0, 17, 55, 119):
        for r0 in (25.0, 50.0):
            for t0 in (30, 90):
                want = _brute_rtl(tiny_data, start + 4, cell, r0, t0)
                got = [raw[4, names.index(f"{t}_r{r0:g}km_t{t0}d"), cell] for t in "RTL"]
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_rtl_is_exactly_zero_for_empty_cylinders(tiny_data):
    start = tiny_data.days("test")[0]
    _, raw = next(rtl_raw(tiny_data.events, start, start + 8, chunk=8, r0_km=(5.0,)))
    r, t, length = raw[:, 0:3], raw[:, 3:6], raw[:, 6:9]  # term > t0 order
    empty = r == 0  # R > 0 iff the cylinder holds an event
    assert empty.any() and (~empty).any()
    assert (t[empty] == 0).all() and (length[empty] == 0).all()
    assert (t[~empty] > 0).all() and (length[~empty] > 0).all()


def test_rtl_background_is_the_mean_over_the_range(tiny_data):
    start, stop = tiny_data.days("train")
    total = sum(
        raw.sum(axis=0, dtype=np.float64) for _, raw in rtl_raw(tiny_data.events, start, stop)
    )
    mean = (total / (stop - start)).T
    np.testing.assert_allclose(rtl_background(tiny_data.events, start, stop), mean, atol=1e-5)


def test_indicator_matches_brute_force(tiny_data):
    start = tiny_data.days("test")[0]
    _, raw = next(indicator_raw(tiny_data.events, start, start + 16))
    heat = tiny_data.events.dense(start - 400, start + 16)
    names = indicator_names()
    for i in (0, 7, 15):
        for cell in (3, 40, 77):
            cy, cx = divmod(cell, tiny_data.grid.nx)
            for w in (1, 30, 365):
                for k in (1, 3, 7):
                    h = k // 2
                    box = heat[400 + i - w + 1 : 400 + i + 1, max(cy - h, 0) : cy + h + 1]
                    want = box[:, :, max(cx - h, 0) : cx + h + 1].max()
                    assert raw[i, names.index(f"maxmag_{w}d_{k}x{k}"), cell] == want


def test_decayed_energy_matches_closed_form(tiny_data):
    ev = tiny_data.events
    start = tiny_data.days("validation")[0]
    blocks = list(decayed_energy(ev, start, start + 40, tau=30.0, chunk=16))
    s = np.concatenate([b for _, b in blocks])
    for t in (0, 17, 39):
        sp = ev.span(0, start + t + 1)
        w = 10.0 ** (ev.mag[sp] - 5.0) * np.exp(-(start + t - ev.day[sp]) / 30.0)
        want = np.bincount(ev.cell[sp], weights=w, minlength=ev.grid.n_cells)
        np.testing.assert_allclose(s[t].ravel(), want, rtol=1e-5)
    assert np.allclose(box_mean(np.ones((2, 5, 5)), 1)[0, 2, 2], 1.0)


def test_kinds_are_registered():
    assert set(KINDS) <= set(kinds())


@pytest.mark.parametrize("kind", KINDS)
def test_fit_predict_save_load_round_trip(kind, tiny_data, tmp_path):
    model = create(kind).fit(tiny_data, final=True)
    start, stop = tiny_data.days("test")
    p = model.predict(tiny_data, start, stop)
    assert p.shape == (stop - start, *tiny_data.grid.shape) and p.dtype == np.float32
    assert np.isfinite(p).all() and (p >= 0).all() and (p < 1).all()
    model.save(tmp_path / kind)
    files = {f.suffix for f in (tmp_path / kind).iterdir()}
    assert files <= {".json", ".safetensors", ".ubj"}
    loaded = load_model(tmp_path / kind)
    assert loaded.kind == kind and loaded.mc == MC
    np.testing.assert_array_equal(loaded.predict(tiny_data, start, stop), p)
    # Streaming in other block sizes gives the same maps.
    blocks = [b for _, b in loaded.predict_days(tiny_data, start, stop, chunk=7)]
    np.testing.assert_array_equal(np.concatenate(blocks), p)


def _perturb_after(catalog, day: int, epoch) -> object:
    """The catalog with every event from ``day`` on changed: half dropped, the rest 1.5
    magnitudes larger, and a burst of M6+ events added."""
    ev = catalog.events
    cut = pd.Timestamp(epoch + timedelta(days=int(day)), tz="UTC")
    late = ev[ev["time"] >= cut]
    kept = late.iloc[::2].assign(magnitude=late["magnitude"].iloc[::2] + 1.5)
    burst = late.iloc[:20].assign(magnitude=6.5)
    out = pd.concat([ev[ev["time"] < cut], kept, burst]).sort_values("time", kind="stable")
    assert len(late) > 20
    return as_catalog(out.reset_index(drop=True))


def _fitted_state(model) -> dict:
    state = {"params": model.meta.get("params"), "selection": model.meta.get("selection")}
    for name in ("prior",):
        if getattr(model, name, None) is not None:
            state[name] = np.asarray(getattr(model, name)).tobytes()
    for name, arr in getattr(model, "statics", {}).items():
        state["statics_" + name] = arr.tobytes()
    if getattr(model, "booster", None) is not None:
        state["booster"] = bytes(model.booster.save_raw("json"))
    return state


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("final", [True, False])
def test_no_leakage_from_events_after_the_fitting_period(
    kind, final, aftershock_catalog, tiny_protocol
):
    """Events after every label a fit may read (the last fitting/validation day T, plus the
    horizon) cannot change the fitted model nor its forecasts of fitting-period days."""
    base = ForecastData.build(aftershock_catalog, MC, tiny_protocol)
    last_t = tiny_protocol.fit_days(True)[1] - 1  # validation's last T: selection reads it too
    cut = last_t + tiny_protocol.horizon_days
    changed = ForecastData.build(
        _perturb_after(aftershock_catalog, cut, tiny_protocol.epoch), MC, tiny_protocol
    )
    assert changed.targets.count(*changed.days("test")) != base.targets.count(*base.days("test"))
    a = create(kind).fit(base, final=final)
    b = create(kind).fit(changed, final=final)
    assert _fitted_state(a) == _fitted_state(b)
    start, stop = tiny_protocol.fit_days(final)
    np.testing.assert_array_equal(a.predict(base, start, stop), b.predict(changed, start, stop))


def test_boosting_deduplicated_prediction_is_exact(tiny_data):
    model = create("xgb-rtl").fit(tiny_data, final=False)
    start = tiny_data.days("test")[0]
    _, raw = next(model._raw(tiny_data, start, start + 32, 32))
    cells = np.arange(tiny_data.grid.n_cells)
    feats = model._feature_maps(raw, cells, model._log_prior(cells))
    x = np.ascontiguousarray(feats.transpose(0, 2, 1).reshape(-1, feats.shape[1]))
    plain = model._margin_to_p(model.booster.inplace_predict(x, predict_type="margin"))
    np.testing.assert_array_equal(model._predict_rows(x), plain)
    assert len(np.unique(plain)) > 1


def test_boosting_probabilities_are_calibrated_on_average(tiny_data):
    """The neg_rate correction brings the mean forecast back near the base rate."""
    model = create("xgb-indicator").fit(tiny_data, final=False)
    start, stop = tiny_data.days("train")
    mean_p = float(model.predict(tiny_data, start, stop).mean())
    rate = tiny_data.targets.count(start, stop) / ((stop - start) * tiny_data.grid.n_cells)
    assert rate / 2 < mean_p < rate * 2


def test_ri_beats_naive_on_clustered_seismicity(tiny_data):
    naive = evaluate(create("naive").fit(tiny_data, final=True), tiny_data, "test", ("all",))
    ri = evaluate(create("ri").fit(tiny_data, final=True), tiny_data, "test", ("all",))
    assert ri["all"].roc_auc() > naive["all"].roc_auc()
    assert ri["all"].pr_auc() > naive["all"].pr_auc()


def test_ri_selects_on_validation_only(tiny_data):
    model = create("ri", taus=[30.0, 365.0], radii=[0, 1], betas=[0.01, 1.0]).fit(tiny_data)
    assert len(model.meta["search"]) == 8
    best = max(model.meta["search"], key=lambda r: r["pr_auc"])
    assert model.params["tau_days"] == best["tau_days"] and model.params["beta"] == best["beta"]
    fixed = create("ri", tau_days=30.0, radius=0, beta=0.5).fit(tiny_data)
    assert "search" not in fixed.meta and fixed.params["beta"] == 0.5


@pytest.mark.parametrize("kind", KINDS)
def test_validation_twin_equals_a_train_only_fit(kind, tiny_data):
    final = create(kind).fit(tiny_data, final=True)
    twin = final.validation_twin(tiny_data)
    plain = create(kind).fit(tiny_data, final=False)
    start, stop = tiny_data.days("validation")
    assert twin.meta["final"] is False
    np.testing.assert_array_equal(
        twin.predict(tiny_data, start, stop), plain.predict(tiny_data, start, stop)
    )


def test_booster_size_and_shape_caps(tmp_path):
    """Stop 27's audit: a 172 MB booster of 100,000 trees loaded in 27 s and 2.5 GB."""
    from quake.errors import ModelError
    from quake.models.boosting import MAX_BOOSTER_BYTES

    for args in ({"max_trees": 10_001}, {"early_stopping_rounds": 10_001}, {"max_depth": 17}):
        with pytest.raises(ModelError, match="model_args"):
            create("xgb-rtl", **args)
    path = tmp_path / "booster.ubj"
    with open(path, "wb") as fh:  # sparse: no disk used
        fh.truncate(MAX_BOOSTER_BYTES + 1)
    with pytest.raises(ModelError, match="booster file larger than 67,108,864 bytes"):
        create("xgb-rtl")._read_booster(path)


def test_choosing_on_validation_reads_no_validation_event_for_the_active_mask(tiny_data):
    """Stop 27's audit: the protocol's ``active`` (events before the test start) includes
    cells first active during validation; selecting on it read validation outcomes (on a
    catalog without signal, validation active ROC 0.17 instead of ~0.5)."""
    from quake.data.targets import active_mask

    v0, _ = tiny_data.days("validation")
    sel = tiny_data.selection_mask("active")
    np.testing.assert_array_equal(sel, active_mask(tiny_data.events, v0))
    late = tiny_data.mask("active") & ~sel  # first active in validation or just after
    assert late.any(), "the fixture should have cells first active during validation"
    ev = tiny_data.events
    iy, ix = np.divmod(ev.cell.astype(np.int64), ev.grid.nx)
    first_day = np.full(tiny_data.grid.shape, np.iinfo(np.int64).max)
    np.minimum.at(first_day, (iy, ix), ev.day.astype(np.int64))
    assert (first_day[late] >= v0).all() and (first_day[sel] < v0).all()
    assert tiny_data.selection_mask("all").all()
