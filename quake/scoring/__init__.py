"""Scoring: a model on a protocol's periods, saved scores, the report."""
