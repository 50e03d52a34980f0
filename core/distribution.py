"""Which distribution this gateway is installed as, and its version: the one place that reads them.

``core.__version__``, the app's ``/openapi.json``, the plugin registry's messages and the
User-Agent of outbound requests all come from here.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _installed_version

# The distribution's name, as pyproject.toml's [project] name says: renaming it is this line.
DISTRIBUTION = "switchboard-gateway"

# The version of a source tree that was never installed (no distribution metadata to read).
UNKNOWN_VERSION = "0.0.0+unknown"


@cache
def version() -> str:
    """The installed distribution's version, or ``UNKNOWN_VERSION``."""
    try:
        return _installed_version(DISTRIBUTION)
    except PackageNotFoundError:
        return UNKNOWN_VERSION


def user_agent() -> str:
    """The ``User-Agent`` of the gateway's outbound requests: ``<distribution>/<version>``."""
    return f"{DISTRIBUTION}/{version()}"
