"""Dataset packaging and annotation toolkit: raw news articles -> Label Studio -> versioned datasets."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
