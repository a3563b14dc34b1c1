"""The dashboard's shared UI layer (imports streamlit; `quake` never does).

`nav` the page list (plain data), `state` session-state keys, `loaders` cached loaders,
`forecasts` the maps' cached forecasts, `widgets` shared widgets, `map_panel` the map panel.
"""
