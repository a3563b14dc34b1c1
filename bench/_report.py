"""What the standalone benchmarks share: their JSON result printed and, if asked, saved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def print_and_save(doc: Any, out: str | Path | None) -> None:
    """Print ``doc`` as indented JSON, and write the same text to ``out`` when given."""
    text = json.dumps(doc, indent=1)
    print(text)
    if out:
        Path(out).write_text(text + "\n")
