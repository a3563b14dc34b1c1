"""Subcommands of ``python -m quake``."""
