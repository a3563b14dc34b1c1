"""The saved models of this deployment: the cards of the models folder and its signature.

Reading and writing a model folder is the model store's (`quake.models.store`); the
tables that compare models are `quake.scoring.tables`. This module adds what the CLI and
the dashboard share about the configured models folder (``QUAKE_MODELS_DIR``), and which
saved models fit the loaded catalog (`catalog_mismatch`); nothing here imports streamlit.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from quake.data.grid import Grid
from quake.data.protocol import Protocol
from quake.models.store import CURVES_FILE, MODEL_FILE, ModelCard, model_folders, read_cards
from quake.models.store.summaries import SUMMARY_ARRAYS, SUMMARY_META
from quake.settings import models_dir

SUMMARY_FILES = (SUMMARY_META, SUMMARY_ARRAYS)


def list_models(root: str | Path | None = None) -> list[ModelCard]:
    """The card of every saved model under ``root`` (the models folder by default), sorted
    by name; a broken folder gives an error card (`quake.models.store.read_card`)."""
    return read_cards(root if root is not None else models_dir())


def models_signature(root: str | Path | None = None) -> tuple[tuple[str, float], ...]:
    """``(name, mtime)`` of each model.json, curves.json and scoring summary (scoring.json,
    scoring.safetensors): changes when a model or its stored summary changes."""
    out = []
    for folder in model_folders(root if root is not None else models_dir()):
        for f in (folder / MODEL_FILE, folder / CURVES_FILE, *(folder / n for n in SUMMARY_FILES)):
            if f.is_file():
                out.append((f"{folder.name}/{f.name}", f.stat().st_mtime))
    return tuple(out)


def grid_text(grid: Grid) -> str:
    """A grid for people: ``200 x 250 cells of 10 km from 27.00 N 127.00 E``."""
    ns = "N" if grid.lat0 >= 0 else "S"
    ew = "E" if grid.lon0 >= 0 else "W"
    return (
        f"{grid.nx} x {grid.ny} cells of {grid.cell_km:g} km from "
        f"{abs(grid.lat0):.2f} {ns} {abs(grid.lon0):.2f} {ew}"
    )


def catalog_mismatch(card: ModelCard, protocol: Protocol) -> str | None:
    """Why ``card``'s model cannot forecast the catalog whose protocol is ``protocol``, or
    None when it can.

    A model forecasts on the grid, dates and target window of the protocol it was fitted
    on; when the loaded catalog's protocol differs in any of them (another region, another
    span of years), its forecasts would be drawn over the wrong place or days. The same
    check `quake.scoring.evaluate.check_compatible` makes before scoring, on the card.
    """
    if card.error is not None or not card.protocol_spec:
        return "its model.json cannot be read"
    mine = protocol.to_dict()
    if card.protocol_spec == mine:
        return None
    theirs = card.protocol_spec
    why = []
    if theirs.get("name") != mine["name"]:
        why.append(f"protocol {theirs.get('name')} (this catalog: {mine['name']})")
    if theirs.get("grid") != mine["grid"]:
        try:
            grid = grid_text(Grid.from_dict(theirs["grid"]))
        except (KeyError, TypeError, ValueError):
            grid = "unreadable"
        why.append(f"grid {grid} (this catalog: {grid_text(protocol.grid)})")
    rest = [k for k in mine if k not in ("name", "grid") and theirs.get(k) != mine[k]]
    if rest:
        why.append("dates or target window (" + ", ".join(rest) + ")")
    return "fitted on another catalog: " + "; ".join(why or ["another protocol"])


def same_catalog(card: ModelCard, fingerprint: str | None) -> bool:
    """Whether ``card``'s model was fitted on exactly this catalog (its data fingerprint):
    only then are its saved scores this catalog's."""
    return fingerprint is not None and card.fingerprint == fingerprint


def split_by_catalog(
    cards: Iterable[ModelCard], protocol: Protocol | None, no_protocol: str | None = None
) -> tuple[list[ModelCard], list[tuple[ModelCard, str]]]:
    """``(fitting, others)``: the usable cards that can forecast a catalog of ``protocol``,
    and the others with the reason (`catalog_mismatch`). Without a catalog (``protocol``
    and ``no_protocol`` None) every card fits: there is nothing to check them against. A
    catalog that has no protocol (``no_protocol``: why, e.g. it spans too few days) fits
    none: no model's grid and dates can be checked against it, so none is run on it."""
    fitting: list[ModelCard] = []
    others: list[tuple[ModelCard, str]] = []
    for card in cards:
        if card.error is not None:
            continue
        if protocol is None:
            why = None if no_protocol is None else f"the loaded catalog: {no_protocol}"
        else:
            why = catalog_mismatch(card, protocol)
        if why is None:
            fitting.append(card)
        else:
            others.append((card, why))
    return fitting, others
