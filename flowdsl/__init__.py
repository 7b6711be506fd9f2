"""flowdsl: typed Python decorators that compile to native Argo Workflows."""

from flowdsl._version import __version__

__all__ = ["__version__"]
