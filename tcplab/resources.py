"""Where tcplab finds its data files (scenarios, lessons, icons), and the application's identity
on the desktop.

The same tree is found in three layouts:

- a source checkout (also an editable install, or an unpacked sdist): the top-level
  ``resources/`` folder beside the ``tcplab`` package and ``pyproject.toml``;
- an installed wheel: the ``tcplab_resources`` folder that ``pyproject.toml`` maps from
  ``resources/``, installed beside the ``tcplab`` package;
- the one-folder application built by ``packaging/tcplab.spec``: ``tcplab_resources`` in the
  bundle's data folder (``sys._MEIPASS``), which is also beside the frozen ``tcplab`` package.

:func:`resources_dir` is the one lookup; nothing else should build paths to these files.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: The reverse-DNS application id: the names of the ``.desktop`` file, the AppStream metainfo
#: and the installed icons (``packaging/``).
APP_ID = "io.github.tcplab.TcpLab"
#: The MIME type of session files (``*.tcplab``), registered by ``packaging/``.
SESSION_MIME_TYPE = "application/x-tcplab-session"

PACKAGE_NAME = "tcplab_resources"


def _is_resources(folder: Path) -> bool:
    return (folder / "scenarios").is_dir()


def resources_dir() -> Path:
    """The folder holding ``scenarios/``, ``lessons/`` and ``icons/``."""
    package = Path(__file__).resolve().parent
    checkout = package.parent / "resources"
    if (package.parent / "pyproject.toml").is_file() and _is_resources(checkout):
        return checkout
    candidates = [package.parent / PACKAGE_NAME]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / PACKAGE_NAME)
    for folder in candidates:
        if _is_resources(folder):
            return folder
    # Installed somewhere else on sys.path (a package without __init__.py: ask the finder).
    import importlib.util
    spec = importlib.util.find_spec(PACKAGE_NAME)
    for location in (spec.submodule_search_locations or []) if spec else []:
        if _is_resources(Path(location)):
            return Path(location)
    raise FileNotFoundError("tcplab's data files (tcplab_resources) are missing; reinstall tcplab")
