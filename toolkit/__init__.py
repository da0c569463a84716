"""Dataset packaging and annotation toolkit: raw news articles -> Label Studio -> versioned datasets."""

from __future__ import annotations

from .version import __version__

__all__ = ["__version__", "load"]


def __getattr__(name: str):
    # `toolkit.load(...)` without making `import toolkit` pull in pyarrow and datasets.
    if name == "load":
        from .release.verify import load

        return load
    raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
