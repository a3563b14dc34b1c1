"""``python -m quake decluster [CATALOG] --method gk|zbz|etas [--m-min M] [--json] [--out CSV]``.

Splits a catalog (the reference catalog by default) into mainshocks and clustered events
(`quake.data.decluster`) and prints the counts, overall and for each band M >= x. ``etas``
fits ETAS to the catalog on its protocol's grid (`quake.models.etas_decluster`): the events
``>= m0`` (``--m-min``, default the completeness) inside the grid from the first train day on,
a mainshock when its background probability is ``>= --threshold`` (0.5), or, with ``--seed``,
by one stochastic draw. With
``--out`` the mainshocks are written as a CSV in the canonical columns (time, latitude,
longitude, depth_km, magnitude), which `quake.data.catalog.load_catalog` reads back; the
file appears whole or not at all (a temporary file beside it, renamed over it), its missing
folders made. ``--m-min`` is a finite magnitude in [-2, 10]; ``--json`` is strict JSON.

Exit codes: 0 on success; 2 with a one-line ``error: ...`` on stderr when the catalog
cannot be read, no event is left at or above ``--m-min``, or the file cannot be written.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from quake.commands._common import MC_RANGE, magnitude
from quake.commands._paths import check_out_file, json_text, open_out, out_file
from quake.data.catalog import CANONICAL
from quake.data.decluster import METHODS, Declustering, decluster
from quake.data.forecast_data import load_reference
from quake.data.protocol import protocol_for_catalog
from quake.errors import CatalogError

NAME = "decluster"
HELP = (
    "split a catalog into mainshocks and clustered events "
    "(Gardner-Knopoff, Zaliapin-Ben-Zion or ETAS background probabilities)"
)
CHOICES = (*METHODS, "etas")
_TITLES = {
    "gk": "Gardner-Knopoff (1974) windows",
    "zbz": "Zaliapin-Ben-Zion (2013) nearest neighbours",
    "etas": "ETAS background probabilities (Zhuang, Ogata & Vere-Jones 2002)",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("catalog", nargs="?", default=None, help="catalog CSV (default: the reference)")
    p.add_argument("--method", choices=CHOICES, default="gk", help="declustering method (gk)")
    p.add_argument(
        "--m-min",
        type=magnitude,
        default=None,
        help=f"only events with M >= this (a magnitude in [{MC_RANGE[0]:g}, {MC_RANGE[1]:g}])",
    )
    p.add_argument(
        "--foreshock-fraction",
        type=float,
        default=1.0,
        help="gk: window before an event as a fraction of T(M) (1.0; 0 keeps foreshocks)",
    )
    p.add_argument(
        "--eta0", type=float, default=None, help="zbz: threshold on eta (default: fitted)"
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="etas: a mainshock has background probability >= this (0.5)",
    )
    p.add_argument(
        "--seed", type=int, default=None, help="etas: one stochastic declustering (U < p)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", type=out_file, default=None, help="write the mainshocks to this CSV")


def run(args: argparse.Namespace) -> int:
    if args.out:
        check_out_file(Path(args.out).expanduser(), "--out")
    if not (math.isfinite(args.foreshock_fraction) and args.foreshock_fraction >= 0):
        raise CatalogError(
            f"--foreshock-fraction must be a finite number >= 0, got {args.foreshock_fraction}"
        )
    if args.eta0 is not None and not (math.isfinite(args.eta0) and args.eta0 > 0):
        raise CatalogError(f"--eta0 must be a finite number > 0, got {args.eta0}")
    if not 0.0 <= args.threshold <= 1.0:  # NaN fails this too
        raise CatalogError(f"--threshold must lie in [0, 1], got {args.threshold:g}")
    catalog = load_reference(args.catalog)
    t0 = time.perf_counter()
    if args.method == "etas":
        result = _etas(catalog.events, args)
    else:
        result = decluster(
            catalog.events,
            args.method,
            args.m_min,
            foreshock_fraction=args.foreshock_fraction,
            eta0=args.eta0,
        )
    seconds = time.perf_counter() - t0
    out = None
    if args.out:
        out = write_mainshocks(result.mainshocks(catalog.events), args.out)
    report = {
        "source": catalog.report.source,
        "method": args.method,
        "m_min": result.extra.get("m_min", args.m_min),
        "n_events": result.n_events,
        "n_mainshocks": result.n_mainshocks,
        "n_clustered": result.n_clustered,
        "fraction_clustered": round(result.fraction_clustered, 6),
        "by_magnitude": result.counts(),
        "params": result.summary()["params"],
        "seconds": round(seconds, 3),
        "out": str(out) if out else None,
    }
    print(json_text(report) if args.json else format_report(report, result))
    return 0


def _etas(events, args: argparse.Namespace) -> Declustering:
    from quake.models.etas_decluster import etas_declustering  # scipy fit: loaded when asked

    protocol = protocol_for_catalog(events)
    return etas_declustering(
        events, protocol, m0=args.m_min, threshold=args.threshold, seed=args.seed
    )


def format_report(r: dict, result: Declustering) -> str:
    lines = [
        f"source       {r['source']}",
        f"method       {r['method']}: {_TITLES[r['method']]}",
        f"events       {r['n_events']}"
        + (f" (M >= {r['m_min']:g})" if r["m_min"] is not None else ""),
        f"mainshocks   {r['n_mainshocks']}",
        f"clustered    {r['n_clustered']} ({100 * r['fraction_clustered']:.1f} %)",
        f"{'band':<12} {'events':>7} {'mainshocks':>11} {'clustered':>10} {'% clustered':>12}",
    ]
    n_all = r["by_magnitude"]["all"]["events"]
    for band, c in r["by_magnitude"].items():
        if c["events"] and (band == "all" or c["events"] < n_all):  # bands that add something
            pct = 100 * c["fraction_clustered"]
            lines.append(
                f"{band:<12} {c['events']:>7} {c['mainshocks']:>11} {c['clustered']:>10} "
                f"{pct:>12.1f}"
            )
    params = "  ".join(f"{k}={_fmt(v)}" for k, v in r["params"].items())
    lines += [f"params       {params}", f"time         {r['seconds']:.2f} s"]
    if r["out"]:
        lines.append(f"wrote        {r['out']} ({result.n_mainshocks} mainshocks)")
    return "\n".join(lines)


def _fmt(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def write_mainshocks(events, path: str | Path) -> Path:
    """The events in the canonical columns to ``path``, atomically (temp file + rename),
    its missing folders made."""
    path = Path(path).expanduser()
    # Missing folders are made; a failure names --out, never the temporary file.
    with open_out(path, "--out", encoding="utf-8", newline="") as fh:
        events[CANONICAL].to_csv(fh, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    return path
