"""The model store: the one place that reads and writes a saved model's folder.

- `files`: the file names (`MODEL_FILE`, `CURVES_FILE`), atomic writes of model.json and
  curves.json, `load_curves`, the model folders of a root;
- `card`: `ModelCard`, a typed view of model.json, `read_card` (never raises), `read_model`;
- ``validate_*``: every check of what a folder holds, since a folder may be hostile (anyone
  who can copy a folder into ``models/`` writes it): bounded reading (``validate_json``),
  single values and lists (``validate_values``, also used by each model's config), the
  schema of model.json with its protocol (``validate_model``), arrays (``validate_arrays``),
  operating curves (``validate_curves``) and xgboost boosters (``validate_booster``);
- `summaries`: a model's scoring summary (per-block histograms, CSEP window sums, per-target
  forecasts, mainshock-target curves) in scoring.json + scoring.safetensors, checked on load.
  Anything wrong is a `ModelError` that names the file and the field.

Nothing here imports torch or xgboost (the dashboard reads cards without them).
"""

from quake.models.store.card import ModelCard, read_card, read_cards, read_model
from quake.models.store.files import (
    CURVES_FILE,
    MODEL_FILE,
    Curves,
    load_curves,
    model_doc,
    model_folders,
    save_scores,
    write_model_json,
)
from quake.models.store.summaries import (
    ScoringSummary,
    has_summary,
    load_summary,
    save_summary,
)
from quake.models.store.validate_arrays import check_array, check_names
from quake.models.store.validate_booster import check_booster_doc, probe_booster
from quake.models.store.validate_json import (
    MAX_JSON_BYTES,
    MAX_WEIGHTS_BYTES,
    json_depth,
    read_bytes,
    read_json,
)
from quake.models.store.validate_model import (
    FORMAT_VERSION,
    CheckedModel,
    check_model_file,
)
from quake.models.store.validate_values import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_list,
    check_str,
    floats,
    ints,
    optional,
)

__all__ = [
    "CURVES_FILE",
    "FORMAT_VERSION",
    "MAX_JSON_BYTES",
    "MAX_WEIGHTS_BYTES",
    "MODEL_FILE",
    "CheckedModel",
    "Curves",
    "ModelCard",
    "ScoringSummary",
    "check_array",
    "check_bool",
    "check_booster_doc",
    "check_choice",
    "check_float",
    "check_int",
    "check_list",
    "check_model_file",
    "check_names",
    "check_str",
    "floats",
    "has_summary",
    "ints",
    "json_depth",
    "load_curves",
    "load_summary",
    "model_doc",
    "model_folders",
    "optional",
    "probe_booster",
    "read_bytes",
    "read_card",
    "read_cards",
    "read_json",
    "read_model",
    "save_scores",
    "save_summary",
    "write_model_json",
]
