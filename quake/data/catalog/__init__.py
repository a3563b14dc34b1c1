"""Earthquake catalogs: read any supported CSV layout into one canonical table."""

from quake.data.catalog.layouts import CANONICAL, LAYOUTS, detect_layout
from quake.data.catalog.load import (
    DROP_REASONS,
    Catalog,
    LoadReport,
    load_catalog,
    read_catalog_bytes,
)
from quake.data.catalog.paths import REFERENCE_NAME, find_reference_catalog
from quake.data.catalog.summary import catalog_summary

__all__ = [
    "CANONICAL",
    "DROP_REASONS",
    "LAYOUTS",
    "REFERENCE_NAME",
    "Catalog",
    "LoadReport",
    "catalog_summary",
    "detect_layout",
    "find_reference_catalog",
    "load_catalog",
    "read_catalog_bytes",
]
