"""The toolkit's version, in one place (a release records the version that made it)."""

__version__ = "0.1.0"
