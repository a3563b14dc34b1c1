"""Reading a catalog file: decode, sniff, parse, validate, and report every dropped row."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from quake.catalog.layouts import CANONICAL, detect_layout, expected_layouts
from quake.errors import CatalogError

# Reasons a row is dropped, in the order they are checked (a row counts once).
DROP_REASONS = (
    "malformed row",
    "unparseable time",
    "unparseable magnitude",
    "missing coordinates",
    "coordinates out of range",
    "implausible magnitude",
    "exact duplicate",
)
MAG_RANGE = (-3.0, 10.5)


@dataclass
class LoadReport:
    """What happened while loading: the layout found and the rows dropped, by reason."""

    source: str
    layout: str
    n_rows: int
    n_events: int
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Catalog:
    """A loaded catalog: the canonical event table (sorted by time) and its load report."""

    events: pd.DataFrame
    report: LoadReport

    def __len__(self) -> int:
        return len(self.events)

    @property
    def fingerprint(self) -> str:
        """A short hash of the canonical events: identifies the data a model was fitted on."""
        h = hashlib.sha256()
        ev = self.events
        t = ev["time"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]")
        h.update(t.astype(np.int64).tobytes())
        for col in ("latitude", "longitude", "magnitude"):
            h.update(np.round(ev[col].to_numpy(np.float64), 4).tobytes())
        return h.hexdigest()[:16]


def _decode(raw: bytes, source: str) -> tuple[str, list[str]]:
    notes: list[str] = []
    if not raw.strip():
        raise CatalogError(f"{source}: the file is empty; expected a CSV earthquake catalog.")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), ["decoded as UTF-16"]
    head = raw[:8192]
    if b"\x00" in head:
        raise CatalogError(
            f"{source}: this is a binary file, not a CSV text catalog "
            "(expected comma- or semicolon-separated text with a header row)."
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        # Catalog fields are numbers and times; only free text (place names) can be
        # non-ASCII, so a legacy 8-bit encoding keeps every number intact.
        text = raw.decode("cp1252", errors="replace")
        notes.append(f"not valid UTF-8 (byte {raw[err.start]:#04x} at {err.start}); read as cp1252")
    start = text.lstrip()[:200].lower()
    if start.startswith(("<!doctype", "<html", "<?xml", "<")):
        raise CatalogError(
            f"{source}: this looks like an HTML/XML page (an error page from a web service?), "
            "not a CSV catalog."
        )
    bad = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\r\n\t")
    if bad > 16:
        raise CatalogError(
            f"{source}: unreadable text ({bad} control characters in the first 8 KB); "
            "expected a UTF-8 CSV catalog."
        )
    return text, notes


def _sniff_sep(header: str) -> str:
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    sep = max(counts, key=counts.get)
    return sep if counts[sep] > 0 else ","


def _parse(text: str, source: str) -> tuple[pd.DataFrame, int, str]:
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("#")), None)
    if first is None:
        raise CatalogError(f"{source}: no header row found; expected a CSV catalog with a header.")
    sep = _sniff_sep(lines[first])
    body = "\n".join(lines[first:])
    kw = dict(sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
    try:
        df = pd.read_csv(io.StringIO(body), engine="c", **kw)
        return df, 0, sep
    except pd.errors.ParserError:
        pass
    bad: list[list[str]] = []

    def keep_count(row: list[str]) -> None:
        bad.append(row)
        return None

    try:
        df = pd.read_csv(io.StringIO(body), engine="python", on_bad_lines=keep_count, **kw)
    except (pd.errors.ParserError, csv.Error) as err:
        raise CatalogError(f"{source}: cannot parse as CSV ({err}).") from None
    return df, len(bad), sep


def read_catalog_bytes(raw: bytes, source: str = "upload") -> Catalog:
    """Parse catalog file contents; raise `CatalogError` if it cannot be a catalog."""
    text, notes = _decode(raw, source)
    df, n_malformed, sep = _parse(text, source)
    if sep != ",":
        notes.append(f"separator {sep!r}")
    df.columns = [str(c).strip().strip('"').lower() for c in df.columns]
    layout = detect_layout(list(df.columns))
    if layout is None:
        shown = ", ".join(df.columns[:12]) or "(none)"
        raise CatalogError(
            f"{source}: columns not recognised ({shown}). Expected one of: {expected_layouts()}."
        )
    n_rows = len(df) + n_malformed
    canon = layout.convert(df)
    events, dropped = _validate(canon)
    dropped = {"malformed row": n_malformed, **dropped}
    if events.empty:
        raise CatalogError(
            f"{source}: no valid events among {n_rows} rows "
            f"(dropped: {_fmt_dropped(dropped)}); layout {layout.name}."
        )
    report = LoadReport(
        source=source,
        layout=layout.name,
        n_rows=n_rows,
        n_events=len(events),
        dropped={k: int(v) for k, v in dropped.items() if v},
        notes=notes,
    )
    return Catalog(events=events, report=report)


def _fmt_dropped(dropped: dict[str, int]) -> str:
    parts = [f"{v} {k}" for k, v in dropped.items() if v]
    return ", ".join(parts) or "none"


def _validate(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop bad rows, counting each under the first reason that applies."""
    lat = df["latitude"].to_numpy(np.float64)
    lon = df["longitude"].to_numpy(np.float64)
    mag = df["magnitude"].to_numpy(np.float64)
    checks = {
        "unparseable time": df["time"].isna().to_numpy(),
        "unparseable magnitude": np.isnan(mag),
        "missing coordinates": np.isnan(lat) | np.isnan(lon),
        "coordinates out of range": (np.abs(lat) > 90) | (lon < -180) | (lon > 360),
        "implausible magnitude": (mag < MAG_RANGE[0]) | (mag > MAG_RANGE[1]),
    }
    keep = np.ones(len(df), dtype=bool)
    dropped: dict[str, int] = {}
    for reason, bad in checks.items():
        hit = keep & bad
        dropped[reason] = int(hit.sum())
        keep &= ~bad
    out = df.loc[keep, CANONICAL].copy()
    # Longitudes given in [180, 360) are the same places east of the date line's west.
    out.loc[out["longitude"] > 180, "longitude"] -= 360.0
    dup = out.duplicated(keep="first").to_numpy()
    dropped["exact duplicate"] = int(dup.sum())
    out = out.loc[~dup]
    out = out.sort_values("time", kind="stable").reset_index(drop=True)
    out["depth_km"] = out["depth_km"].astype(np.float64)
    return out, dropped


def load_catalog(path: str | Path) -> Catalog:
    """Load a catalog CSV from a path (never modified); raise `CatalogError` on failure."""
    path = Path(path)
    if not path.exists():
        raise CatalogError(f"{path}: no such file.")
    if path.is_dir():
        raise CatalogError(f"{path}: is a folder; expected a CSV catalog file.")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise CatalogError(f"{path}: cannot read the file ({err.strerror}).") from None
    return read_catalog_bytes(raw, source=str(path))
