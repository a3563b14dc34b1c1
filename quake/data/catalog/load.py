"""Reading a catalog file: decode, sniff, parse, validate, and report every dropped row."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import stat
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from quake.data.catalog.layouts import (
    CANONICAL,
    NOT_EARTHQUAKE_COLUMN,
    TIME_FAULTS,
    TIME_OUT_OF_RANGE,
    UNPARSEABLE_TIME,
    Layout,
    detect_layout,
    expected_layouts,
)
from quake.errors import CatalogError
from quake.settings import MAX_CATALOG_ROWS, MAX_CLI_CATALOG_BYTES

# Reasons a row is dropped, in the order they are checked (a row counts once).
# "unparseable time" includes impossible dates and clock times (month 13, Feb 30,
# hour 25, minute 61, second 61); "time out of range" is a real date before
# layouts.TIME_MIN (1800) or more than a day ahead of now.
NOT_EARTHQUAKE = "not an earthquake (event type)"
"""A row whose event type (ComCat's ``type``) is a quarry blast, an explosion, an ice quake
or another non-tectonic event: not a target or an input of an earthquake forecast."""
DROP_REASONS = (
    "malformed row",
    UNPARSEABLE_TIME,
    TIME_OUT_OF_RANGE,
    "unparseable magnitude",
    "missing coordinates",
    "coordinates out of range",
    "implausible magnitude",
    NOT_EARTHQUAKE,
    "exact duplicate",
)
MAG_RANGE = (-3.0, 10.5)
MAX_COLUMNS = 1000
"""Most columns a header may name (USGS ComCat has 22): a wider header is refused before
it is split, so a hostile one-line header costs one linear scan."""
_SHOWN = 40  # characters of a column name quoted in an error message


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
        try:
            return raw.decode("utf-16"), ["decoded as UTF-16"]
        except UnicodeDecodeError as err:  # damaged or truncated: keep what decodes
            return raw.decode("utf-16", errors="replace"), [
                f"decoded as UTF-16; undecodable bytes at {err.start} replaced"
            ]
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


def _fields(line: str, sep: str) -> list[str] | None:
    """The fields of one line as CSV, or None when its quoting is broken."""
    try:
        return next(csv.reader([line], delimiter=sep, skipinitialspace=True, strict=True))
    except (csv.Error, StopIteration):
        return None


def _trim(line: str, extra: int, sep: str) -> str | None:
    """``line`` without ``extra`` trailing empty fields, or None if they are not empty.

    One split from the right: stripping a separator at a time copied the line each time,
    quadratic for a hostile line of a million trailing separators.
    """
    parts = line.rsplit(sep, extra)
    if len(parts) != extra + 1 or any(p.strip() for p in parts[1:]):
        return None
    return parts[0].rstrip()


def _classify(line: str, n_fields: int, sep: str) -> tuple[str | None, bool]:
    """A suspect line: ``(line to keep or None, malformed?)``.

    A row is malformed when its field count differs from the header's (extra empty
    fields from trailing separators are trimmed, not counted) or its quoting is broken.
    """
    if not line.strip() or line.startswith("#"):
        return None, False  # a blank or '#' comment line: not a row
    fields = _fields(line, sep) if '"' in line else line.split(sep)
    if fields is None:
        return None, True
    if len(fields) == n_fields:
        return line, False
    if len(fields) > n_fields:
        fixed = _trim(line, len(fields) - n_fields, sep)
        if fixed is not None:
            return fixed, False
    return None, True


_CHUNK = 1 << 20  # bytes of body scanned at a time: bounds the per-line arrays
_LONG_LINE = 1 << 20  # a line longer than this is no catalog row: malformed, unparsed
_MAX_SLOW_LINES = 2_000_000  # lines parsed one by one (seconds each 10^6), then refused
_BLANK = np.zeros(256, dtype=bool)
_BLANK[[9, 11, 12, 13, 32]] = True  # ASCII whitespace: a line of only these is blank


def _scan(body: bytes, n_fields: int, sep: str, source: str) -> tuple[bytes, int, int]:
    """Drop blank and malformed lines: ``(clean body, rows, malformed rows)``.

    The body is scanned in chunks of whole lines with numpy (UTF-8 never puts a
    separator, quote or newline byte inside a multi-byte character), so memory stays a
    small multiple of the chunk whatever the file holds: a hostile upload of millions of
    blank or one-field lines costs linear numpy time, not a Python object per line. Only
    lines whose quoting numpy cannot settle are parsed one by one, at most
    `_MAX_SLOW_LINES` of them. Catalog rows never span lines, so each line is parsed
    alone: an unterminated quote cannot swallow later rows.
    """
    parts: list[bytes] = []
    n_rows = n_bad = n_slow = 0
    pos = 0
    while pos < len(body):
        stop = min(pos + _CHUNK, len(body))
        cut = body.find(b"\n", stop - 1)
        end = len(body) if cut < 0 else cut + 1
        if end - pos > _CHUNK + _LONG_LINE:  # a line of megabytes: one bad row
            last = body.rfind(b"\n", pos, stop)
            if last >= pos:  # scan the whole lines before it first
                end = last + 1
            else:
                if body[pos:end].strip():
                    n_rows += 1
                    n_bad += 1
                pos = end
                continue
        kept, rows, bad, slow = _scan_chunk(body[pos:end], n_fields, ord(sep))
        parts.append(kept)
        n_rows += rows
        n_bad += bad
        n_slow += slow
        if n_slow > _MAX_SLOW_LINES:
            raise CatalogError(
                f"{source}: more than {_MAX_SLOW_LINES:,} rows with irregular quoting "
                "(a quote inside an unquoted field, or text between a closing quote and "
                "the next separator); fix the quoting or save the catalog again as CSV."
            )
        pos = end
    return b"".join(parts), n_rows, n_bad


def _scan_chunk(chunk: bytes, n_fields: int, sep: int) -> tuple[bytes, int, int, int]:
    """`_scan` on whole lines: ``(kept bytes, rows, malformed rows, lines parsed one by
    one)``. Each line is kept whole, cut before trailing empty fields, or dropped
    (blank or a '#' comment: not a row; malformed: counted)."""
    arr = np.frombuffer(chunk, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    if chunk and chunk[-1] != 10:
        ends = np.append(ends, len(chunk))
    starts = np.empty_like(ends)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    seps = np.flatnonzero(arr == sep)
    first_sep = np.searchsorted(seps, starts)
    n_seps = np.searchsorted(seps, ends) - first_sep
    # Solid (non-blank) bytes counted only when some line may be blank or end in empty
    # fields: a line holding a separator that is not itself blank is never blank.
    solid = np.zeros(len(arr) + 1, dtype=np.int64)
    blank = np.zeros(len(ends), dtype=bool)
    if _BLANK[sep] or (n_seps == 0).any() or (n_seps > n_fields - 1).any():
        solid[1:] = np.cumsum(~_BLANK[arr], dtype=np.int64)
        blank = solid[ends] == solid[starts]
    if b"#" in chunk:  # a '#' comment line, as above the header, is not a row either
        blank |= (starts < ends) & (arr[np.minimum(starts, max(len(arr) - 1, 0))] == 35)
    n_fields_seen = n_seps + 1
    odd = np.zeros(len(ends), dtype=bool)  # an unterminated quote
    unsure = np.zeros(len(ends), dtype=bool)  # quoting numpy cannot settle
    if b'"' in chunk:
        hidden, odd, unsure = _quoting(arr, starts, ends, seps, sep)
        n_fields_seen -= hidden

    keep_end = ends.copy()
    plain = ~blank & ~odd & ~unsure
    good = plain & (n_fields_seen == n_fields)
    # More fields than columns: kept if everything after the last column is separators
    # and blanks (exports that end rows with ",,,"), as `_trim` does.
    extra = np.flatnonzero(plain & (n_fields_seen > n_fields))
    if extra.size:
        n_extra = n_fields_seen[extra] - n_fields
        at = seps[first_sep[extra] + n_seps[extra] - n_extra]
        # Only the separators may be solid there (a tab separator is itself blank).
        trimmed = solid[ends[extra]] - solid[at] == (0 if _BLANK[sep] else n_extra)
        ok = extra[trimmed]
        good[ok] = True
        keep_end[ok] = _rstrip(arr, starts[ok], at[trimmed])
    slow = np.flatnonzero(unsure)
    for i, a, b in zip(slow.tolist(), starts[slow].tolist(), ends[slow].tolist(), strict=True):
        kept, _ = _classify(chunk[a:b].decode("utf-8"), n_fields, chr(sep))
        if kept is not None:
            good[i] = True
            keep_end[i] = a + len(kept.encode("utf-8"))
    n_rows = int((~blank).sum())
    n_bad = n_rows - int(good.sum())
    if good.all() and (keep_end == ends).all():
        return chunk, n_rows, n_bad, len(slow)
    # Kept bytes: each good line up to its end, then its newline.
    mark = np.zeros(len(arr) + 1, dtype=np.int8)
    np.add.at(mark, starts[good], 1)
    np.add.at(mark, keep_end[good], -1)
    mask = np.cumsum(mark[:-1], dtype=np.int8).astype(bool)
    nl = ends[good]
    mask[nl[nl < len(arr)]] = True
    return arr[mask].tobytes(), n_rows, n_bad, len(slow)


def _quoting(
    arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, seps: np.ndarray, sep: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per line: ``(separators inside quotes, unterminated quote, unsure)``.

    Settled with numpy when every quote of a line sits where CSV puts one: an opening
    quote at the start of a field (after a separator, the line's start, or the other
    half of a doubled quote), a closing quote before a separator, the line's end or a
    doubled quote. A separator is then inside quotes when an odd number of the line's
    quotes precede it. Any other quoting (a quote inside a bare field, a blank before
    an opening quote) is ``unsure``: `_classify` parses those lines one by one.
    """
    n = len(ends)
    quotes = np.flatnonzero(arr == 34)
    line = np.searchsorted(ends, quotes)
    first_q = np.searchsorted(quotes, starts)
    k = np.arange(len(quotes)) - first_q[line]
    count = np.searchsorted(quotes, ends) - first_q
    at_start = quotes == starts[line]
    at_end = quotes + 1 == ends[line]
    prev = arr[np.maximum(quotes - 1, 0)]
    nxt = arr[np.minimum(quotes + 1, len(arr) - 1)]
    opens = k % 2 == 0
    placed = np.where(
        opens,
        at_start | (prev == sep) | ((prev == 34) & (k > 0)),
        at_end | (nxt == sep) | (nxt == 34),
    )
    unsure = np.bincount(line[~placed], minlength=n) > 0
    odd = (count % 2 == 1) & ~unsure
    sep_line = np.searchsorted(ends, seps)
    inside = (np.searchsorted(quotes, seps) - first_q[sep_line]) % 2 == 1
    hidden = np.bincount(sep_line[inside], minlength=n)
    return hidden, odd, unsure


