"""maillog: a command-line log explorer for email."""

__version__ = "0.1.0"
