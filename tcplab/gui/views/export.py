"""Export any view (any QWidget) as a picture for slides and handouts: PNG, SVG or PDF.

The format follows the file name's suffix:

``.png``  a raster image rendered at ``scale`` times the widget's size (device pixel ratio
          ``scale``, so text and lines are drawn sharp, not enlarged afterwards)
``.svg``  a vector drawing (QSvgGenerator) whose viewBox is the widget's rectangle, with a title
          and a description
``.pdf``  a one-page vector PDF (QPdfWriter) whose page is exactly the widget's size

The picture is made in memory and written to a temporary file next to the target, which is then
renamed over it: a failed export never leaves a half-written file behind.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QPoint, QRect, QSize, QSizeF
from PySide6.QtGui import QImage, QPageLayout, QPageSize, QPainter, QPdfWriter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QWidget

from tcplab.fileio import write_atomic

#: Filter string for QFileDialog.getSaveFileName.
EXPORT_FILTERS = "PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)"
SUFFIXES = (".png", ".svg", ".pdf")
#: Screen pixels per inch assumed for the PDF page size (a 960 px wide view is 10 inches).
SCREEN_DPI = 96


def suffix_for_filter(selected_filter: str) -> str:
    """The suffix a QFileDialog filter entry stands for (``".png"`` for ``"PNG image (*.png)"``);
    ``".png"`` when the entry names none of ours."""
    for suffix in SUFFIXES:
        if f"*{suffix}" in selected_filter:
            return suffix
    return ".png"


def path_with_suffix(path: str | Path, selected_filter: str = "") -> Path:
    """``path`` as typed in a save dialog, given the filter's suffix when it has none of ours."""
    path = Path(path)
    if path.suffix.lower() in SUFFIXES:
        return path
    return path.with_name(path.name + suffix_for_filter(selected_filter))


def _title(widget: QWidget) -> str:
    return getattr(widget, "title", "") or widget.windowTitle() or type(widget).__name__


def _png(widget: QWidget, scale: float) -> bytes:
    w, h = widget.width(), widget.height()
    image = QImage(max(1, round(w * scale)), max(1, round(h * scale)),
                   QImage.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(scale)
    image.fill(widget.palette().window().color())
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setRenderHint(QPainter.TextAntialiasing)
        QWidget.render(widget, painter, QPoint())   # as shown, even for a QGraphicsView
    finally:
        painter.end()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.WriteOnly)
    if not image.save(buf, "PNG"):
        raise OSError("Qt could not encode the PNG image")
    buf.close()
    return bytes(data.data())


def _paint(widget: QWidget, device, what: str, scale: tuple[float, float] | None = None) -> None:
    """Draw ``widget`` as shown (even a QGraphicsView) on its window colour onto ``device``,
    scaled by ``scale`` (x, y) when given."""
    w, h = widget.width(), widget.height()
    painter = QPainter()
    if not painter.begin(device):
        raise OSError(f"Qt could not start the {what}")
    try:
        if scale is not None:
            painter.scale(*scale)
        painter.fillRect(QRect(0, 0, w, h), widget.palette().window().color())
        QWidget.render(widget, painter, QPoint())
    finally:
        painter.end()


def _svg(widget: QWidget, scale: float) -> bytes:
    w, h = widget.width(), widget.height()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buf)
    gen.setSize(QSize(w, h))
    gen.setViewBox(QRect(0, 0, w, h))
    gen.setResolution(SCREEN_DPI)
    title = _title(widget)
    gen.setTitle(f"tcplab: {title}")
    gen.setDescription(f"The {title} view of tcplab, exported as a vector drawing "
                       f"({w}x{h} screen pixels).")
    _paint(widget, gen, "SVG drawing")
    buf.close()
    return bytes(data.data())


def _pdf(widget: QWidget, scale: float) -> bytes:
    w, h = widget.width(), widget.height()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.WriteOnly)
    pdf = QPdfWriter(buf)
    title = _title(widget)
    pdf.setTitle(f"tcplab: {title}")
    pdf.setCreator("tcplab")
    points = QSizeF(w * 72 / SCREEN_DPI, h * 72 / SCREEN_DPI)
    layout = QPageLayout(QPageSize(points, QPageSize.Point, title, QPageSize.ExactMatch),
                         QPageLayout.Portrait, QMarginsF(0, 0, 0, 0), QPageLayout.Point)
    pdf.setPageLayout(layout)
    # Raster parts (icons, cached pixmaps) at `scale` times screen resolution; text and lines
    # stay vectors whatever the resolution.
    pdf.setResolution(max(SCREEN_DPI, round(SCREEN_DPI * scale)))
    _paint(widget, pdf, "PDF document", (pdf.width() / w, pdf.height() / h))
    buf.close()
    return bytes(data.data())


_WRITERS = {".png": _png, ".svg": _svg, ".pdf": _pdf}


def _write_atomically(path: Path, data: bytes) -> None:
    """``data`` to ``path`` through a temporary file beside it (``fileio.write_atomic``: an
    existing file keeps its permissions, a new one gets the umask's), with a message naming
    the file when that fails."""
    try:
        write_atomic(path, lambda f: f.write(data))
    except OSError as e:
        why = e.strerror or str(e)
        raise OSError(e.errno, f"cannot write {path}: {why} (folder {path.parent})") from None


def export_widget(widget: QWidget, path: str | Path, scale: float = 2.0) -> Path:
    """Save a picture of ``widget`` to ``path`` in the format its suffix names (.png, .svg,
    .pdf) and return the path.

    ``scale`` is the PNG's pixels per widget pixel (2 gives a sharp picture for slides) and the
    PDF's raster resolution factor; the SVG is resolution-free. Raises ValueError for an unknown
    suffix, a non-positive scale or an empty widget, and OSError when the file cannot be
    written; in every case no file (and no partial file) is left at ``path``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    writer = _WRITERS.get(suffix)
    if writer is None:
        given = f"'{path.suffix}'" if path.suffix else "no suffix"
        raise ValueError(f"cannot export {path.name!r}: {given} is not a picture format tcplab "
                         f"writes; use .png, .svg or .pdf")
    if not scale > 0:
        raise ValueError(f"export scale must be positive, got {scale!r}")
    if widget.width() <= 0 or widget.height() <= 0:
        raise ValueError(f"cannot export {_title(widget)}: it has no size "
                         f"({widget.width()}x{widget.height()}); show or resize it first")
    if path.is_dir():
        raise OSError(f"cannot write {path}: it is a folder")
    _write_atomically(path, writer(widget, float(scale)))
    return path
