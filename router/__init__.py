"""router: a self-hosted alert router and on-call daemon."""

__version__ = "0.1.0"
