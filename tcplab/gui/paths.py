"""Where the GUI keeps its settings and its autosaves.

By default Qt's standard places for the user (on Linux ``~/.config/tcplab/tcplab.conf`` and
``~/.local/share/tcplab/``). ``TCPLAB_HOME`` moves everything under one folder (portable
installs and tests).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

ORG = "tcplab"
APP = "tcplab"


def home_override() -> Path | None:
    v = os.environ.get("TCPLAB_HOME")
    return Path(v) if v else None


def settings() -> QSettings:
    home = home_override()
    if home is not None:
        home.mkdir(parents=True, exist_ok=True)
        return QSettings(str(home / "tcplab.conf"), QSettings.IniFormat)
    return QSettings(QSettings.IniFormat, QSettings.UserScope, ORG, APP)


def data_dir() -> Path:
    home = home_override()
    if home is not None:
        d = home
    else:
        loc = QStandardPaths.writableLocation(QStandardPaths.GenericDataLocation)
        d = Path(loc or Path.home() / ".local" / "share") / "tcplab"
    d.mkdir(parents=True, exist_ok=True)
    return d


def autosave_dir() -> Path:
    d = data_dir() / "autosave"
    d.mkdir(parents=True, exist_ok=True)
    return d
