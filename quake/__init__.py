"""quake: mid-term, local earthquake forecasting (Kail, Zaytsev & Burnaev).

The core package, in layers that import only downward (docs/DESIGN.md): `data` →
`metrics` → `models` → `scoring` → `service` → the CLI (`cli`, `commands`). It never
imports streamlit; the dashboard (`app.py`, `app_pages/`) calls it.
"""

__version__ = "0.1.0"