def _rstrip(arr: np.ndarray, starts: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """For each line ``arr[start:cut]``, the end after its trailing blanks are cut."""
    out = cuts.copy()
    for _ in range(8):  # a few blanks before a trailing separator are common, more are not
        back = (out > starts) & _BLANK[arr[np.maximum(out - 1, 0)]]
        if not back.any():
            return out
        out[back] -= 1
    for i in np.flatnonzero((out > starts) & _BLANK[arr[np.maximum(out - 1, 0)]]).tolist():
        while out[i] > starts[i] and _BLANK[arr[out[i] - 1]]:
            out[i] -= 1
    return out


def _parse(
    text: str, source: str, max_rows: int | None = None
) -> tuple[pd.DataFrame, int, int, str, Layout]:
    """CSV text -> (table of the layout's columns, rows, malformed rows, separator, layout).

    More than ``max_rows`` well-formed rows are refused before they are parsed."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    pos = 0
    while True:  # the header is the first line that is neither blank nor a '#' comment
        nl = text.find("\n", pos)
        line = text[pos:] if nl < 0 else text[pos:nl]
        if line.strip() and not line.startswith("#"):
            break
        if nl < 0:
            raise CatalogError(
                f"{source}: no header row found; expected a CSV catalog with a header."
            )
        pos = nl + 1
    head = line
    sep = _sniff_sep(head)
    n_seps = head.count(sep)
    if n_seps >= MAX_COLUMNS:
        raise CatalogError(
            f"{source}: the header row has {n_seps + 1:,} columns; a catalog has at most "
            f"{MAX_COLUMNS:,} (expected one of: {expected_layouts()})."
        )
    header = _fields(head, sep) if '"' in head else head.split(sep)
    if header is None:
        raise CatalogError(f"{source}: the header row has broken quoting: {head[:120]!r}")
    # A header ending in separators (some exports write one after every row) names
    # empty columns: drop them, and the rows' trailing empty fields are trimmed to match.
    n_fields = len(header)
    while n_fields > 1 and not header[n_fields - 1].strip():
        n_fields -= 1
    if n_fields < len(header):
        head = _trim(head, len(header) - n_fields, sep) or head
    names = [_norm(h) for h in header[:n_fields]]
    layout = detect_layout(names)
    if layout is None:
        shown = ", ".join(_short(n) for n in names[:12]) or "(none)"
        raise CatalogError(
            f"{source}: columns not recognised ({shown}). Expected one of: {expected_layouts()}."
        )
    # Counted in one pass: names.count() per name was quadratic in the header's width.
    twice = sorted(n for n, k in Counter(names).items() if k > 1 and n in layout.columns)
    if twice:
        raise CatalogError(
            f"{source}: column {', '.join(twice)} appears more than once (names are "
            "case-insensitive); which one to read is ambiguous."
        )
    body = b"" if nl < 0 else text[nl + 1 :].encode("utf-8")
    body, n_rows, n_malformed = _scan(body, n_fields, sep, source)
    if max_rows is not None and n_rows - n_malformed > max_rows:
        raise CatalogError(
            f"{source}: {n_rows - n_malformed:,} rows; catalogs of at most {max_rows:,} rows "
            "are read here (cut it to the region, years or magnitudes you need)."
        )
    wanted = layout.columns & set(names)
    try:
        # Only the layout's columns are parsed; numbers become float64/int64 at C speed,
        # and a column holding any non-number stays text (coerced value by value later).
        # index_col=False: never take the first column as an index, whatever the rows hold.
        df = pd.read_csv(
            io.BytesIO(head.encode("utf-8") + b"\n" + body),
            sep=sep,
            engine="c",
            index_col=False,
            usecols=lambda c: _norm(c) in wanted,
            skipinitialspace=True,
            low_memory=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as err:
        raise CatalogError(f"{source}: cannot parse as CSV ({err}).") from None
    df.columns = [_norm(c) for c in df.columns]
    if len(df) + n_malformed != n_rows:  # the pre-scan and the parser must agree
        raise CatalogError(
            f"{source}: cannot parse as CSV ({n_rows - n_malformed} rows expected, {len(df)} read)."
        )
    return df, n_rows, n_malformed, sep, layout


def _norm(name: object) -> str:
    return str(name).strip().strip('"').strip().lower()


def _short(name: str) -> str:
    """A column name as quoted in a message: a hostile header may hold megabyte names."""
    return name if len(name) <= _SHOWN else name[: _SHOWN - 1] + "…"


def read_catalog_bytes(
    raw: bytes, source: str = "upload", max_rows: int | None = MAX_CATALOG_ROWS
) -> Catalog:
    """Parse catalog file contents; raise `CatalogError` if it cannot be a catalog.

    ``max_rows``: the dashboard's cap on data rows (`MAX_CATALOG_ROWS`); the command line
    passes None (a person's own file)."""
    text, notes = _decode(raw, source)
    df, n_rows, n_malformed, sep, layout = _parse(text, source, max_rows)
    if sep != ",":
        notes.append(f"separator {sep!r}")
    canon = layout.convert(df)
    events, dropped = _validate(canon)
    dropped = {"malformed row": n_malformed, **dropped}
    if n_rows == 0:
        raise CatalogError(
            f"{source}: a header ({layout.name} layout) but no data rows; the catalog is empty."
        )
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
    # Why a time is unusable comes from the layout (an impossible date, a year -5000);
    # a NaT it did not explain is unparseable.
    fault = df["time_fault"].to_numpy() if "time_fault" in df else np.zeros(len(df), np.int8)
    faults = {reason: fault == code for code, reason in TIME_FAULTS.items()}
    faults[UNPARSEABLE_TIME] |= df["time"].isna().to_numpy() & (fault == 0)
    checks = {
        **faults,
        "unparseable magnitude": np.isnan(mag),
        "missing coordinates": np.isnan(lat) | np.isnan(lon),
        "coordinates out of range": (np.abs(lat) > 90) | (lon < -180) | (lon > 360),
        "implausible magnitude": (mag < MAG_RANGE[0]) | (mag > MAG_RANGE[1]),
        NOT_EARTHQUAKE: (
            df[NOT_EARTHQUAKE_COLUMN].to_numpy(bool)
            if NOT_EARTHQUAKE_COLUMN in df
            else np.zeros(len(df), dtype=bool)
        ),
    }
    keep = np.ones(len(df), dtype=bool)
    dropped: dict[str, int] = {}
    for reason, bad in checks.items():
        hit = keep & bad
        dropped[reason] = int(hit.sum())
        keep &= ~bad
    out = df.loc[keep, CANONICAL].copy()
    # Longitudes given in (180, 360] are the same places, counted eastwards past the date line.
    out.loc[out["longitude"] > 180, "longitude"] -= 360.0
    out = out.sort_values("time", kind="stable").reset_index(drop=True)
    # Exact duplicates share their time: only rows whose time repeats need the full check
    # (the stable sort keeps the file's order among them, so the first one is kept).
    t = out["time"].array.asi8  # int64 ticks; to_numpy() would box a Timestamp per row
    same = np.zeros(len(t), dtype=bool)
    same[1:] = t[1:] == t[:-1]
    same[:-1] |= same[1:]
    dup = np.zeros(len(t), dtype=bool)
    if same.any():
        dup[same] = out.loc[same].duplicated(keep="first").to_numpy()
    dropped["exact duplicate"] = int(dup.sum())
    out = out.loc[~dup].reset_index(drop=True)
    return out, dropped


def read_regular_file(path: Path, label: str, max_bytes: int, follow: bool = True) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``; else a
    `CatalogError` that names it by ``label``. Opened non-blocking (a FIFO must not hang
    the open) and checked by ``fstat`` of what was opened, so no byte of a device (``/dev/zero``
    would be read for ever), pipe or socket is read; ``follow=False``: a link is refused."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise CatalogError(f"{label}: cannot open the file ({err.strerror}).") from None
    cap = f"{max_bytes / 1e6:,.0f} MB"
    too_big = CatalogError(f"{label}: larger than {cap}; catalogs of at most {cap} are read.")
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise CatalogError(f"{label}: is a folder; expected a CSV catalog file.")
        if not stat.S_ISREG(st.st_mode):
            raise CatalogError(
                f"{label}: is not a regular file (a device, pipe or socket); expected a CSV file."
            )
        if st.st_size > max_bytes:
            raise too_big
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(max_bytes + 1)
    except OSError as err:
        raise CatalogError(f"{label}: cannot read the file ({err.strerror}).") from None
    finally:
        os.close(fd)
    if len(raw) > max_bytes:  # grew while being read, or a /proc file (it reports size 0)
        raise too_big
    return raw


def load_catalog(path: str | Path, max_bytes: int = MAX_CLI_CATALOG_BYTES) -> Catalog:
    """Load a catalog CSV from a path (never modified); raise `CatalogError` on failure:
    no such file, a folder, a device or pipe, or more than ``max_bytes``. (The dashboard's
    typed paths go through `quake.data.catalog.paths.read_catalog_file`, stricter.)"""
    path = Path(path)
    # A name with control characters is quoted with them escaped: printed raw, it could
    # move a terminal's cursor or recolour what follows.
    label = str(path) if str(path).isprintable() else repr(str(path))
    if path.is_symlink() and not path.exists():
        raise CatalogError(f"{label}: a link to nothing (or a loop of links); no file to read.")
    if not path.exists():
        raise CatalogError(f"{label}: no such file.")
    if path.is_dir():
        raise CatalogError(f"{label}: is a folder; expected a CSV catalog file.")
    raw = read_regular_file(path, label, max_bytes)
    return read_catalog_bytes(raw, source=label, max_rows=None)
