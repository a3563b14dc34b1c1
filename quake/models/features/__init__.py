"""Space-time features of the gridded seismicity, streamed in day blocks.

Each builder reads `quake.data.events.GriddedEvents` and yields, for forecast days
``[start, stop)``, maps that depend only on events up to and including each day:

- `activity`: exponentially decayed energy ``sum 10**(m - 5) * exp(-age / tau)`` and box
  smoothing (the relative-intensity baseline, `quake.models.ri`).
- `rtl`: the Region-Time-Length sums of Sobolev & Tyupkin (1997) (`quake.models.xgb_rtl`).
- `indicator`: largest magnitude in the cell and its neighbourhood over past windows
  (`quake.models.xgb_indicator`).
"""
