"""Download a catalog window from the USGS event service (FDSN event API, CSV format).

The service answers at most 20,000 events per query, so the time range is cut
into chunks; a chunk whose count is over the limit is halved until it fits.
Chunks are cached under ``data/downloads/`` so a repeated download reads disk.
"""

from __future__ import annotations

import io
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from quake.catalog.load import Catalog, read_catalog_bytes
from quake.errors import DownloadError

SERVICE = "https://earthquake.usgs.gov/fdsnws/event/1"
LIMIT = 20_000
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / "data" / "downloads"

Fetch = Callable[[str], bytes]


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

    def params(self, start: date, end: date) -> dict[str, str]:
        return {
            "minlatitude": f"{self.min_lat:g}",
            "maxlatitude": f"{self.max_lat:g}",
            "minlongitude": f"{self.min_lon:g}",
            "maxlongitude": f"{self.max_lon:g}",
            "starttime": start.isoformat(),
            "endtime": (end + timedelta(days=1)).isoformat(),
            "minmagnitude": f"{self.min_mag:g}",
            "orderby": "time-asc",
        }


def urlopen_fetch(url: str, timeout: float = 60.0) -> bytes:
    """Fetch a URL; network failures become a `DownloadError` with a plain message."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (fixed https host)
            return resp.read()
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


def _cached(fetch: Fetch, url: str, path: Path | None, valid: Callable[[bytes], bool]) -> bytes:
    """``fetch(url)``, read from ``path`` when it is there and written to it when not.

    An answer that fails ``valid`` raises `DownloadError` and is never cached.
    """
    if path is not None and path.is_file():
        return path.read_bytes()
    raw = fetch(url)
    if not valid(raw):
        raise DownloadError(f"unexpected answer from the USGS service: {raw[:80]!r} (for {url})")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
    return raw


def _cache_name(window: Window, a: date, b: date, ext: str) -> str:
    return (
        f"usgs_{a}_{b}_{window.min_lat:g}_{window.max_lat:g}_{window.min_lon:g}_"
        f"{window.max_lon:g}_m{window.min_mag:g}.{ext}"
    )


def _chunks(
    window: Window, fetch: Fetch, years: int = 1, cache_dir: Path | None = None
) -> list[tuple[date, date]]:
    """Time chunks each under the service limit (asks the count endpoint, halves if over).

    Count answers are cached like the chunks, so a cached window loads offline.
    """
    todo, out = [], []
    start = window.start
    while start <= window.end:
        end = min(date(start.year + years, 1, 1) - timedelta(days=1), window.end)
        todo.append((start, end))
        start = end + timedelta(days=1)
    while todo:
        a, b = todo.pop(0)
        path = cache_dir / _cache_name(window, a, b, "count") if cache_dir else None
        n = int(_cached(fetch, _url("count", window.params(a, b)), path, _is_count))
        if n > LIMIT and b > a:
            mid = a + (b - a) // 2
            todo[:0] = [(a, mid), (mid + timedelta(days=1), b)]
        else:
            out.append((a, b))
    return out


def download_usgs(
    window: Window | None = None,
    cache_dir: Path | None = DEFAULT_CACHE,
    fetch: Fetch | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Catalog:
    """Download ``window`` as one catalog (USGS ComCat layout), caching each chunk.

    ``fetch(url) -> bytes`` is injectable so tests replay a recorded response; by
    default `urlopen_fetch` (looked up at call time, so it can be patched).
    """
    window = window or Window()
    fetch = fetch or urlopen_fetch
    chunks = _chunks(window, fetch, cache_dir=cache_dir)
    frames: list[bytes] = []
    for i, (a, b) in enumerate(chunks):
        path = cache_dir / _cache_name(window, a, b, "csv") if cache_dir else None
        frames.append(_cached(fetch, _url("query", window.params(a, b)), path, _is_csv))
        if on_progress:
            on_progress(i + 1, len(chunks))
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
