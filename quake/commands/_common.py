"""Helpers shared by the model commands (not a command itself)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
from pathlib import Path

from quake import settings
from quake.data.forecast_data import ForecastData, load_reference
from quake.errors import ModelError
from quake.models import Forecaster, kinds
from quake.models.store import MODEL_FILE
from quake.models.store.validate_json import json_depth, parse_bounded_int
from quake.progress import Progress, restage
from quake.service.folders import is_model_name

MC_RANGE = (-2.0, 10.0)
"""Magnitudes a command accepts (``--mc``, ``--m-min``): those the model loader accepts in a
saved model.json (`quake.models.store.validate_model`: ``mc`` in [-2, 10])."""

MAX_ARGS_CHARS = 64 << 10  # --args / --train-args: a few keys in practice
MAX_ARGS_DEPTH = 8  # nesting of those objects (model_args need 2)
EXAMPLES = {"--args": """'{"neg_rate": 0.005}'""", "--train-args": """'{"lr": 0.001}'"""}


def fmt_mag(x: float) -> str:
    """A magnitude as short as ``:g`` when that is exact, else every digit (4.50000001)."""
    short = f"{x:g}"
    return short if float(short) == x else repr(float(x))


def mag_problem(value: float, flag: str) -> str | None:
    """Why ``value`` is no magnitude ``flag`` accepts (None: it is one)."""
    lo, hi = MC_RANGE
    if not (math.isfinite(value) and lo <= value <= hi):
        return f"{flag} must be a finite magnitude in [{lo:g}, {hi:g}], got {value!r}"
    return None


def magnitude(text: str) -> float:
    """An argparse ``type``: a finite magnitude in `MC_RANGE`; anything else is a usage
    error (``error: argument --mc: expected ...``, exit 2) before any work."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if mag_problem(value, "") is not None:
        lo, hi = MC_RANGE
        raise argparse.ArgumentTypeError(
            f"expected a finite magnitude in [{lo:g}, {hi:g}], got {text[:40]!r}"
        )
    return value


def add_data_arguments(p, own_mc: bool = False) -> None:
    """``--catalog`` and ``--mc`` (5.0; ``own_mc``: None, for a saved model's own Mc)."""
    p.add_argument("--catalog", default=None, help="catalog CSV (default: the reference catalog)")
    lo, hi = MC_RANGE
    if own_mc:
        mc_help = (
            f"target magnitude threshold in [{lo:g}, {hi:g}] (a saved model's own Mc; 5.0 for a "
            "model kind)"
        )
        p.add_argument("--mc", type=magnitude, default=None, help=mc_help)
    else:
        mc_help = f"target magnitude threshold in [{lo:g}, {hi:g}] (5.0)"
        p.add_argument("--mc", type=magnitude, default=5.0, help=mc_help)


def add_out_arguments(p) -> None:
    p.add_argument(
        "--out",
        required=True,
        help="model to write: a bare NAME goes into the models folder ($QUAKE_MODELS_DIR, "
        "default models/); a path (with a '/') is that folder",
    )
    p.add_argument("--force", action="store_true", help="replace an existing model of that name")


