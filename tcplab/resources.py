"""Where tcplab finds its data files (scenarios, lessons, icons).

In a source checkout they live in the top-level ``resources/`` folder; an installed wheel carries
the same tree as the ``tcplab_resources`` package.
"""

from __future__ import annotations

from pathlib import Path


def resources_dir() -> Path:
    """The folder holding ``scenarios/`` and the other data files."""
    here = Path(__file__).resolve().parent
    checkout = here.parent / "resources"
    if checkout.is_dir():
        return checkout
    try:
        import tcplab_resources  # installed alongside the package
        return Path(tcplab_resources.__file__).resolve().parent
    except ImportError:
        raise FileNotFoundError("tcplab's resources folder is missing; reinstall tcplab") from None
