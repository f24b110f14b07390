"""cowork-tui: a terminal dashboard for cowork sessions."""

__version__ = "0.1.0"
