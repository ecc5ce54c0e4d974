"""Helpers for the GUI tests: a window with its own settings folder and no blocking dialogs."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QtMsgType, qInstallMessageHandler  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402


#: Said by Qt's offscreen platform plugin itself (it has no window manager to pass size hints
#: to); not a problem of the application, and absent on a real screen.
PLATFORM_NOISE = ("This plugin does not support propagateSizeHints()",)


class QtMessages:
    """Collects Qt's warnings while installed (a test fails on any it did not expect)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self._old = None

    def _handler(self, kind, context, text) -> None:
        if text in PLATFORM_NOISE:
            return
        if kind in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            self.messages.append((str(kind), text))

    def __enter__(self) -> "QtMessages":
        self._old = qInstallMessageHandler(self._handler)
        return self

    def __exit__(self, *exc) -> None:
        qInstallMessageHandler(self._old)


def distinct_colors(img: QImage, step: int = 7) -> int:
    """How many different colours a sparse grid of pixels has (a blank grab has one or two)."""
    seen = set()
    for y in range(0, img.height(), step):
        for x in range(0, img.width(), step):
            seen.add(img.pixel(x, y))
    return len(seen)
