"""Data: catalogs, the grid, daily events, targets, the protocol (the lowest layer)."""
