"""The ETAS numerical core: kernels, simulator, likelihood, fit and expected counts.

Every tolerance is stated where it is used, with where it comes from (sampling noise of a
seeded simulation, or the documented quadrature error).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import dblquad, quad

from quake.data.etas_sim import branching_ratio, etas_catalog, simulate_etas
from quake.data.grid import Grid
from quake.errors import ModelError
from quake.models.etas_background import EtasBackground
from quake.models.etas_core import (
    GAUSS_ORDERS,
    EtasParams,
    aki_utsu_b,
    gauss_order,
    polar_mass,
    rect_mass,
    rect_nodes,
    spatial_density,
    spatial_tail,
    square_gauss_mass,
)
from quake.models.etas_fit import NAMES, _NegLogLik, _prepare, fit_etas, log_likelihood
from quake.models.etas_forecast import (
    FAST_TOL,
    EtasCounts,
    background_cells,
    cell_footprints,
    expected_counts,
    grid_region,
    poisson_probability,
)

# Realistic parameters (Ogata 1998 / Zhuang et al. 2002 ranges): alpha 1.8, p 1.15,
# c 0.01 d, n = 0.6, in km and days.
TRUE = dict(mu=0.5, A=0.131, alpha=1.8, c=0.01, p=1.15, D=4.0, q=1.8, gamma=1.2, b=1.0, m0=4.5)
REGION = (0.0, 600.0, 0.0, 600.0)


def omori(t, c, p):
    return (p - 1) / c * (1 + t / c) ** -p


# -- kernels --------------------------------------------------------------------------------
def test_kernels_integrate_to_one():
    c, p = 0.01, 1.15
    # In log-time s = log t: the mass beyond e**200 days is < 1e-13.
    total = quad(lambda s: omori(math.exp(s), c, p) * math.exp(s), -30, 200, limit=500)[0]
    assert total == pytest.approx(1.0, abs=1e-8)
    for sigma, q in ((4.0, 1.8), (300.0, 1.3)):

        def ring(s, sigma=sigma, q=q):  # 2 pi r f(r) dr with r = e**s
            return 2 * math.pi * math.exp(2 * s) * spatial_density(math.exp(2 * s), sigma, q)

        radial = quad(
            ring,
            -30,
            80,
            limit=500,
        )[0]
        assert radial == pytest.approx(1.0, abs=1e-8)
    # The polar rectangle quadrature sees the whole kernel in a rectangle that holds it.
    r_in, r_out, w = rect_nodes(np.array([3.0]), np.array([-2.0]), (-1e9, 1e9, -1e9, 1e9), 1e12)
    assert rect_mass(r_in, r_out, w, np.array([4.0]), 1.8)[0] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    ("px", "py", "rect", "rmax"),
    [
        (5.0, 5.0, (0, 10, 0, 10), 1e9),  # centre of its own cell
        (0.3, 7.0, (0, 10, 0, 10), 1e9),  # 0.3 km from a side
        (15.0, 5.0, (0, 10, 0, 10), 1e9),  # the next cell
        (-3.0, -4.0, (0, 10, 0, 10), 1e9),  # diagonal neighbour
        (55.0, -37.0, (0, 10, 0, 10), 1e9),  # far away
        (30.0, 400.0, (0, 2000, 0, 2500), 50.0),  # near a region's edge, kernel cut at 50 km
        (-20.0, 5.0, (0, 10, 0, 10), 28.0),  # outside, the cut runs through the cell
    ],
)
def test_rect_mass_matches_2d_quadrature(px, py, rect, rmax):
    sigma, q = 4.0, 1.7
    x0, x1, y0, y1 = rect

    def f(y, x):
        r2 = (x - px) ** 2 + (y - py) ** 2
        return spatial_density(r2, sigma, q) if r2 < rmax * rmax else 0.0

    xa, xb = max(x0, px - rmax), min(x1, px + rmax)
    ref = dblquad(
        f,
        xa,
        xb,
        lambda x: max(y0, py - math.sqrt(max(rmax**2 - (x - px) ** 2, 0.0))),
        lambda x: min(y1, py + math.sqrt(max(rmax**2 - (x - px) ** 2, 0.0))),
        epsabs=1e-13,
        epsrel=1e-10,
    )[0]
    r_in, r_out, w = rect_nodes(np.array([px]), np.array([py]), rect, rmax, n_nodes=16)
    got = rect_mass(r_in, r_out, w, np.array([sigma]), q)[0]
    # Documented: relative error < 1e-4 with 16 nodes unless within 0.1 km of a side.
    assert got == pytest.approx(ref, rel=1e-4)


def test_aki_utsu_b_recovers_b():
    rng = np.random.default_rng(3)
    b, n = 1.1, 20_000
    m = 4.45 + rng.exponential(1 / (b * math.log(10)), n)
    se = b / math.sqrt(n)  # Aki (1965): sd of the estimate is b / sqrt(n)
    assert aki_utsu_b(m, 4.45, dm=0.0) == pytest.approx(b, abs=4 * se)
    # Binned to 0.1 with the bin centre 4.5 as m0: Utsu's -dm/2 makes it unbiased again.
    assert aki_utsu_b(np.round(m, 1), 4.5, dm=0.1) == pytest.approx(b, abs=4 * se + 0.005)
    with pytest.raises(ModelError):
        aki_utsu_b(np.array([5.0]), 4.5)


def test_params_round_trip_and_checks():
    p = EtasParams(**TRUE, dm=0.0)
    assert EtasParams.from_dict(p.to_dict()) == p
    assert p.branching_ratio == pytest.approx(0.131 * 2.302585 / (2.302585 - 1.8), rel=1e-6)
    binned = EtasParams(**TRUE, dm=0.1)  # geometric GR over bins gives a smaller mean kappa
    assert binned.branching_ratio < p.branching_ratio
    cut = EtasParams(**TRUE, t_max_days=365.0)
    assert cut.branching_ratio == pytest.approx(
        p.branching_ratio * (1 - (1 + 365 / 0.01) ** -0.15), rel=1e-12
    )
    for bad in ({"p": 1.0}, {"q": 0.9}, {"mu": -1.0}, {"c": float("nan")}):
        with pytest.raises(ModelError):
            EtasParams(**(TRUE | bad))
    with pytest.raises(ModelError):
        EtasParams.from_dict(TRUE | {"evil": 1})


# -- simulator ------------------------------------------------------------------------------
def test_simulator_counts_and_branching_match_theory():
    # 2 alpha < beta keeps the offspring variance finite; p = 1.8 makes the share of
    # offspring that falls after t_end negligible (< 1e-3 of events).
    A, alpha, b, m0, c, p = 0.39, 0.8, 1.0, 4.0, 0.01, 1.8
    mu, t_end = 1.0, 10_000.0
    n = branching_ratio(A, alpha, b, m0)
    assert n == pytest.approx(0.6, abs=0.01)
    sim = simulate_etas(
        mu,
        A,
        alpha,
        c,
        p,
        2.0,
        1.7,
        0.5,
        b,
        m0,
        t_end,
        (0, 1e4, 0, 1e4),
        keep_outside=True,
        seed=11,
    )
    # Total: a Poisson number of clusters, each of mean 1 / (1 - n); variance per cluster
    # E[Z^2] = v / (1 - n)^3 + 1 / (1 - n)^2 with v the offspring variance.
    beta = b * math.log(10)
    v = n + A**2 * beta / (beta - 2 * alpha) - n**2
    mean_total = mu * t_end / (1 - n)
    sd_total = math.sqrt(mu * t_end * (v / (1 - n) ** 3 + 1 / (1 - n) ** 2))
    assert abs(len(sim.t) - mean_total) < 4 * sd_total  # 4 sd: a 6e-5 false-alarm rate
    n_bg = int((sim.parent == -1).sum())
    assert abs(n_bg - mu * t_end) < 4 * math.sqrt(mu * t_end)
    # Direct offspring per parent: Poisson(kappa(m)); their sum given the parents has
    # variance sum(kappa) (Poisson), so 4 sd of it.
    children = np.bincount(sim.parent[sim.parent >= 0], minlength=len(sim.t))
    kappa = A * np.exp(alpha * (sim.m - m0))
    assert abs(children.sum() - kappa.sum()) < 4 * math.sqrt(kappa.sum())
    # Omori delays: P(delay < c) = 1 - 2**(1 - p); spatial offsets of children of parents
    # below m0 + 0.1: P(r < sqrt(s)) = 1 - 2**(1 - q) with s ~ D; binomial 4 sd.
    kid = np.flatnonzero(sim.parent >= 0)
    delay = sim.t[kid] - sim.t[sim.parent[kid]]
    frac = np.mean(delay < c)
    expect = 1 - 2 ** (1 - p)
    assert abs(frac - expect) < 4 * math.sqrt(expect * (1 - expect) / len(kid))
    assert aki_utsu_b(sim.m, m0, dm=0.0) == pytest.approx(b, abs=4 * b / math.sqrt(len(sim.m)))


def test_simulator_refuses_supercritical():
    with pytest.raises(ValueError, match="supercritical"):
        simulate_etas(1.0, 0.6, 1.8, 0.01, 1.15, 4.0, 1.8, 1.2, 1.0, 4.5, 100.0, REGION)
    with pytest.raises(ValueError, match="supercritical"):  # alpha >= beta: n is infinite
        simulate_etas(1.0, 0.01, 2.5, 0.01, 1.15, 4.0, 1.8, 1.2, 1.0, 4.5, 100.0, REGION)


def test_simulated_catalog_frame_sits_on_the_grid():
    grid = Grid(nx=60, ny=60)
    sim = simulate_etas(**TRUE, t_end_days=400.0, region_km=grid_region(grid), seed=2)
    df = etas_catalog(sim, grid)
    assert list(df.columns) == ["time", "latitude", "longitude", "depth_km", "magnitude"]
    assert str(df["time"].dt.tz) == "UTC" and df["time"].is_monotonic_increasing
    x, y = grid.project(df["latitude"].to_numpy(), df["longitude"].to_numpy())
    np.testing.assert_allclose(x, sim.x, atol=1e-6)  # km
    np.testing.assert_allclose(y, sim.y, atol=1e-6)
    assert (grid.cell_index(df["latitude"], df["longitude"]) >= 0).all()


# -- likelihood -----------------------------------------------------------------------------
def _small_problem(seed=5):
    sim = simulate_etas(**TRUE, t_end_days=1500.0, region_km=(0, 200, 0, 200), seed=seed)
    ev, pairs = _prepare(
        sim.t, sim.x, sim.y, sim.m, 4.5, 300.0, 1500.0, (0, 200, 0, 200), 50.0, 1000.0, None
    )
    nodes = rect_nodes(ev["x"], ev["y"], (0, 200, 0, 200), ev["radius"], n_nodes=16)
    nll = _NegLogLik(ev, pairs, nodes, 1200.0)
    nll.u = np.random.default_rng(0).uniform(0.5, 1.5, ev["n_targets"]) / 200.0**2
    return nll


def test_likelihood_gradient_matches_finite_differences():
    nll = _small_problem()
    theta = np.log(np.array([0.3, 0.2, 1.5, 0.02, 0.2, 6.0, 0.7, 0.9]))
    _, grad = nll(theta)
    for k in range(len(NAMES)):
        e = np.zeros(len(NAMES))
        e[k] = 1e-6
        fd = (nll(theta + e)[0] - nll(theta - e)[0]) / 2e-6
        # Central differences of a ~1e3-sized function: error ~ 1e-6 relative.
        assert grad[k] == pytest.approx(fd, rel=1e-5, abs=1e-4), NAMES[k]


def test_log_likelihood_matches_brute_force():
    """Sum of log-intensities by explicit loops, the integral by adaptive quadrature."""
    region = (0.0, 100.0, 0.0, 80.0)
    t = np.array([0.5, 3.0, 3.2, 10.0, 11.0, 30.0])
    x = np.array([50.0, 52.0, 49.0, 20.0, 90.0, 51.0])
    y = np.array([40.0, 41.0, 38.0, 70.0, 5.0, 40.0])
    m = np.array([6.0, 4.5, 4.8, 5.0, 4.6, 4.5])
    par = EtasParams(**(TRUE | {"D": 20.0, "mu": 0.1}), r0_km=1e4, r_max_km=1e4)
    # A nearly uniform background: one Gaussian of 1e5 km (relative slope < 1e-6).
    bg = EtasBackground(np.array([50.0]), np.array([40.0]), np.array([1e5]), np.ones(1), region)
    got = log_likelihood(par, bg, t, x, y, m, t_start=2.0, t_end=40.0)
    u = 1.0 / (100.0 * 80.0)
    kap, sig = par.kappa(m), par.sigma(m)
    loglam = 0.0
    for j in np.flatnonzero(t >= 2.0):
        lam = par.mu * u
        for i in np.flatnonzero(t < t[j]):
            r2 = (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2
            lam += kap[i] * omori(t[j] - t[i], par.c, par.p) * spatial_density(r2, sig[i], par.q)
        loglam += math.log(lam)
    integral = par.mu * 38.0
    for i in range(len(t)):
        lo = max(2.0 - t[i], 0.0)
        tm = quad(lambda s, i=i: omori(s, par.c, par.p), lo, 40.0 - t[i], points=[lo + 0.1])[0]
        sm = dblquad(
            lambda yy, xx, i=i: spatial_density((xx - x[i]) ** 2 + (yy - y[i]) ** 2, sig[i], par.q),
            0,
            100,
            0,
            80,
            epsabs=1e-12,
            epsrel=1e-10,
        )[0]
        integral += kap[i] * tm * sm
    # 1e-6 relative: the background's residual slope and the quadratures.
    assert got == pytest.approx(loglam - integral, rel=1e-6)


# -- fit ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recovery():
    sim = simulate_etas(**TRUE, t_end_days=5000.0, region_km=REGION, seed=1)
    # Events of 0..1000 days are the history; a homogeneous background is estimated with
    # a smooth kernel (n_neighbors=50, documented in quake.models.etas_fit).
    fit = fit_etas(
        sim.t,
        sim.x,
        sim.y,
        sim.m,
        m0=4.5,
        t_start=1000.0,
        t_end=5000.0,
        region=REGION,
        dm=0.0,
        n_neighbors=50,
        h_min_km=5.0,
    )
    return sim, fit


def test_fit_recovers_known_parameters(recovery):
    sim, fit = recovery
    assert 3000 < fit.n_targets < 5000 and fit.converged and fit.hessian_ok
    n_true = EtasParams(**TRUE).branching_ratio
    got = {k: (v, se) for k, v, se in fit.table()}
    # Tolerances: a few standard errors of this catalog size (SE p ~ 0.015, alpha ~ 0.03,
    # n ~ 0.025) plus the background estimator's bias measured over 6 seeds with this
    # setting (p +0.018, n -0.017; quake.models.etas_fit's docstring).
    for name, truth, tol in (("p", 1.15, 0.08), ("alpha", 1.8, 0.15), ("n", n_true, 0.1)):
        value, se = got[name]
        assert abs(value - truth) < tol, (name, value)
        assert abs(value - truth) < 3 * se, (name, value, se)
    assert abs(got["mu"][0] - 0.5) < 0.1
    assert fit.params.b == pytest.approx(1.0, abs=0.07)  # 4 sd of Aki's b / sqrt(n)
    # Pairs stay sparse: far fewer than N^2 / 2.
    assert fit.n_pairs < 0.2 * fit.n_triggers**2 / 2


def test_fit_refuses_supercritical_and_unconverged():
    sim = simulate_etas(**TRUE, t_end_days=2000.0, region_km=(0, 300, 0, 300), seed=4)
    args = (sim.t, sim.x, sim.y, sim.m)
    kw = dict(m0=4.5, t_start=300.0, t_end=2000.0, region=(0, 300, 0, 300), dm=0.0)
    # A b-value this low puts beta = 1.15 below alpha ~ 1.8: infinite branching ratio.
    with pytest.raises(ModelError, match="supercritical"):
        fit_etas(*args, b=0.5, **kw)
    with pytest.raises(ModelError, match="did not converge"):
        fit_etas(*args, max_outer=1, **kw)


def test_fit_refuses_events_crowded_into_one_spot_before_building_pairs():
    """20,000 events within 0.1 km make 4e8 pairs: refused after counting them, before
    gigabytes of neighbour lists are built and fitted for minutes."""
    rng = np.random.default_rng(0)
    n = 20_000
    t = np.sort(rng.uniform(0.0, 2000.0, n))
    x, y = 150.0 + rng.uniform(0, 0.1, n), 150.0 + rng.uniform(0, 0.1, n)
    m = 4.5 + rng.exponential(0.43, n)
    with pytest.raises(ModelError, match="too crowded in space"):
        fit_etas(t, x, y, m, m0=4.5, t_start=300.0, t_end=2000.0, region=(0, 300, 0, 300))


# -- expected counts ------------------------------------------------------------------------
def _brute_force_counts(par, t, x, y, m, day, grid, bg_cells, mc, lead=10, horizon=50):
    """Direct aftershocks + background by quadrature: time by quad, space on a 25 m raster."""
    step = 0.025
    xs = grid.x0_km + (np.arange(int(grid.nx * grid.cell_km / step)) + 0.5) * step
    ys = grid.y0_km + (np.arange(int(grid.ny * grid.cell_km / step)) + 0.5) * step
    xx, yy = np.meshgrid(xs, ys)
    cell = (
        (
            np.floor((yy - grid.y0_km) / grid.cell_km) * grid.nx
            + np.floor((xx - grid.x0_km) / grid.cell_km)
        )
        .astype(int)
        .ravel()
    )
    counts = par.mu * (horizon - lead) * bg_cells
    for i in np.flatnonzero(t < day + 1):
        a, bnd = day + lead - t[i], day + horizon - t[i]
        tm = quad(lambda s: omori(s, par.c, par.p), a, bnd, epsabs=0, epsrel=1e-12)[0]
        r2 = (xx - x[i]) ** 2 + (yy - y[i]) ** 2
        f = spatial_density(r2, par.sigma(m[i]), par.q) * (r2 < par.radius(m[i]) ** 2)
        counts = counts + par.kappa(m[i]) * tm * np.bincount(
            cell, f.ravel() * step**2, minlength=grid.n_cells
        )
    return counts * 10 ** (-par.b * (mc - par.m0))


def test_expected_counts_match_brute_force_integration():
    grid = Grid(nx=6, ny=5, x0_km=-30.0, y0_km=-20.0)
    par = EtasParams(**(TRUE | {"D": 20.0, "mu": 0.05}))
    day = 100
    # Seen by day 100: t < 101 (one event at 100.5); the one at 101.0 is day 101's.
    t = np.array([80.0, 99.7, 100.5, 101.0, -300.0])
    x = np.array([3.3, -12.4, 17.8, 0.0, 6.1])
    y = np.array([2.2, 8.9, -7.6, 0.0, 14.3])
    m = np.array([6.0, 4.5, 5.1, 7.0, 4.9])
    bg_cells = np.full(grid.n_cells, 1.0 / grid.n_cells)
    got = expected_counts(
        par, t, x, y, m, [day], grid, bg_cells, mc=5.0, cascade=False, dtype=np.float64
    )[0]
    ref = _brute_force_counts(par, t, x, y, m, day, grid, bg_cells, 5.0)
    # Raster midpoint error ~1e-5 relative at 25 m for a 4.5 km kernel; the polar
    # quadrature is better than 1e-4 here (no event within 50 m of a side).
    np.testing.assert_allclose(got, ref, rtol=3e-4)
    assert got.sum() > 0.01  # the aftershock terms dominate, not just the background
    probs = poisson_probability(got)
    assert np.all((probs > 0) & (probs < 1))


def test_footprints_sum_to_the_kernel_mass_within_the_cut():
    grid = Grid(nx=120, ny=120)
    par = EtasParams(**(TRUE | {"D": 80.0, "q": 2.0, "gamma": 0.7}))
    rng = np.random.default_rng(0)
    x, y = rng.uniform(400, 800, 200), rng.uniform(400, 800, 200)  # discs inside the grid
    m = 4.5 + rng.exponential(1 / (par.b * math.log(10)), 200)
    rows = np.asarray(cell_footprints(par, x, y, m, grid).sum(axis=1)).ravel()
    exact = 1 - spatial_tail(par.radius(m) ** 2, par.sigma(m), par.q)
    # Documented: < 3e-4 relative over an event's cells (24 / 4 Gauss nodes per arc).
    np.testing.assert_allclose(rows, exact, rtol=1e-3)


def test_footprints_refuse_more_pairs_than_the_cap_before_building_them():
    """3,000 M 9 events, each reaching the 200 x 201 cells within 1,000 km (120.6 million
    pairs): refused from the cell counts alone."""
    grid = Grid()
    par = EtasParams(**TRUE)
    x, y = np.full(3000, 1000.0), np.full(3000, 1250.0)
    with pytest.raises(ModelError, match=r"120,600,000 \(event, cell\) pairs"):
        cell_footprints(par, x, y, np.full(3000, 9.0), grid)


def _composite_mass(rel_x, rel_y, h, sigma, q, sub=16, n=10):
    """Reference: the density by a 10-point Gauss rule on each of 16 x 16 sub-squares
    (two such references agree to < 1e-9 relative over the configurations below)."""
    xi, wi = np.polynomial.legendre.leggauss(n)
    hs = h / sub
    nodes = (np.arange(sub)[:, None] * hs + hs / 2 * (1 + xi)).ravel()
    w = np.tile(wi * hs / 2, sub)
    out = np.empty(len(rel_x))
    for i in range(len(rel_x)):
        r2 = (rel_x[i] + nodes[:, None]) ** 2 + (rel_y[i] + nodes[None, :]) ** 2
        out[i] = w @ spatial_density(r2, sigma[i], q[i]) @ w
    return out


def test_gauss_order_bounds_the_cartesian_rule_error():
    """Random squares, kernels and distances (sqrt(s) from 0.05 to 10 cells, q 1.2-3, the
    event inside the square to 60 cells away): wherever `gauss_order` picks a rule, its
    relative error is below the tolerance asked for, for each of the orders it picks."""
    rng = np.random.default_rng(11)
    n, h = 1500, 10.0
    q = rng.uniform(1.2, 3.0, n)
    sigma = (h * np.exp(rng.uniform(math.log(0.05), math.log(10.0), n))) ** 2
    dist = h * np.exp(rng.uniform(math.log(1e-3), math.log(60.0), n))
    dist *= rng.uniform(size=n) < 0.8  # a fifth of the events at the square's centre
    ang = rng.uniform(0, 2 * np.pi, n)
    px = h / 2 + (dist + rng.uniform(0, 0.75 * h, n)) * np.cos(ang)
    py = h / 2 + (dist + rng.uniform(0, 0.75 * h, n)) * np.sin(ang)
    rel_x, rel_y = -px, -py  # the square [0, h]^2 seen from the event
    dx = np.maximum(np.maximum(rel_x, -rel_x - h), 0.0)
    dy = np.maximum(np.maximum(rel_y, -rel_y - h), 0.0)
    ref = _composite_mass(rel_x, rel_y, h, sigma, q)
    for tol in (1e-4, FAST_TOL):
        order = gauss_order(dx**2 + dy**2, sigma, h, tol)
        assert set(np.unique(order)) == {0, *GAUSS_ORDERS}  # every rule is tried
        for k in GAUSS_ORDERS:
            sel = order == k
            got = np.concatenate(
                [
                    square_gauss_mass(
                        rel_x[i : i + 1], rel_y[i : i + 1], h, sigma[i : i + 1], q[i], k
                    )
                    for i in np.flatnonzero(sel)
                ]
            )
            rel = np.abs(got - ref[sel]) / ref[sel]
            assert rel.max() < tol, (tol, k, rel.max())
    # Where no order is enough (a narrow kernel near the square), the rule would fail.
    i = int(np.argmax((order == 0) & (dist == 0)))
    coarse = square_gauss_mass(rel_x[i : i + 1], rel_y[i : i + 1], h, sigma[i : i + 1], q[i], 16)
    assert abs(coarse[0] / ref[i] - 1) > FAST_TOL


def test_polar_mass_is_rect_mass_reorganised():
    rng = np.random.default_rng(5)
    n = 400
    px, py = rng.uniform(-30, 30, n), rng.uniform(-30, 30, n)
    x0, y0 = rng.uniform(-20, 10, n), rng.uniform(-20, 10, n)
    rect = (x0, x0 + 10, y0, y0 + 10)
    rmax, sigma = rng.uniform(5, 40, n), rng.uniform(1, 200, n)
    for k in (4, 24):
        want = rect_mass(*rect_nodes(px, py, rect, rmax, k), sigma, 1.7)
        outside = ~((px >= x0) & (px <= x0 + 10) & (py >= y0) & (py <= y0 + 10))
        for sel in (np.ones(n, bool), outside):  # with and without the fourth arc
            got = polar_mass(
                px[sel], py[sel], [a[sel] for a in rect], rmax[sel], sigma[sel], 1.7, k
            )
            np.testing.assert_allclose(got, want[sel], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("shape", ["japan-m5", "narrow"])
def test_fast_footprints_match_an_accurate_quadrature(shape):
    """The fast footprints on synthetic events (a tenth of them 10-20 m from a cell side):
    cells cut by the truncation circle, and those a narrow kernel is not smooth over, keep
    the previous polar rule (equal to 1e-12); every other cell is within 1e-6 of its mass of
    a 128-node-per-arc polar quadrature (the previous rule, 24 nodes, errs by up to 1e-3 of
    the mass next to a cell side, hence the looser bound against it), and each event keeps
    its mass within the cut."""
    grid = Grid(nx=80, ny=80)
    if shape == "japan-m5":  # etas-m5's fitted kernel
        par = EtasParams(**(TRUE | {"D": 86.8, "q": 2.076, "gamma": 0.718, "alpha": 1.39}))
    else:
        par = EtasParams(**TRUE)  # sqrt(D) = 2 km: a fifth of a cell
    rng = np.random.default_rng(2)
    n = 150
    x, y = rng.uniform(100, 700, n), rng.uniform(100, 700, n)
    x[:15] = np.round(x[:15] / 10) * 10 + rng.choice([-0.01, 0.02], 15)  # near cell sides
    m = 4.5 + rng.exponential(1 / (par.b * math.log(10)), n)
    fast = cell_footprints(par, x, y, m, grid)
    old = cell_footprints(par, x, y, m, grid, fast=False)
    np.testing.assert_array_equal(fast.indptr, old.indptr)  # the same cells
    np.testing.assert_array_equal(fast.indices, old.indices)
    ev = np.repeat(np.arange(n), np.diff(fast.indptr))
    cx = (fast.indices % grid.nx) * 10.0
    cy = (fast.indices // grid.nx) * 10.0
    rel_x, rel_y = cx - x[ev], cy - y[ev]
    far2 = np.maximum(rel_x**2, (rel_x + 10) ** 2) + np.maximum(rel_y**2, (rel_y + 10) ** 2)
    dx = np.maximum(np.maximum(rel_x, -rel_x - 10), 0.0)
    dy = np.maximum(np.maximum(rel_y, -rel_y - 10), 0.0)
    cartesian = far2 <= par.radius(m[ev]) ** 2  # not cut by the circle ...
    cartesian &= gauss_order(dx**2 + dy**2, par.sigma(m[ev]), 10.0, FAST_TOL) > 0  # ... smooth
    assert cartesian.mean() > 0.5 and not cartesian.all()
    polar = ~cartesian
    np.testing.assert_allclose(fast.data[polar], old.data[polar], rtol=1e-12)
    # Checked: the cells of the events near sides and 4,000 others (the reference is slow).
    pick = np.flatnonzero(cartesian & (ev < 15))
    pick = np.union1d(pick, rng.choice(np.flatnonzero(cartesian), 4000, replace=False))
    e = ev[pick]
    rect = (cx[pick], cx[pick] + 10, cy[pick], cy[pick] + 10)
    nodes = rect_nodes(x[e], y[e], rect, par.radius(m[e]), 128)
    accurate = rect_mass(*nodes, par.sigma(m[e]), par.q)
    rel = np.abs(fast.data[pick] - accurate) / accurate
    assert rel.max() < 1e-6, rel.max()
    assert np.abs(fast.data - old.data).max() < 3e-4
    rows = np.asarray(fast.sum(axis=1)).ravel()
    exact = 1 - spatial_tail(par.radius(m) ** 2, par.sigma(m), par.q)
    rad = par.radius(m)
    whole = (x - rad >= 0) & (x + rad <= 800) & (y - rad >= 0) & (y + rad <= 800)
    assert whole.sum() > 100  # the discs inside the grid
    np.testing.assert_allclose(rows[whole], exact[whole], rtol=1e-3)
    # A narrow kernel's own cell keeps the polar rule; etas-m5's gets the Cartesian one.
    own = gauss_order(np.zeros(1), par.sigma(4.5), 10.0, FAST_TOL)[0]
    assert (own == 0) == (shape == "narrow")


def test_forecast_reads_nothing_after_the_forecast_day():
    grid = Grid(nx=30, ny=30)
    sim = simulate_etas(**TRUE, t_end_days=800.0, region_km=grid_region(grid), seed=8)
    par = EtasParams(**TRUE)
    bg_cells = np.full(grid.n_cells, 1.0 / grid.n_cells)
    days = np.arange(595, 606)
    base = expected_counts(par, sim.t, sim.x, sim.y, sim.m, days, grid, bg_cells, mc=5.0)
    day = 600
    late = sim.t >= day + 1
    m2 = np.where(late, sim.m + 1.0, sim.m)  # later events grow, and an M7.5 is added
    t2, x2, y2 = np.append(sim.t, day + 1.5), np.append(sim.x, 150.0), np.append(sim.y, 150.0)
    m2 = np.append(m2, 7.5)
    other = expected_counts(par, t2, x2, y2, m2, days, grid, bg_cells, mc=5.0)
    seen = days <= day
    np.testing.assert_array_equal(other[seen], base[seen])  # bit for bit
    assert np.abs(other[~seen] - base[~seen]).max() > 1e-3  # the change itself is visible
    counts = EtasCounts(par, t2, x2, y2, m2, grid, bg_cells, mc=5.0, last_day=day)
    assert counts.t.max() < day + 1  # it keeps nothing later ...
    np.testing.assert_allclose(counts.counts([day])[0], base[days == day][0], rtol=1e-6)
    with pytest.raises(ModelError, match="after last_day"):  # ... and refuses later days
        counts.counts([day + 1])


def test_cascade_factor_matches_simulation():
    """Many identical mainshocks just before the forecast's cut-off: the mean number of
    events in the window per mainshock (all generations) against the forecast."""
    par = EtasParams(
        mu=1e-9, A=0.396, alpha=1.0, c=0.01, p=1.15, D=4.0, q=1.8, gamma=1.0, b=1.0, m0=4.5
    )  # n = 0.70; 2 alpha < beta (finite variance)
    grid = Grid(nx=40, ny=40)  # 400 km square, the mainshocks in the middle
    day, copies, batches, mc = 50, 1500, 8, 4.8
    means = []
    for seed in range(batches):
        hist = (
            np.full(copies, day + 1 - 1e-6),
            np.full(copies, 200.0),
            np.full(copies, 200.0),
            np.full(copies, 6.5),
        )
        sim = simulate_etas(
            0.0,
            par.A,
            par.alpha,
            par.c,
            par.p,
            par.D,
            par.q,
            par.gamma,
            par.b,
            par.m0,
            day + 50.0,
            grid_region(grid),
            history=hist,
            t_start_days=day + 1 - 1e-6,
            seed=100 + seed,
        )
        inside = (sim.t >= day + 10) & (sim.t < day + 50) & (sim.m >= mc)
        means.append(inside.sum() / copies)
    mc_mean, mc_se = np.mean(means), np.std(means, ddof=1) / math.sqrt(batches)
    one = (np.array([day + 1 - 1e-6]), np.array([200.0]), np.array([200.0]), np.array([6.5]))
    zero_bg = np.zeros(grid.n_cells)
    full = expected_counts(par, *one, [day], grid, zero_bg, mc=mc, dtype=np.float64).sum()
    direct = expected_counts(
        par, *one, [day], grid, zero_bg, mc=mc, cascade=False, dtype=np.float64
    ).sum()
    # 4 SE of the simulation plus 2 % for the 0.05-day renewal grid and the kernel's cut.
    assert abs(full - mc_mean) < 4 * mc_se + 0.02 * mc_mean, (full, mc_mean, mc_se)
    assert direct < mc_mean - 4 * mc_se  # direct aftershocks alone fall short


def test_background_cell_masses_sum_to_one_over_the_region():
    grid = Grid(nx=20, ny=15, x0_km=100.0, y0_km=50.0)
    rng = np.random.default_rng(1)
    bg = EtasBackground(
        rng.uniform(90, 310, 50),
        rng.uniform(40, 210, 50),
        rng.uniform(2, 40, 50),
        rng.uniform(0, 1, 50),
        grid_region(grid),
    )
    cells = background_cells(bg, grid)
    assert cells.shape == (grid.n_cells,) and np.all(cells >= 0)
    assert cells.sum() == pytest.approx(1.0, abs=1e-12)
    # The density at a cell centre times the area is near the cell's mass where smooth.
    cx = grid.x0_km + 9.5 * grid.cell_km
    cy = grid.y0_km + 7.5 * grid.cell_km
    dens = bg.density(np.array([cx]), np.array([cy]))[0]
    assert dens * 100.0 == pytest.approx(cells[7 * grid.nx + 9], rel=0.1)
