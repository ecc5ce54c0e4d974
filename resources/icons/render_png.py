"""Render the application icon ``tcplab.svg`` into the freedesktop ``hicolor`` tree.

Writes ``hicolor/{N}x{N}/apps/tcplab.png`` for N in 16, 22, 24, 32, 48, 64, 128, 256 and 512 (the
sizes desktops ask for), and copies the SVG to ``hicolor/scalable/apps/tcplab.svg``. The outputs
are committed; run this again only after editing ``tcplab.svg``::

    QT_QPA_PLATFORM=offscreen python resources/icons/render_png.py
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRectF, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

HERE = Path(__file__).resolve().parent
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv)  # noqa: F841 (keeps Qt alive)
    source = HERE / "tcplab.svg"
    renderer = QSvgRenderer(str(source))
    if not renderer.isValid():
        print(f"{source} is not a valid SVG", file=sys.stderr)
        return 1
    for n in SIZES:
        image = QImage(n, n, QImage.Format_ARGB32)
        image.fill(Qt.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setRenderHint(QPainter.SmoothPixmapTransform)
        renderer.render(painter, QRectF(0, 0, n, n))
        painter.end()
        out = HERE / "hicolor" / f"{n}x{n}" / "apps" / "tcplab.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(out), "PNG"):
            print(f"could not write {out}", file=sys.stderr)
            return 1
        print(out.relative_to(HERE))
    scalable = HERE / "hicolor" / "scalable" / "apps" / "tcplab.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, scalable)
    print(scalable.relative_to(HERE))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
