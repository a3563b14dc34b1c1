"""Project exceptions: each carries a message a person can act on."""


class QuakeError(Exception):
    """Base class of every error the package raises on purpose."""


class CatalogError(QuakeError):
    """A file or table cannot be read as an earthquake catalog."""


class DownloadError(QuakeError):
    """The USGS event service could not be reached or answered badly."""


class ModelError(QuakeError):
    """A model cannot be built, trained, saved or loaded."""


class MetricsError(QuakeError, ValueError):
    """Scores, labels or weights cannot be scored as given."""
