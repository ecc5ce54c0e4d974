"""The SVG icon set in ``resources/icons``: present, well-formed, renderable, recolourable."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import xml.etree.ElementTree as ET  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QByteArray, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
TOKEN = "#37474f"  # the toolbar stroke colour; the dark theme string-replaces it
SVG_NS = "{http://www.w3.org/2000/svg}"

TOOLBAR = [
    "new", "open", "save", "undo", "redo", "play", "pause", "step", "step-back", "step-segment",
    "fork", "reset",
    "rerun", "new-seed", "select", "add-host", "add-router", "add-link", "delete", "layout",
    "zoom-fit", "drop", "duplicate", "delay", "fullscreen", "settings", "about", "theme",
]
NODES = ["host", "router", "server"]
APP = "tcplab"
ALL = TOOLBAR + NODES + [APP]
PNG_SIZES = [16, 32, 48, 64, 128, 256]


def _svg(name: str) -> Path:
    return ICONS / f"{name}.svg"


def _render(data: bytes, size: int) -> QImage:
    renderer = QSvgRenderer(QByteArray(data))
    assert renderer.isValid()
    image = QImage(size, size, QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def _opaque_pixels(image: QImage) -> int:
    return sum(1 for y in range(image.height()) for x in range(image.width())
               if image.pixelColor(x, y).alpha() > 0)


@pytest.mark.parametrize("name", ALL)
def test_icon_exists_and_parses(name):
    path = _svg(name)
    assert path.is_file(), f"missing {path}"
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg"


@pytest.mark.parametrize("name,box", [(n, "0 0 24 24") for n in TOOLBAR]
                         + [(n, "0 0 64 64") for n in NODES] + [(APP, "0 0 256 256")])
def test_view_box(name, box):
    assert ET.parse(_svg(name)).getroot().get("viewBox") == box


@pytest.mark.parametrize("name", ALL)
def test_icon_renders(qapp, name):
    data = _svg(name).read_bytes()
    assert QSvgRenderer(QByteArray(data)).isValid()
    image = _render(data, 48)
    assert _opaque_pixels(image) > 48 * 48 // 50  # visibly more than a speck


@pytest.mark.parametrize("name", TOOLBAR)
def test_toolbar_icon_uses_the_recolour_token(qapp, name):
    text = _svg(name).read_text(encoding="utf-8")
    assert TOKEN in text
    # the token is the only colour, so replacing it recolours the whole icon
    root = ET.fromstring(text)
    colours = {el.get(attr) for el in root.iter() for attr in ("stroke", "fill")
               if el.get(attr) not in (None, "none")}
    assert colours == {TOKEN}
    # and the recoloured icon has no dark pixels left (it stays readable on a dark theme)
    image = _render(text.replace(TOKEN, "#eceff1").encode(), 24)
    for y in range(24):
        for x in range(24):
            c = image.pixelColor(x, y)
            if c.alpha() == 255:
                assert min(c.red(), c.green(), c.blue()) > 200


@pytest.mark.parametrize("name", NODES + [APP])
def test_coloured_icons_do_not_use_the_token(name):
    # canvas and app icons keep their colours in every theme
    assert TOKEN not in _svg(name).read_text(encoding="utf-8")


@pytest.mark.parametrize("size", PNG_SIZES)
def test_app_icon_pngs(qapp, size):
    path = ICONS / "hicolor" / f"{size}x{size}" / "apps" / "tcplab.png"
    assert path.is_file(), f"missing {path}"
    image = QImage(str(path))
    assert not image.isNull()
    assert (image.width(), image.height()) == (size, size)
    assert image.hasAlphaChannel()
    assert _opaque_pixels(image) > size * size // 2


def test_scalable_app_icon_matches_source():
    scalable = ICONS / "hicolor" / "scalable" / "apps" / "tcplab.svg"
    assert scalable.read_bytes() == _svg(APP).read_bytes()
