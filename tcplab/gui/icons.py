"""Icons from ``resources/icons`` (SVG), recoloured for the theme and cached.

Toolbar icons are drawn with one stroke colour token (``#37474f``); the dark theme swaps it for
a light one. SVG keeps them sharp at any device-pixel ratio.
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from tcplab.resources import resources_dir

STROKE_TOKEN = "#37474f"


@lru_cache(maxsize=None)
def svg_bytes(name: str, stroke: str = STROKE_TOKEN) -> bytes:
    """The SVG text of icon ``name`` with the toolbar stroke colour replaced by ``stroke``."""
    path = resources_dir() / "icons" / f"{name}.svg"
    text = path.read_text(encoding="utf-8")
    if stroke != STROKE_TOKEN:
        text = text.replace(STROKE_TOKEN, stroke)
    return text.encode("utf-8")


@lru_cache(maxsize=None)
def renderer(name: str, stroke: str = STROKE_TOKEN) -> QSvgRenderer:
    r = QSvgRenderer(QByteArray(svg_bytes(name, stroke)))
    if not r.isValid():
        raise ValueError(f"icon {name}.svg is not a valid SVG")
    return r


def pixmap(name: str, size: int, stroke: str = STROKE_TOKEN, ratio: float = 1.0) -> QPixmap:
    px = int(round(size * ratio))
    img = QImage(px, px, QImage.Format_ARGB32_Premultiplied)
    img.fill(Qt.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.Antialiasing)
    renderer(name, stroke).render(p, QRectF(0, 0, px, px))
    p.end()
    pm = QPixmap.fromImage(img)
    pm.setDevicePixelRatio(ratio)
    return pm


_icon_cache: dict[tuple[str, str], QIcon] = {}


def icon(name: str, stroke: str = STROKE_TOKEN) -> QIcon:
    """A QIcon with pixmaps at the usual toolbar and menu sizes, sharp on high-DPI screens."""
    key = (name, stroke)
    if key not in _icon_cache:
        ic = QIcon()
        for size in (16, 20, 24, 32, 48, 64):
            for ratio in (1.0, 2.0):
                ic.addPixmap(pixmap(name, size, stroke, ratio))
        _icon_cache[key] = ic
    return _icon_cache[key]


def clear_cache() -> None:
    _icon_cache.clear()


def app_icon() -> QIcon:
    ic = QIcon()
    for size in (16, 32, 48, 64, 128, 256):
        ic.addPixmap(pixmap("tcplab", size))
    return ic


ICON_SIZE = QSize(22, 22)
