"""The intake service: message types, conversation, settings, wiring and the CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("asb-intake")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
