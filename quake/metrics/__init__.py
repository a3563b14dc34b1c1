"""Metrics: operating curves and scores of probabilities against labels (no models)."""