def load_data(
    catalog: str | None, mc: float, targets: str = "all", method: str = "gk"
) -> ForecastData:
    """The catalog (reference by default) prepared for its protocol and ``mc``, with targets
    of every event or of the mainshocks declustered by ``method``."""
    why = mag_problem(float(mc), "--mc")
    if why is not None:
        raise ModelError(why)
    return ForecastData.build(load_reference(catalog), mc, targets=targets, method=method)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def parse_model_args(text: str | None, flag: str = "--args") -> dict:
    """``flag``'s JSON object; its size and nesting bounded before parsing (a deeply nested
    text would exhaust the parser's recursion), NaN, infinities and huge integers refused."""
    if not text:
        return {}
    example = EXAMPLES.get(flag, EXAMPLES["--args"])
    if len(text) > MAX_ARGS_CHARS:
        raise ModelError(
            f"{flag} is {len(text):,} characters long; expected a small JSON object "
            f"(at most {MAX_ARGS_CHARS:,} characters), e.g. {example}"
        )
    depth = json_depth(text.encode("utf-8", "surrogatepass"))
    if depth > MAX_ARGS_DEPTH:
        raise ModelError(
            f"{flag} is JSON nested {depth:,} levels deep; expected a flat JSON object "
            f"(at most {MAX_ARGS_DEPTH} levels), e.g. {example}"
        )
    try:
        args = json.loads(
            text,
            parse_float=_finite_float,
            parse_int=parse_bounded_int,
            parse_constant=_no_constant,
        )
    except (ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError
        raise ModelError(f"{flag} must be a JSON object ({err}), e.g. {example}") from None
    if not isinstance(args, dict):
        raise ModelError(f"{flag} must be a JSON object, e.g. {example}")
    return args


def check_device(device: str | None, flag: str = "--device") -> None:
    """``--device`` as a torch device this machine has: ``cpu``, ``cuda``, ``cuda:N`` or
    ``mps``; a `ModelError` saying what is expected or missing (torch imported here only)."""
    if device is None:
        return
    from quake.models.training import DEVICE_PATTERN

    if not DEVICE_PATTERN.fullmatch(device):
        raise ModelError(
            f"{flag} {device[:40]!r}: expected cpu, cuda, cuda:N (a GPU number) or mps"
        )
    import torch

    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelError(
                f"{flag} {device}: torch sees no CUDA device on this machine (torch "
                f"{torch.__version__}); use --device cpu"
            )
        n = torch.cuda.device_count()
        if ":" in device and int(device.split(":", 1)[1]) >= n:
            raise ModelError(f"{flag} {device}: this machine has {n} CUDA device(s), 0 to {n - 1}")
    elif device == "mps" and not torch.backends.mps.is_available():
        raise ModelError(f"{flag} mps: torch sees no Apple MPS device here; use --device cpu")


def score_text(period: str, mask: str, s: dict) -> str:
    """One printed line of a (period, mask) score; an undefined AUC says why."""
    roc, pr = s.get("roc_auc"), s.get("pr_auc")
    head = f"  {period:<10} {mask:<6}"
    if is_defined(roc) and is_defined(pr):
        return f"{head} ROC AUC {roc:.4f}  PR AUC {pr:.5f}"
    roc_t = f"{roc:.4f}" if is_defined(roc) else "undefined"
    pr_t = f"{pr:.5f}" if is_defined(pr) else "undefined"
    return f"{head} ROC AUC {roc_t}  PR AUC {pr_t} ({undefined_reason(period, s)})"


def undefined_reason(period: str, s: dict) -> str:
    """Why a score of ``period`` has no AUC, from its counts."""
    n_pos, n_pairs = s.get("n_positive"), s.get("n_pairs")
    if n_pos == 0:
        return f"no target in the {period} period"
    if n_pairs is not None and n_pos == n_pairs:
        return f"every (day, cell) of the {period} period is a target"
    return f"no score could be computed for the {period} period"


def is_defined(x: object) -> bool:
    """A score that is a finite number (not None, not NaN)."""
    return isinstance(x, int | float) and math.isfinite(x)


def print_scores(scores: dict, mc: float, folder: Path | None = None) -> bool:
    """Print ``{period: {mask: score}}`` one line each; when some AUC is undefined, say on
    stderr that the model was saved but cannot be scored there. True if all are defined."""
    undefined = []
    for period, per_mask in scores.items():
        for mask, s in per_mask.items():
            print(score_text(period, mask, s))
            if not (is_defined(s.get("roc_auc")) and is_defined(s.get("pr_auc"))):
                undefined.append((period, mask, s))
    if undefined:
        what = "; ".join(
            f"{period} {mask}: {undefined_reason(period, s)}" for period, mask, s in undefined
        )
        head = f"the model was saved to {folder}, but " if folder is not None else ""
        print(
            f"note: {head}its ROC/PR AUC are undefined at Mc {fmt_mag(mc)} ({what}); "
            "they are stored as null",
            file=sys.stderr,
        )
    return not undefined


def is_model_folder(name: str) -> Path | None:
    """The saved model folder ``name`` means, or None: a bare name is looked up in the models
    folder of the settings (whatever the working directory), a path is taken as it is."""
    if is_model_name(name):
        candidates = [settings.models_dir() / name, Path(name)]
    else:
        candidates = [Path(name).expanduser()]
    for path in candidates:
        if (path / MODEL_FILE).is_file():
            return path
    return None


def resolve_model(name: str) -> tuple[str, Path | None]:
    """``(kind, None)`` for a model kind, ``("", folder)`` for a saved folder; else an error."""
    folder = is_model_folder(name)
    if folder is not None:
        return "", folder
    if name in kinds():
        return name, None
    raise ModelError(
        f"{name!r} is neither a model kind ({', '.join(kinds())}) nor a saved model folder "
        f"(a path, or a name in the models folder {settings.models_dir()}, with a model.json)"
    )


TERMINATED = threading.Event()
"""Set by the CLI's SIGTERM handler (`quake.cli`), which also raises KeyboardInterrupt. That
raise is lost when the signal lands while a finalizer runs (a ``__del__``: Python prints
"Exception ignored" and goes on, and the run would finish as if never stopped; seen once in
CI, `tests/test_serving.py::test_sigterm_cleans_up_like_ctrl_c`): every progress event then
raises it again (`TqdmProgress`)."""


class TqdmProgress:
    """Draws `Progress` events as tqdm bars on stderr, one bar per stage.

    Stages in ``lines`` are printed as one line per event instead (the neural trainer's
    ``validation``: one line per epoch). After a SIGTERM (`TERMINATED`) an event raises
    KeyboardInterrupt, so the run stops and cleans up as after Ctrl-C.
    """

    def __init__(self, lines: tuple[str, ...] = ()) -> None:
        self.bars: dict[str, object] = {}
        self.lines = lines

    def __call__(self, event: Progress) -> None:
        if TERMINATED.is_set():
            raise KeyboardInterrupt
        from tqdm import tqdm

        shown = {k: _fmt(v) for k, v in event.metrics.items() if not isinstance(v, dict)}
        if event.stage in self.lines:
            epoch = shown.pop("epoch", None)
            head = f"epoch {epoch}" if epoch is not None else event.stage
            tqdm.write(f"{head}: " + "  ".join(f"{k} {v}" for k, v in shown.items()))
            return
        bar = self.bars.get(event.stage)
        if bar is None:
            bar = tqdm(total=event.total, desc=event.stage, file=sys.stderr, leave=False)
            self.bars[event.stage] = bar
        bar.update(event.step - bar.n)
        if shown:
            bar.set_postfix(shown)
        if event.step >= event.total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.5g}" if math.isfinite(v) else "nan"
    return str(v)


def fit_model(model: Forecaster, data: ForecastData, final: bool, progress: TqdmProgress):
    import time

    t0 = time.perf_counter()
    model.fit(data, final=final, on_progress=restage(progress, "fit"))
    model.meta["fit_seconds"] = round(time.perf_counter() - t0, 2)
    return model
