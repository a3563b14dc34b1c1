"""quake: mid-term, local earthquake forecasting (Kail, Zaytsev & Burnaev).

The core package: catalogs, gridding, targets and splits, models, training and
metrics. It never imports streamlit; the dashboard (`app.py`, `pages/`) calls it.
"""

__version__ = "0.1.0"
