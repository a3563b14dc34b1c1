"""xgboost boosters from a model folder: parsed by xgboost in a child process first
(`probe_booster`: a crafted file cannot crash this process), then every tree checked for
a well-formed layout (`check_booster_doc`). Nothing here imports xgboost."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from quake.errors import ModelError

PROBE_TIMEOUT_S = 120  # xgboost reading a booster in a child process ...
PROBE_MEMORY_BYTES = 8 << 30  # ... with at most this much address space


_BOOSTER_PROBE = """
import resource, sys
try:
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]),) * 2)
except (ValueError, OSError):  # a platform without the limit
    pass
import numpy as np
import xgboost as xgb
booster = xgb.Booster()
booster.load_model(bytearray(sys.stdin.buffer.read()))
x = np.zeros((4, booster.num_features()), np.float32)
x[1], x[2], x[3] = 1e30, -1e30, np.nan
booster.inplace_predict(x, predict_type="margin")
booster.save_raw("json")
"""


def probe_booster(raw: bytes, path: str | Path) -> None:
    """Let xgboost parse, run and dump the booster ``raw`` in a child process first.

    xgboost's own parser is not hardened: some corrupted UBJ files crash it (SIGSEGV,
    abort), which in-process would take the dashboard's server down. A child that
    survives means the same bytes load in this process. Costs one interpreter start
    (about 2 s); the dashboard caches loaded models.
    """
    if len(raw) < 2 or raw[:1] != b"{":  # UBJ and JSON models are objects
        raise ModelError(f"{path}: not a valid xgboost model (it does not start with '{{')")
    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", _BOOSTER_PROBE, str(PROBE_MEMORY_BYTES)],
            input=raw,
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ModelError(f"{path}: xgboost took over {PROBE_TIMEOUT_S} s to read it") from None
    if proc.returncode < 0:
        why = f"xgboost crashed reading it, signal {-proc.returncode}"
    elif proc.returncode:
        why = "xgboost refused it"
        for line in proc.stderr.decode("utf-8", "replace").splitlines():
            m = re.match(r"(?:\w+\.)*(\w+(?:Error|Exception)): (.*)", line)
            if m:
                why = f"{m[1]}: {m[2][:200]}"
                break
    else:
        return
    raise ModelError(f"{path}: not a valid xgboost model ({why})")


def check_booster_doc(doc: Any, n_features: int, path: str | Path) -> None:
    """A booster's JSON dump (``save_raw("json")``): one-output tree ensemble whose trees
    are well formed (equal-length node arrays, children after their parent so every path
    ends, numeric splits on existing features); a malformed tree could read past its arrays
    while predicting."""
    try:
        learner = doc["learner"]
        booster = learner["gradient_booster"]
        param = learner["learner_model_param"]
        if booster.get("name") != "gbtree":
            raise ModelError(f"a {booster.get('name')!r} booster, expected 'gbtree'")
        if str(param.get("num_class")) != "0" or str(param.get("num_target")) != "1":
            raise ModelError("a multi-output booster, expected one output")
        for t, tree in enumerate(booster["model"]["trees"]):
            left, right = tree["left_children"], tree["right_children"]
            idx, kind = tree["split_indices"], tree["split_type"]
            n = len(left)
            if (
                n == 0
                or not len(right) == len(idx) == len(kind) == len(tree["split_conditions"]) == n
            ):
                raise ModelError(f"tree {t}: node arrays of different lengths")
            for i in range(n):
                a, b = left[i], right[i]
                if a == -1 and b == -1:
                    continue
                if not (i < a < n and i < b < n and a != b):
                    raise ModelError(f"tree {t}: node {i} has children {a}, {b}")
                if not 0 <= idx[i] < n_features or kind[i] != 0:
                    raise ModelError(f"tree {t}: node {i} splits on feature {idx[i]}")
    except ModelError as err:
        raise ModelError(f"{path}: {err}") from None
    except (KeyError, TypeError, IndexError) as err:
        raise ModelError(f"{path}: unexpected booster layout ({err!r})") from None
