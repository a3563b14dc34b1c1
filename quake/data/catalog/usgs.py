"""Download a catalog window from the USGS event service (FDSN event API, CSV format).

The service answers at most 20,000 events per query, so the time range is cut
into chunks; a chunk whose count is over the limit is halved until it fits.
Answers are cached under `quake.settings.download_dir` (written to a temporary file and
renamed, so a killed run leaves no half answer), so a repeated download reads disk and an
interrupted one resumes. A cached answer that fails its check (empty, garbage, cut off)
is removed and fetched again. The whole download has a deadline (``deadline_s``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from quake import settings
from quake.atomic import atomic_open
from quake.data.catalog.load import Catalog, read_catalog_bytes
from quake.errors import DownloadError
from quake.progress import OnProgress, emit

log = logging.getLogger(__name__)

SERVICE = "https://earthquake.usgs.gov/fdsnws/event/1"
LIMIT = 20_000
DEADLINE_S = 600.0
"""Default time allowed for a whole download (seconds)."""
REQUEST_TIMEOUT_S = 60.0

Fetch = Callable[[str], bytes]
Clock = Callable[[], float]


class _FromSettings:
    def __repr__(self) -> str:
        return "settings.download_dir()"


FROM_SETTINGS: Any = _FromSettings()
"""Default of ``cache_dir``: `quake.settings.download_dir`, looked up at call time."""


@dataclass(frozen=True)
class Window:
    """A region/time/magnitude window of the catalog (dates inclusive)."""

    min_lat: float = 22.0
    max_lat: float = 46.0
    min_lon: float = 122.0
    max_lon: float = 150.0
    start: date = date(1990, 1, 1)
    end: date = date(2019, 12, 31)
    min_mag: float = 2.5

    def check(self, names: dict[str, str] | None = None) -> None:
        """Refuse a window the service cannot answer, before any request: latitudes in
        [-90, 90] and longitudes in [-360, 360] (a box may cross the date line, as the FDSN
        service allows: min_lon < -180 or max_lon > 180), each minimum below its maximum;
        a finite magnitude in [-2, 10]; start on or before end. ``names`` maps a field to
        the name the caller knows it by (the CLI's ``--min-lat``); a `DownloadError` else."""
        n = {f: (names or {}).get(f, f) for f in _FIELDS}
        for lo, hi, limit in (("min_lat", "max_lat", 90.0), ("min_lon", "max_lon", 360.0)):
            for key in (lo, hi):
                v = getattr(self, key)
                if not (isinstance(v, int | float) and math.isfinite(v) and abs(v) <= limit):
                    raise DownloadError(
                        f"{n[key]} must be a finite number in [{-limit:g}, {limit:g}], got {v!r}"
                    )
            if not getattr(self, lo) < getattr(self, hi):
                raise DownloadError(
                    f"{n[lo]} {getattr(self, lo):g} must be below {n[hi]} {getattr(self, hi):g}"
                )
        if self.max_lon - self.min_lon > 360.0:
            raise DownloadError(
                f"{n['min_lon']} .. {n['max_lon']} spans more than 360 degrees of longitude"
            )
        m = self.min_mag
        if not (isinstance(m, int | float) and math.isfinite(m) and -2.0 <= m <= 10.0):
            raise DownloadError(f"{n['min_mag']} must be a finite magnitude in [-2, 10], got {m!r}")
        if self.start > self.end:
            raise DownloadError(
                f"{n['start']} {self.start} is after {n['end']} {self.end}: an empty window; "
                "nothing was requested"
            )

    def params(self, start: date, end: date) -> dict[str, str]:
        return {
            "minlatitude": f"{self.min_lat:g}",
            "maxlatitude": f"{self.max_lat:g}",
            "minlongitude": f"{self.min_lon:g}",
            "maxlongitude": f"{self.max_lon:g}",
            "starttime": start.isoformat(),
            "endtime": (end + timedelta(days=1)).isoformat(),
            "minmagnitude": f"{self.min_mag:g}",
            "eventtype": "earthquake",  # no blasts or explosions, as in the reference catalog
            "orderby": "time-asc",
        }


_FIELDS = ("min_lat", "max_lat", "min_lon", "max_lon", "start", "end", "min_mag")

JAPAN_WINDOW = Window()
"""The reference catalog's window: 22–46 ° N, 122–150 ° E, 1990–2019, M ≥ 2.5."""


def urlopen_fetch(
    url: str, timeout: float = REQUEST_TIMEOUT_S, deadline: float | None = None
) -> bytes:
    """Fetch a URL; network failures become a `DownloadError` with a plain message.

    ``deadline`` (a `time.monotonic` value) bounds the whole answer, not only each read:
    a server that trickles bytes cannot hold the download past it.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (fixed https host)
            if deadline is None:
                return resp.read()
            parts = []
            while block := resp.read1(1 << 16):  # returns what one receive brought
                parts.append(block)
                if time.monotonic() > deadline:
                    raise DownloadError(f"the USGS service was too slow answering {url}")
            return b"".join(parts)
    except urllib.error.HTTPError as err:
        raise DownloadError(f"the USGS service answered HTTP {err.code} for {url}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(
            f"cannot reach the USGS event service ({reason}); are you offline? "
            "Load the catalog from a file instead."
        ) from None


def _url(kind: str, params: dict[str, str]) -> str:
    return f"{SERVICE}/{kind}?" + urllib.parse.urlencode(
        {**params, "format": "csv"} if kind == "query" else params
    )


def _is_count(raw: bytes) -> bool:
    return raw.strip().isdigit()


def _is_csv(raw: bytes) -> bool:
    # An empty answer (HTTP 204) is a chunk without events; otherwise ComCat's header.
    return not raw.strip() or raw.lstrip().lower().startswith(b"time,")


class _Budget:
    """The download's deadline and how far it got (for the message when it passes)."""

    def __init__(self, deadline_s: float | None, clock: Clock, cache_dir: Path | None) -> None:
        self.deadline_s, self.clock, self.cache_dir = deadline_s, clock, cache_dir
        self.t0 = clock()
        self.counts = self.chunks = self.total = 0

    def remaining(self) -> float | None:
        if self.deadline_s is None:
            return None
        return self.deadline_s - (self.clock() - self.t0)

    def check(self) -> None:
        left = self.remaining()
        if left is None or left > 0:
            return
        if self.total:
            where = f"{self.chunks} of {self.total} chunks downloaded"
        else:
            where = f"still sizing the chunks ({self.counts} counts answered)"
        kept = (
            "cached answers are kept, so running it again resumes where it stopped"
            if self.cache_dir is not None
            else "nothing was cached (no cache folder)"
        )
        raise DownloadError(
            f"the download passed its deadline of {self.deadline_s:g} s: {where}; {kept}"
        )


def _store(path: Path, raw: bytes) -> None:
    """Write ``raw`` to ``path`` through a temporary file and a rename. A cache that cannot
    be written (full or read-only disk) only costs a refetch next time: logged, not raised."""
    if raw.strip() and not raw.endswith(b"\n"):
        raw += b"\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "wb") as f:
            f.write(raw)
    except OSError as err:
        log.warning("cannot cache %s (%s); it will be fetched again next time", path.name, err)


def _cached(
    fetch: Fetch,
    url: str,
    path: Path | None,
    valid: Callable[[bytes], bool],
    budget: _Budget | None = None,
) -> bytes:
    """``fetch(url)``, read from ``path`` when it holds a valid answer and written to it
    when not. A cached answer that fails ``valid`` is removed and fetched again; a fetched
    one that fails raises `DownloadError` and is never cached."""
    if path is not None and path.is_file():
        try:
            raw = path.read_bytes()
        except OSError as err:
            raw, why = None, f"unreadable ({err})"
        else:  # what _store wrote ends with a newline: one without it was cut off
            whole = not raw.strip() or raw.endswith(b"\n")
            why = "" if valid(raw) and whole else f"not a whole valid answer ({raw[:40]!r})"
        if not why:
            return raw
        log.warning("cached %s is %s; fetching it again", path.name, why)
        with contextlib.suppress(OSError):
            path.unlink()
    if budget is not None:
        budget.check()
    raw = fetch(url)
    if not valid(raw):
        raise DownloadError(f"unexpected answer from the USGS service: {raw[:80]!r} (for {url})")
    if path is not None:
        _store(path, raw)
    return raw


def _cache_name(window: Window, a: date, b: date, ext: str) -> str:
    return (
        f"usgs_{a}_{b}_{window.min_lat:g}_{window.max_lat:g}_{window.min_lon:g}_"
        f"{window.max_lon:g}_m{window.min_mag:g}.{ext}"
    )


def _sized_chunks(
    window: Window,
    fetch: Fetch,
    years: int = 1,
    cache_dir: Path | None = None,
    budget: _Budget | None = None,
) -> list[tuple[date, date, int]]:
    """``(first, last, count)`` time chunks each under the service limit (asks the count
    endpoint, halves if over). Counts are cached like the chunks, so a cached window loads
    offline."""
    todo, out = [], []
    start = window.start
    while start <= window.end:
        end = min(date(start.year + years, 1, 1) - timedelta(days=1), window.end)
        todo.append((start, end))
        start = end + timedelta(days=1)
    while todo:
        a, b = todo.pop(0)
        path = cache_dir / _cache_name(window, a, b, "count") if cache_dir else None
        n = int(_cached(fetch, _url("count", window.params(a, b)), path, _is_count, budget))
        if budget is not None:
            budget.counts += 1
        if n > LIMIT and b > a:
            mid = a + (b - a) // 2
            todo[:0] = [(a, mid), (mid + timedelta(days=1), b)]
        else:
            out.append((a, b, n))
    return out


def _chunks(
    window: Window, fetch: Fetch, years: int = 1, cache_dir: Path | None = None
) -> list[tuple[date, date]]:
    """Time chunks each under the service limit (see `_sized_chunks`)."""
    return [(a, b) for a, b, _ in _sized_chunks(window, fetch, years, cache_dir)]


def _csv_for(count: int) -> Callable[[bytes], bool]:
    """The check of a chunk's answer: ComCat CSV; empty only when the chunk counted none."""

    def valid(raw: bytes) -> bool:
        return _is_csv(raw) and (count == 0 or bool(raw.strip()))

    return valid


def download_usgs(
    window: Window | None = None,
    cache_dir: Path | None = FROM_SETTINGS,
    fetch: Fetch | None = None,
    on_progress: OnProgress | None = None,
    deadline_s: float | None = DEADLINE_S,
    clock: Clock = time.monotonic,
) -> Catalog:
    """Download ``window`` as one catalog (USGS ComCat layout), caching each chunk.

    ``cache_dir`` defaults to `quake.settings.download_dir`; None caches nothing.
    ``fetch(url) -> bytes`` is injectable so tests replay a recorded response; by
    default `urlopen_fetch` (looked up at call time, so it can be patched), bounded by
    the deadline. When ``deadline_s`` seconds (None: no limit) have passed on ``clock``
    before the next request, `DownloadError` says how far it got; the answers cached so
    far are kept, so a rerun resumes.
    """
    window = window or Window()
    window.check()  # an impossible window is refused before any request
    if cache_dir is FROM_SETTINGS:
        cache_dir = settings.download_dir()
    budget = _Budget(deadline_s, clock, cache_dir)
    if fetch is None:
        default = urlopen_fetch

        def fetch(url: str) -> bytes:
            left = budget.remaining()
            if left is None:
                return default(url)
            timeout = max(1.0, min(REQUEST_TIMEOUT_S, left))
            return default(url, timeout=timeout, deadline=time.monotonic() + max(left, 1.0))

    chunks = _sized_chunks(window, fetch, cache_dir=cache_dir, budget=budget)
    budget.total = len(chunks)
    frames: list[bytes] = []
    for i, (a, b, n) in enumerate(chunks):
        path = cache_dir / _cache_name(window, a, b, "csv") if cache_dir else None
        frames.append(_cached(fetch, _url("query", window.params(a, b)), path, _csv_for(n), budget))
        budget.chunks = i + 1
        emit(on_progress, "download", i + 1, len(chunks))
    return read_catalog_bytes(_join_csv(frames), source=f"USGS event service {window}")


def _join_csv(parts: list[bytes]) -> bytes:
    """Concatenate CSV answers that share one header (empty answers have only the header)."""
    try:
        tables = [pd.read_csv(io.BytesIO(p), dtype=str) for p in parts if p.strip()]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DownloadError(
            f"the USGS service answered with something that is not CSV ({err})"
        ) from None
    if not tables:
        raise DownloadError("the USGS service returned nothing for this window")
    return pd.concat(tables, ignore_index=True).to_csv(index=False).encode()
