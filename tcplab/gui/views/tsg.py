"""The time-sequence graph: one data direction of one connection, in the style of Stevens'
TCP/IP Illustrated and tcptrace.

x is simulated time (s); y is the sequence number of the sender's bytes, relative to its initial
sequence number (ISS, RFC 9293 3.4.1: the SYN is 0 and the first data byte is 1) or absolute
(the 32-bit numbers on the wire). What is drawn, all read from trace rows:

* every data segment the sender handed to IP (``SEG_SENT`` with a payload) is a vertical bar
  from SEG.SEQ to SEG.SEQ + SEG.LEN at its send time; retransmissions (the ``SendReason`` codes
  of :data:`tcplab.trace.ladder.RETRANSMIT`: RFC 6298 5.4 timeouts, RFC 5681 3.2 fast
  retransmit, RFC 6582 partial ACKs, RFC 6675 SACK recovery) are drawn in another colour with a
  diamond on top; data segments that a ``DROP`` row discarded get a cross;
* the ACK line: the cumulative acknowledgment number of every segment the sender received and
  processed (``SEG_RECV`` at the sender with ACK set, field b), as a step line;
* the window line: the right edge of the receive window that each of those ACKs advertised,
  SEG.ACK + SEG.WND. The window is decoded from the ACK's header exactly as the sender decodes
  it: shifted left by the scale the receiver announced in its SYN when both SYNs carried the
  window-scale option, never for a SYN (RFC 7323 2.2, 2.3). This is exact for every ACK; the
  VAR rows are not: the receiver's RCV.WND is the window before it is rounded down to a
  multiple of the scale, and the sender's SND.WND changes only when the RFC 9293 3.10.7.4
  SND.WL1/SND.WL2 test lets an ACK update it and is published once per engine poll;
* SACK blocks (RFC 2018) carried by those ACKs, as bars at their arrival time;
* duplicate ACKs (RFC 5681 section 2, outcome ``DUP_ACK``) as triangles on the ACK line.

A vertical line shows the shared time cursor; dragging it moves the cursor of every view.
Clicking a segment (or an ACK point) selects that packet; a packet selected elsewhere is
highlighted here.

The module also holds the small pieces the plots view shares: growable arrays, step lines,
the direction picker and the connection helpers.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QLineF, QObject, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import (QCheckBox, QComboBox, QGraphicsItem, QHBoxLayout, QLabel,
                               QVBoxLayout, QWidget)

from tcplab.gui.theme import LIGHT, Theme
from tcplab.net.packet import ACK, OPT_SACK, OPT_WSCALE, SYN
from tcplab.trace.events import EventKind, RecvOutcome, SendReason
from tcplab.trace.ladder import RETRANSMIT

MASK = 0xFFFFFFFF
HALF = 1 << 31
NS = 1e9
MAX_WSCALE = 14          # RFC 7323 2.3: a larger shift is taken as 14

_SENT = int(EventKind.SEG_SENT)
_RECV = int(EventKind.SEG_RECV)
_DROP = int(EventKind.DROP)
_RETX = np.array(sorted(int(r) for r in RETRANSMIT), dtype=np.int64)
_DUP_ACK = int(RecvOutcome.DUP_ACK)
_PROBE = int(SendReason.WINDOW_PROBE)
#: Receipt outcomes after which the segment's ACK field was taken in (RFC 9293 3.10.7.4, fifth
#: check). Segments refused before that check (out of window, PAWS, missing timestamp, no
#: connection, resets) and ACKs of data never sent (BAD_ACK) do not move the ACK line.
_ACK_TAKEN = np.array(sorted(int(o) for o in (
    RecvOutcome.ACCEPTED, RecvOutcome.IN_ORDER, RecvOutcome.OUT_OF_ORDER, RecvOutcome.DUPLICATE,
    RecvOutcome.DUP_ACK, RecvOutcome.FILLED_HOLE, RecvOutcome.SYN_ACCEPTED)), dtype=np.int64)

#: Automatic downsampling keeps about this many bins per pixel column (two points each, the
#: column's highest and lowest: peak mode).
DOWNSAMPLE_FACTOR = 1.0
#: Bars get end caps when a segment is at least this many pixels tall.
CAP_MIN_PX = 14
#: How close (in pixels) a click must be to a segment or an ACK to pick it.
PICK_PX = 8.0


# ============================================================================ shared helpers
class Grow:
    """A numpy array that grows by appending, with amortised doubling (a view's series grow
    every frame; copying the whole series each time would make a run quadratic)."""

    __slots__ = ("buf", "n")

    def __init__(self, dtype=np.float64, capacity: int = 64) -> None:
        self.buf = np.empty(capacity, dtype=dtype)
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def _reserve(self, need: int) -> None:
        if need > len(self.buf):
            buf = np.empty(max(need, 2 * len(self.buf)), dtype=self.buf.dtype)
            buf[:self.n] = self.buf[:self.n]
            self.buf = buf

    def extend(self, values) -> None:
        values = np.asarray(values, dtype=self.buf.dtype)
        k = len(values)
        if not k:
            return
        self._reserve(self.n + k)
        self.buf[self.n:self.n + k] = values
        self.n += k

    @property
    def data(self) -> np.ndarray:
        """The values so far (a view: valid until the next append)."""
        return self.buf[:self.n]

    def with_tail(self, *values) -> np.ndarray:
        """The values followed by ``values`` written into the spare capacity (not kept: the
        next append overwrites them). Used for the point that holds a step line until now."""
        k = len(values)
        self._reserve(self.n + k)
        self.buf[self.n:self.n + k] = values
        return self.buf[:self.n + k]

    def clear(self) -> None:
        self.n = 0


class StepLine:
    """A quantity that keeps its value until the next change (a TCP variable, the ACK number),
    kept as change points ``t`` (ns) and ``v`` and as the polyline that draws it:
    (t0, v0), (t1, v0), (t1, v1), (t2, v1)... in seconds.

    With ``per_instant`` only the last value of an instant is kept: several changes in the same
    nanosecond (one engine step) would otherwise draw as a spike at that time."""

    def __init__(self, per_instant: bool = True) -> None:
        self.per_instant = per_instant
        self.t = Grow(np.int64)
        self.v = Grow(np.float64)
        self.px = Grow(np.float64)
        self.py = Grow(np.float64)

    def __len__(self) -> int:
        return len(self.t)

    def clear(self) -> None:
        for g in (self.t, self.v, self.px, self.py):
            g.clear()

    def extend(self, t: np.ndarray, v: np.ndarray) -> None:
        t = np.asarray(t, dtype=np.int64)
        v = np.asarray(v, dtype=np.float64)
        if not len(t):
            return
        if self.per_instant:
            last = np.ones(len(t), dtype=bool)
            last[:-1] = t[1:] != t[:-1]
            t, v = t[last], v[last]
            if len(self.t) and t[0] == self.t.buf[self.t.n - 1]:
                self.v.buf[self.v.n - 1] = v[0]
                self.py.buf[self.py.n - 1] = v[0]
                t, v = t[1:], v[1:]
                if not len(t):
                    return
        x = t / NS
        if len(self.t):
            prev = np.empty(len(v))
            prev[0] = self.v.buf[self.v.n - 1]
            prev[1:] = v[:-1]
            px = np.repeat(x, 2)
            py = np.empty(2 * len(v))
            py[0::2] = prev
            py[1::2] = v
        else:
            px = np.concatenate([x[:1], np.repeat(x[1:], 2)])
            py = np.empty(2 * len(v) - 1)
            py[0] = v[0]
            py[1::2] = v[:-1]
            py[2::2] = v[1:]
        self.t.extend(t)
        self.v.extend(v)
        self.px.extend(px)
        self.py.extend(py)

    def display(self, now_ns: int | None = None, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """The polyline to draw, its last value held until ``now_ns`` when that is later."""
        if not len(self.t):
            return np.zeros(0), np.zeros(0)
        last_t = int(self.t.buf[self.t.n - 1])
        if now_ns is not None and now_ns > last_t:
            x = self.px.with_tail(now_ns / NS)
            y = self.py.with_tail(self.v.buf[self.v.n - 1])
        else:
            x, y = self.px.data, self.py.data
        return x, (y + offset if offset else y)

    def value_at(self, t_ns: int) -> float:
        """The value in force at time ``t_ns`` (after every change at that instant); NaN
        before the first change."""
        i = int(np.searchsorted(self.t.data, t_ns, side="right")) - 1
        return float(self.v.buf[i]) if i >= 0 else float("nan")


class Bars:
    """Vertical bars from ``lo`` to ``hi`` at times ``t``, as the point pairs of one curve
    (``connect`` joins each point to the next only inside a pair, so clipping to the view and
    peak downsampling keep every bar whole)."""

    def __init__(self) -> None:
        self.x = Grow(np.float64)
        self.y = Grow(np.float64)
        self.connect = Grow(np.bool_)

    def __len__(self) -> int:
        return len(self.x) // 2

    def clear(self) -> None:
        self.x.clear()
        self.y.clear()
        self.connect.clear()

    def extend(self, t_ns: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        k = len(t_ns)
        if not k:
            return
        self.x.extend(np.repeat(np.asarray(t_ns, dtype=np.float64) / NS, 2))
        y = np.empty(2 * k)
        y[0::2] = lo
        y[1::2] = hi
        self.y.extend(y)
        c = np.zeros(2 * k, dtype=bool)
        c[0::2] = True
        self.connect.extend(c)

    def show_in(self, curve: pg.PlotDataItem, offset: float = 0.0) -> None:
        y = self.y.data
        curve.setData(self.x.data, y + offset if offset else y, connect=self.connect.data)


def unwrap(rel32: np.ndarray, ref: int) -> np.ndarray:
    """Sequence offsets taken modulo 2**32 (RFC 9293 3.4: sequence space wraps) made
    continuous: each value is placed within 2**31 of ``ref`` (the highest offset seen so far),
    so a transfer of more than 4 GB keeps climbing instead of falling back to 0."""
    rel32 = np.asarray(rel32, dtype=np.int64)
    return ref + (((rel32 - (ref & MASK) + HALF) & MASK) - HALF)


def peer_of(trace, conn: int) -> int:
    """The connection at the other end of ``conn`` (its addresses and ports mirrored), or -1
    while it does not exist yet (a server's connection appears when the SYN arrives)."""
    if trace is None or not 0 <= conn < len(trace.conns):
        return -1
    info = trace.conns[conn]
    if info.peer >= 0:
        return info.peer
    found = -1
    for other in trace.conns:
        if (other.id != conn and other.local_ip == info.remote_ip
                and other.local_port == info.remote_port and other.remote_ip == info.local_ip
                and other.remote_port == info.local_port):
            # The same addresses and ports may be used again by a later connection: a client
            # pairs with the first match created after it, a server with the last before it.
            found = other.id
            if other.id > conn if info.role == "client" else other.id < conn:
                break
    return found


def conn_label(trace, conn: int) -> str:
    """``client:49152 → server:5001 (bulk)``: the direction whose data ``conn`` sends."""
    info = trace.conns[conn]
    me = f"{trace.nodes[info.node]}:{info.local_port}"
    peer = peer_of(trace, conn)
    if peer >= 0:
        p = trace.conns[peer]
        there = f"{trace.nodes[p.node]}:{p.local_port}"
    else:
        there = f"port {info.remote_port}"
    return f"{me} → {there} ({info.app})"


class SenderTally:
    """Payload bytes each connection has sent so far (``SEG_SENT`` rows), to choose the
    direction a view shows by itself: the connection that sent the most data. Another one
    takes over only once it has sent twice as much, so two similar transfers do not make the
    view flip back and forth."""

    def __init__(self) -> None:
        self.bytes = np.zeros(0, dtype=np.int64)

    def __contains__(self, conn: int) -> bool:
        return 0 <= conn < len(self.bytes) and self.bytes[conn] > 0

    def add(self, m: np.ndarray) -> bool:
        """Count the rows of matrix ``m``; True if any data was sent in them."""
        sent = m[(m[:, 1] == _SENT) & (m[:, 7] > 0)]
        if not len(sent):
            return False
        counts = np.bincount(sent[:, 3], weights=sent[:, 7]).astype(np.int64)
        if len(counts) > len(self.bytes):
            self.bytes = np.concatenate([self.bytes, np.zeros(len(counts) - len(self.bytes),
                                                              dtype=np.int64)])
        self.bytes[:len(counts)] += counts
        return True

    def leader(self, current: int | None) -> int | None:
        if not len(self.bytes) or self.bytes.max() <= 0:
            return current
        best = int(np.argmax(self.bytes))
        if current is None or current >= len(self.bytes):
            return best
        return best if self.bytes[best] > 2 * self.bytes[current] else current


def theme_pen(theme: Theme, name: str, width: float = 1.5, style=Qt.SolidLine) -> QPen:
    pen = pg.mkPen(theme.color(name) if hasattr(theme, name) else QColor(name), width=width)
    pen.setStyle(style)
    pen.setCosmetic(True)
    return pen


#: Grid lines: how much of the muted text colour is mixed into the background, for the lines
#: at major ticks and at the finer (labelled-less) ticks between them.
GRID_MAJOR = 0.32
GRID_MINOR = 0.15


def mix(base: QColor, ink: QColor, share: float) -> QColor:
    """``share`` of ``ink`` over ``base``, opaque: what ``ink`` at that alpha would paint on
    ``base``, without the cost of blending every pixel of every line on every paint."""
    a = 1.0 - share
    return QColor(round(base.red() * a + ink.red() * share),
                  round(base.green() * a + ink.green() * share),
                  round(base.blue() * a + ink.blue() * share))


class GridLines(QGraphicsItem):
    """The grid of one plot, drawn behind its data: a line at each major and medium tick of the
    plot's own axes (so it matches their labels, whatever their tick spacing), in two opaque
    colours mixed from the background and the muted text colour.

    pyqtgraph's own grid (``showGrid``) extends every axis tick across the plot with a
    semi-transparent pen, on top of the data; blending those lines is most of what painting a
    plot costs (at 1600x900 more than the curves themselves). Here the lines are computed only
    when the view range or the plot's size changes, and painted unblended and unantialiased in
    two ``drawLines`` calls. They are a child of the ViewBox in its own (pixel) coordinates,
    below the ViewBox's data group, so the data is drawn over them; not part of the view's
    items, so they never widen its automatic range or catch a click."""

    def __init__(self, plot: pg.PlotItem) -> None:
        vb = plot.getViewBox()
        super().__init__(vb)
        self._vb = vb
        self._axes = (plot.getAxis("bottom"), plot.getAxis("left"))
        self._rect = QRectF(vb.rect())
        self._key: tuple | None = None
        self._lines: tuple[list, list] = ([], [])
        self._pens = (QPen(), QPen())
        self.rebuilds = 0                 # how often the lines were computed (for tests)
        self.setZValue(-1e5)              # above the ViewBox background, below its data
        self.setAcceptedMouseButtons(Qt.NoButton)
        self.setAcceptHoverEvents(False)
        self.set_colors(QColor("white"), QColor("gray"))
        vb.sigResized.connect(self._on_resized)
        vb.sigRangeChanged.connect(self._on_range)

    def set_colors(self, base: QColor, ink: QColor) -> None:
        pens = []
        for share in (GRID_MAJOR, GRID_MINOR):
            pen = QPen(mix(QColor(base), QColor(ink), share))
            pen.setWidth(0)               # cosmetic, one device pixel
            pens.append(pen)
        self._pens = tuple(pens)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def _on_resized(self, *_args) -> None:
        self.prepareGeometryChange()
        self._rect = QRectF(self._vb.rect())
        self.update()

    def _on_range(self, *_args) -> None:
        self.update()

    def lines(self) -> tuple[list, list]:
        """The major and minor lines (``QLineF`` in the ViewBox's pixels) for the current range
        and size, computed again only when either changed."""
        (x0, x1), (y0, y1) = self._vb.viewRange()
        w, h = self._rect.width(), self._rect.height()
        key = (x0, x1, y0, y1, w, h)
        if key == self._key:
            return self._lines
        self._key = key
        self.rebuilds += 1
        major: list[QLineF] = []
        minor: list[QLineF] = []
        if w > 1 and h > 1 and x1 > x0 and y1 > y0:
            sx, sy = w / (x1 - x0), h / (y1 - y0)
            for level, (_spacing, values) in enumerate(self._ticks(0, x0, x1, w)[:2]):
                out = major if level == 0 else minor
                for v in values:
                    px = (v - x0) * sx
                    if 0 <= px <= w:
                        out.append(QLineF(px, 0, px, h))
            for level, (_spacing, values) in enumerate(self._ticks(1, y0, y1, h)[:2]):
                out = major if level == 0 else minor
                for v in values:
                    py = h - (v - y0) * sy
                    if 0 <= py <= h:
                        out.append(QLineF(0, py, w, py))
        self._lines = (major, minor)
        return self._lines

    def _ticks(self, which: int, lo: float, hi: float, size: float) -> list:
        """The tick levels of the bottom (0) or left (1) axis: asked as the axis itself asks
        (its own range and length), so a :class:`QuietAxis` answers from what it computed for
        its labels in the same paint."""
        axis = self._axes[which]
        if isinstance(axis, QuietAxis) and axis.tick_length() > 1:
            return axis.tickValues(axis.range[0], axis.range[1], axis.tick_length())
        return axis.tickValues(lo, hi, size)

    def paint(self, p: QPainter, opt, widget=None) -> None:
        major, minor = self.lines()
        p.setRenderHint(QPainter.Antialiasing, False)
        for pen, lines in ((self._pens[1], minor), (self._pens[0], major)):
            if lines:
                p.setPen(pen)
                p.drawLines(lines)


def following(context) -> bool:
    """Whether the rows just announced move the cursor next (live, it follows the engine's
    clock): a view's readouts at the cursor are then left to the cursor's signal."""
    return context.live and context.now != context.cursor


def covered(view: QWidget, surface: QWidget) -> bool:
    """Whether ``view`` is shown but none of ``surface`` (its drawing area: a graphics view's
    viewport, which covers the view itself) is on screen: a dock behind another dock's tab is
    still visible to Qt, moved out of the window, with an empty visible region. Such a view
    takes every batch into its state (O(rows)) but puts off what only changes the picture
    (curves, ranges, titles: pyqtgraph's setData passes over every point) until it is painted
    again, see :class:`PaintCatchUp`. A view that is not shown at all stays up to date, as
    before: nothing would tell it to catch up, and it costs no paint."""
    return view.isVisible() and surface.visibleRegion().isEmpty()


class PaintCatchUp(QObject):
    """Calls ``refresh`` once before the next paint of ``surface`` after :meth:`defer`: on its
    paint event, before pyqtgraph prepares the scene (applies ranges, transforms), so the
    frame shows the caught-up state. Also on the scene's prepare-for-paint as a fallback (a
    render that sends no paint event to the viewport)."""

    def __init__(self, surface: QWidget, scene, refresh) -> None:
        super().__init__(surface)
        self.pending = False
        self.catch_ups = 0                # how often it caught up (for tests)
        self._refresh = refresh
        self._scene = scene
        surface.installEventFilter(self)
        scene.sigPrepareForPaint.connect(self._on_prepare)

    def defer(self) -> None:
        self.pending = True

    def run(self) -> None:
        if self.pending:
            self.pending = False
            self.catch_ups += 1
            self._refresh()

    def _on_prepare(self) -> None:
        if self.pending:
            self.run()
            # The view boxes may have prepared before the refresh: again, so that the ranges
            # it set are applied to this paint (the nested call finds nothing pending).
            self._scene.prepareForPaint()

    def eventFilter(self, obj, event) -> bool:
        if self.pending and event.type() == QEvent.Paint:
            self.run()
        return False


def refit_on_resize(plot: pg.PlotItem) -> None:
    """Recompute what the curves of ``plot`` draw when its view box changes size. pyqtgraph
    chooses the downsampling factor from the pixel width but only recomputes it when the
    range changes: a dock filled while small (or hidden) would keep drawing a coarse
    version, which turns steps into slopes."""
    def refit(*_args) -> None:
        for item in plot.listDataItems():
            item.viewRangeChanged()
    plot.getViewBox().sigResized.connect(refit)


class DirectionBox(QComboBox):
    """Picks which data direction a view shows, named by the connection that sends the data.
    ``picked(conn)`` is emitted only when the user chooses."""

    picked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.setMinimumContentsLength(18)
        self.setToolTip("Whose data to show: the connection that sends it → the receiver")
        self.setPlaceholderText("no data sent yet")
        self._known = 0
        self._unpaired: set[int] = set()     # listed before their peer existed
        self.activated.connect(self._on_activated)

    def clear_all(self) -> None:
        self.blockSignals(True)
        self.clear()
        self.blockSignals(False)
        self._known = 0
        self._unpaired = set()

    def refresh(self, trace) -> None:
        """Add connections that appeared; relabel those whose peer has appeared since."""
        if trace is None or (len(trace.conns) == self._known and not self._unpaired):
            return
        self.blockSignals(True)
        for conn in list(self._unpaired):
            if peer_of(trace, conn) >= 0:
                self.setItemText(self.findData(conn), conn_label(trace, conn))
                self._unpaired.discard(conn)
        for conn in range(self._known, len(trace.conns)):
            self.addItem(conn_label(trace, conn), conn)
            if peer_of(trace, conn) < 0:
                self._unpaired.add(conn)
        self._known = len(trace.conns)
        self.blockSignals(False)

    def show_conn(self, conn: int | None) -> None:
        self.blockSignals(True)
        self.setCurrentIndex(-1 if conn is None else self.findData(conn))
        self.blockSignals(False)

    def _on_activated(self, index: int) -> None:
        conn = self.itemData(index)
        if conn is not None:
            self.picked.emit(int(conn))


def direction_for(trace, sel, current: int | None, senders: SenderTally, context,
                  owns_packet) -> int | None:
    """Which sending connection a view should show after selection ``sel``.

    A data segment belongs to the direction of the connection that sent it; a segment without
    data (an ACK, a SYN, a FIN) to the other direction, where it acknowledges. A connection
    picked on its own (``sel.conn``) keeps the current direction when it is one of its two
    ends, otherwise it is shown as the sender if it sent data, else its peer if that did.
    ``owns_packet(uid)`` says whether the current direction already shows the packet."""
    if trace is None:
        return current
    uid = sel.packet
    c = sel.conn
    if uid is not None and 0 <= uid < len(trace.packets):
        # The packet decides when the selected connection is one of its two ends (a
        # connection picked later, with an older packet still selected, decides alone).
        if (current is not None and owns_packet(uid)
                and (c is None or c in (current, peer_of(trace, current)))):
            return current
        pc = context.conn_of_packet(uid)
        if pc is not None and (c is None or c in (pc, peer_of(trace, pc))):
            if trace.packets[uid].segment.payload:
                return pc
            peer = peer_of(trace, pc)
            return peer if peer >= 0 else pc
    if c is not None and 0 <= c < len(trace.conns):
        if current is not None and c in (current, peer_of(trace, current)):
            return current
        peer = peer_of(trace, c)
        if c in senders or peer < 0 or peer not in senders:
            return c
        return peer
    return current


# ============================================================================ the axis
class QuietAxis(pg.AxisItem):
    """An axis that sets its label's rich text (and works out its own size again) only when
    the text changed. pyqtgraph does both on every change of range, to update the SI prefix:
    a text layout per axis per frame while a graph follows a live run. It also keeps its last
    tick values, which the plot's :class:`GridLines` ask for again in the same paint."""

    def tickValues(self, minVal, maxVal, size):
        key = (minVal, maxVal, size, self.scale, self._tickDensity, self._tickSpacing,
               self.style["maxTickLevel"])
        if key != getattr(self, "_ticks_key", None):
            self._ticks = super().tickValues(minVal, maxVal, size)
            self._ticks_key = key
        return self._ticks

    def tick_length(self) -> float:
        """The length in pixels the axis chooses its ticks for (as generateDrawSpecs)."""
        rect = self.geometry()
        return rect.height() if self.orientation in ("left", "right") else rect.width()

    def _updateLabel(self) -> None:
        html = self.labelString()
        if html != getattr(self, "_label_html", None):
            self._label_html = html
            self.label.setHtml(html)
            self._adjustSize()
        self.picture = None
        self.update()


class SeqAxis(QuietAxis):
    """Sequence-number ticks as whole numbers with thousands separators; in absolute mode the
    values are the 32-bit numbers on the wire (plotted offset by the ISS, shown modulo 2**32)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.absolute = False

    def tickSpacing(self, minVal, maxVal, size):
        """Ticks one byte apart at the finest: sequence numbers are whole numbers."""
        levels = [(sp, off) for sp, off in super().tickSpacing(minVal, maxVal, size) if sp >= 1]
        return levels or [(1.0, 0.0)]

    def tickStrings(self, values, scale, spacing):
        out = []
        for v in values:
            n = int(round(v))
            out.append(f"{n & MASK if self.absolute else n:,}")
        return out


# ============================================================================ the view
class FollowsDirection:
    """Taking trace batches for a view of one data direction (the graph and the plots).

    Unless the user picked a direction (``_auto`` false), the connection that has sent the most
    data leads (``SenderTally``); when the lead changes, the view starts over on the new
    direction from every row so far and ``_leader_changed()`` follows. Views provide ``box``,
    ``_senders``, ``_conn``, ``_auto``, ``_seen``, ``_new_state()`` and
    ``_consume(rows, first)``."""

    def _take(self, first: int, end: int) -> None:
        """Take rows ``[first, end)``: O(rows) numpy work plus the view's own per-row steps."""
        trace = self.context.trace
        self.box.refresh(trace)
        if self._conn is None:
            self.box.show_conn(None)        # nothing shown yet: the box says so
        m = trace.matrix(first, end)
        self._seen = end
        if not len(m):
            return
        if self._senders.add(m) and self._auto:
            leader = self._senders.leader(self._conn)
            if leader != self._conn:
                self._conn = leader
                self.box.show_conn(self._conn)
                self._new_state()
                self._consume(trace.matrix(0, end), 0)
                self._leader_changed()
                return
        if self._conn is not None:
            if self.box.currentData() != self._conn:
                self.box.show_conn(self._conn)
            self._consume(m, first)

    def _leader_changed(self) -> None:
        raise NotImplementedError


def ghost_of(view_cls, trace, conn: int, methods: tuple[str, ...] = ()):
    """The state a view of ``view_cls`` would hold for direction ``conn`` of another
    ``trace`` (a comparison run), made by the view's own ``_new_state`` and ``_consume`` (and
    the helper ``methods`` they call), so both runs are read by exactly the same rules. None
    when that trace has no such connection."""
    if trace is None or conn is None or conn >= len(trace.conns):
        return None
    table = {name: getattr(view_cls, name) for name in ("_new_state", "_consume", *methods)}
    ghost = type(f"{view_cls.__name__}Ghost", (), table)()
    ghost.context = SimpleNamespace(trace=trace)
    ghost._conn = conn
    ghost._new_state()
    ghost._consume(trace.matrix(0, len(trace)), 0)
    return ghost


def same_endpoint(a, b, conn: int) -> bool:
    """Whether connection ``conn`` is the same endpoint in traces ``a`` and ``b`` (a run and
    its fork number connections alike up to the fork)."""
    if conn is None or conn >= len(a.conns) or conn >= len(b.conns):
        return False
    x, y = a.conns[conn], b.conns[conn]
    return (x.node, x.local_port, x.remote_ip, x.remote_port) == \
        (y.node, y.local_port, y.remote_ip, y.remote_port)


def comparison_text(theme: Theme, label: str) -> str:
    """The line under a graph that says what the grey curves are."""
    return (f"<span style='color:{theme.muted}; font-weight:bold'>━ ┃</span>&nbsp;"
            f"<span style='color:{theme.text}'>grey: {label}</span>")


class TimeSequenceView(FollowsDirection, QWidget):
    """The time-sequence graph dock (see the module docstring for what it draws).

    Public: :meth:`set_direction` (a sending connection id, or None to choose by itself),
    :meth:`direction`, :meth:`set_absolute`, :meth:`segments`, :meth:`acks`,
    :meth:`sack_blocks`, :attr:`plot` (the pyqtgraph PlotItem), :attr:`cursor_line`,
    :attr:`curves` (the curve items by name), :attr:`grid` (its :class:`GridLines`),
    :meth:`highlighted`, :meth:`on_screen` and :meth:`set_theme`.
    """

    title = "Time-sequence graph"
    source = "tsg"

    def __init__(self, context, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.theme = LIGHT
        self._conn: int | None = None       # the sending connection shown
        self._auto = True                   # choose the direction by itself (SenderTally)
        self._absolute = False
        self._seen = 0                      # rows taken from the trace
        self._senders = SenderTally()
        self._highlight_uid: int | None = None
        self._moving_cursor = False
        self._marker_keys: dict[str, tuple] = {}
        self._new_state()

        self.box = DirectionBox(self)
        self.box.picked.connect(self._on_picked)
        self.absolute_box = QCheckBox("absolute sequence numbers", self)
        self.absolute_box.setToolTip("Show the 32-bit numbers on the wire instead of offsets "
                                     "from the initial sequence number")
        self.absolute_box.toggled.connect(self.set_absolute)
        self.readout = QLabel(self)
        self.readout.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.readout.setContentsMargins(6, 0, 6, 2)
        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        top.addWidget(QLabel("Data from", self))
        top.addWidget(self.box)
        top.addWidget(self.absolute_box)
        top.addStretch(1)

        self.seq_axis = SeqAxis("left")
        self.graph = pg.PlotWidget(self, axisItems={"left": self.seq_axis,
                                                    "bottom": QuietAxis("bottom")})
        self.plot: pg.PlotItem = self.graph.getPlotItem()
        self.plot.setMenuEnabled(False)
        for side in ("left", "bottom"):
            # Grid lines at major and medium ticks only (the finest level adds nothing a reader
            # uses); no tick marks outside the plot: the grid lines are the ticks.
            self.plot.getAxis(side).setStyle(maxTickLevel=1, tickLength=0)
        # The grid: drawn once behind the data, not by the axes across it (see GridLines).
        self.grid = GridLines(self.plot)
        self.plot.setLabel("bottom", "time", units="s")

        # Only what is in view is drawn, at most a few points per pixel column, keeping each
        # column's extremes (peak downsampling), so every bar and step stays visible. A
        # PlotItem hands its own settings to the curves added to it: set them there.
        self.plot.setClipToView(True)
        self.plot.setDownsampling(auto=True, mode="peak")

        def curve(bounds: bool = True) -> pg.PlotDataItem:
            item = pg.PlotDataItem(autoDownsampleFactor=DOWNSAMPLE_FACTOR)
            self.plot.addItem(item, ignoreBounds=not bounds)
            return item

        self.curves: dict[str, pg.PlotDataItem] = {
            # The window edge does not widen the automatic range: a receive buffer much larger
            # than the data sent would squeeze the segments into a strip at the bottom. Where
            # the window limits the sender, its edge runs just above the data and is in view.
            "window": curve(bounds=False),
            "ack": curve(),
            "sack": curve(),
            "data": curve(),
            "retx": curve(),
        }
        # The comparison run (a fork's original, context.baseline), under everything else.
        self.ghosts: dict[str, pg.PlotDataItem] = {
            "data": curve(), "retx": curve(), "ack": curve()}
        self._ghost_key: tuple | None = None
        for item in self.ghosts.values():
            item.setZValue(0)
        self.markers: dict[str, pg.ScatterPlotItem] = {}
        for name in ("retx_mark", "probe", "dupack", "lost", "highlight"):
            item = pg.ScatterPlotItem(pxMode=True)
            self.plot.addItem(item)
            self.markers[name] = item
        self.highlight_bar = pg.PlotDataItem()
        self.plot.addItem(self.highlight_bar)
        # Back to front: SACK blocks, ACK line, window line, duplicate ACKs, data,
        # retransmissions and probes, drops, the selection.
        # The dashed window line goes over the ACK line: when the window is closed (edge =
        # ACK) both stay visible.
        for z, item in enumerate((self.curves["sack"], self.curves["ack"], self.curves["window"],
                                  self.markers["dupack"], self.curves["data"], self.curves["retx"],
                                  self.markers["probe"], self.markers["retx_mark"],
                                  self.markers["lost"], self.highlight_bar,
                                  self.markers["highlight"])):
            item.setZValue(z + 1)

        self.cursor_line = pg.InfiniteLine(pos=0.0, angle=90, movable=True)
        self.cursor_line.setZValue(20)
        self.cursor_line.setToolTip("Time cursor: drag to look at another moment")
        self.cursor_line.sigDragged.connect(self._on_cursor_dragged)
        self.plot.addItem(self.cursor_line, ignoreBounds=True)
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        # The caps depend on the pixel size of the view: decided again when its range or size
        # changes, and before a paint if that was skipped while the graph was off screen (the
        # ViewBox's own prepareForPaint, connected first, has applied the range by then).
        self._caps: bool | None = None
        self._caps_stale = True
        self.cap_decisions = 0              # how often the caps were decided (for tests)
        vb = self.plot.getViewBox()
        vb.sigRangeChanged.connect(lambda *_: self._update_caps())
        vb.sigResized.connect(lambda *_: self._update_caps())
        self.plot.scene().sigPrepareForPaint.connect(self._before_paint)
        refit_on_resize(self.plot)
        # Behind another dock's tab the picture waits for the next paint (see covered()).
        self.catch_up = PaintCatchUp(self.graph.viewport(), self.plot.scene(), self._refresh)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.legend = QLabel(self)
        self.legend.setWordWrap(True)
        self.legend.setContentsMargins(6, 0, 6, 0)
        self.compare_note = QLabel(self)
        self.compare_note.setContentsMargins(6, 0, 6, 0)
        self.compare_note.hide()
        layout.addLayout(top)
        layout.addWidget(self.legend)
        layout.addWidget(self.compare_note)
        layout.addWidget(self.graph, 1)
        layout.addWidget(self.readout)

        self.set_theme(self.theme)
        self._set_axis_label()
        context.baselineChanged.connect(self._show_baseline)

        context.reset.connect(self._on_reset)
        context.advanced.connect(self._on_advanced)
        context.cursorChanged.connect(self._on_cursor)
        context.selectionChanged.connect(self._on_selection)
        if context.trace is not None:
            self._on_reset()

    # ------------------------------------------------------------------ state of a direction
    def _new_state(self) -> None:
        self._gen = getattr(self, "_gen", 0) + 1     # tells marker caches the state is new
        self._iss: int | None = None
        self._last_t = 0                    # newest segment sent or received by the sender
        self._ref = 0                       # highest relative sequence offset so far
        self._own_ws: bool | None = None    # did the sender's SYN offer window scaling
        self._peer_ws: int | None = None    # the shift the receiver's SYN announced
        self._peer_syn_seen = False
        # data segments
        self._seg_t = Grow(np.int64)
        self._seg_seq = Grow(np.int64)
        self._seg_len = Grow(np.int64)
        self._max_len = 0                   # the longest segment (for the caps)
        self._seg_uid = Grow(np.int64)
        self._seg_retx = Grow(np.bool_)
        self._retx_before = Grow(np.int64)  # retransmissions among the segments up to each
        self._seg_row = Grow(np.int64)
        self._seg_index: dict[int, int] = {}
        self._data = Bars()
        self._retx = Bars()
        self._retx_pts: list[tuple[float, float]] = []
        self._probe_pts: list[tuple[float, float]] = []
        self._lost: set[int] = set()
        self._lost_pts: list[tuple[float, float]] = []
        # ACKs received by the sender
        self._ack_t = Grow(np.int64)
        self._ack_val = Grow(np.int64)
        self._ack_edge = Grow(np.int64)
        self._ack_uid = Grow(np.int64)
        self._ack_dup = Grow(np.bool_)
        self._ack_index: dict[int, int] = {}
        self._ack_line = StepLine(per_instant=False)
        self._win_line = StepLine(per_instant=False)
        self._dup_pts: list[tuple[float, float]] = []
        self._sack = Bars()
        self._sack_t = Grow(np.int64)
        self._sack_lo = Grow(np.int64)
        self._sack_hi = Grow(np.int64)

    # ------------------------------------------------------------------ public API
    def direction(self) -> int | None:
        """The connection whose sent data is shown (None: none chosen yet)."""
        return self._conn

    def set_direction(self, conn: int | None) -> None:
        """Show the data sent by connection ``conn``; None: choose by itself, the connection
        that has sent the most data (see :class:`SenderTally`)."""
        self._auto = conn is None
        if conn is None:
            conn = self._senders.leader(None)
        if conn != self._conn:
            self._conn = conn
            self._rebuild()
        self.box.show_conn(self._conn)

    def set_absolute(self, on: bool) -> None:
        """Absolute (on the wire) or relative (offset from the ISS) sequence numbers."""
        on = bool(on)
        if on == self._absolute:
            return
        self._absolute = on
        self.absolute_box.blockSignals(True)
        self.absolute_box.setChecked(on)
        self.absolute_box.blockSignals(False)
        self.seq_axis.absolute = on
        self._set_axis_label()
        self._redraw()
        self.plot.enableAutoRange()

    def segments(self) -> dict[str, np.ndarray]:
        """Data segments shown: send time ``t`` (ns), ``seq`` (relative, unwrapped),
        ``length``, packet ``uid``, ``retx`` (a retransmission), trace ``row``."""
        return {"t": self._seg_t.data.copy(), "seq": self._seg_seq.data.copy(),
                "length": self._seg_len.data.copy(), "uid": self._seg_uid.data.copy(),
                "retx": self._seg_retx.data.copy(), "row": self._seg_row.data.copy()}

    def acks(self) -> dict[str, np.ndarray]:
        """ACKs the sender took in: arrival ``t`` (ns), ``ack`` and window right ``edge``
        (relative), packet ``uid``, ``dup`` (a duplicate ACK)."""
        return {"t": self._ack_t.data.copy(), "ack": self._ack_val.data.copy(),
                "edge": self._ack_edge.data.copy(), "uid": self._ack_uid.data.copy(),
                "dup": self._ack_dup.data.copy()}

    def sack_blocks(self) -> dict[str, np.ndarray]:
        """SACK blocks carried by those ACKs: ``t`` (ns), ``left``, ``right`` (relative)."""
        return {"t": self._sack_t.data.copy(), "left": self._sack_lo.data.copy(),
                "right": self._sack_hi.data.copy()}

    def highlighted(self) -> int | None:
        """The packet uid drawn as selected, if this direction shows it."""
        return self._highlight_uid

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        t = theme
        self.graph.setBackground(t.color("base"))
        self.grid.set_colors(t.color("base"), t.color("muted"))
        for side in ("left", "bottom"):
            ax = self.plot.getAxis(side)
            ax.setPen(theme_pen(t, "muted", 1))
            ax.setTextPen(theme_pen(t, "text", 1))
        for key, color, width in (("data", "data", 1.6), ("retx", "retx", 2.4)):
            item = self.curves[key]
            item.setPen(theme_pen(t, color, width))
            item.setSymbolPen(theme_pen(t, color, 1.4))
            item.setSymbolBrush(pg.mkBrush(t.color(color)))
        self._caps = None
        self._update_caps()
        sack = QColor(t.fin)
        sack.setAlphaF(0.75)
        self.curves["sack"].setPen(pg.mkPen(sack, width=2.2, cosmetic=True))
        self.curves["ack"].setPen(theme_pen(t, "ack", 1.8))
        self.curves["window"].setPen(theme_pen(t, "queue", 1.6, Qt.DashLine))
        ghost = QColor(t.muted)
        ghost.setAlphaF(0.6)
        for key, width in (("data", 2.2), ("retx", 2.2), ("ack", 2.0)):
            self.ghosts[key].setPen(pg.mkPen(ghost, width=width, cosmetic=True))
        self._ghost_key = None
        self.markers["retx_mark"].setPen(theme_pen(t, "base", 1.2))
        self.markers["retx_mark"].setBrush(pg.mkBrush(t.color("retx")))
        self.markers["retx_mark"].setSymbol("d")
        self.markers["retx_mark"].setSize(12)
        self.markers["probe"].setPen(theme_pen(t, "queue", 2))
        self.markers["probe"].setBrush(pg.mkBrush(None))
        self.markers["probe"].setSymbol("s")
        self.markers["probe"].setSize(10)
        self.markers["dupack"].setPen(theme_pen(t, "ack", 1.4))
        self.markers["dupack"].setBrush(pg.mkBrush(t.color("base")))
        self.markers["dupack"].setSymbol("t1")
        self.markers["dupack"].setSize(7)
        self.markers["lost"].setPen(theme_pen(t, "drop", 1))
        self.markers["lost"].setBrush(pg.mkBrush(t.color("drop")))
        self.markers["lost"].setSymbol("x")
        self.markers["lost"].setSize(12)
        self.markers["highlight"].setPen(theme_pen(t, "link_selected", 2.5))
        self.markers["highlight"].setBrush(pg.mkBrush(None))
        self.markers["highlight"].setSymbol("o")
        self.markers["highlight"].setSize(18)
        self.highlight_bar.setPen(theme_pen(t, "link_selected", 5))
        self.cursor_line.setPen(theme_pen(t, "text", 1.5, Qt.DashLine))
        self.cursor_line.setHoverPen(theme_pen(t, "link_selected", 3))
        self._fill_legend()
        pal = self.readout.palette()
        pal.setColor(QPalette.WindowText, t.color("muted"))
        self.readout.setPalette(pal)
        self._apply_fonts()
        self._set_axis_label()

    # ------------------------------------------------------------------ fonts and labels
    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.FontChange:
            self._apply_fonts()
            self._set_axis_label()

    def _apply_fonts(self) -> None:
        """Axis ticks, axis labels and the legend in the widget's font, so a presenter mode
        that scales the font scales the graph."""
        font = QFont(self.font())
        for side in ("left", "bottom"):
            self.plot.getAxis(side).setStyle(tickFont=font)

    def _label_style(self) -> dict:
        return {"color": self.theme.text, "font-size": f"{self.font().pointSizeF():.1f}pt"}

    def _set_axis_label(self) -> None:
        text = ("sequence number (absolute)" if self._absolute
                else "sequence number (bytes since ISN)")
        self.plot.setLabel("left", text, **self._label_style())
        self.plot.setLabel("bottom", "time", units="s", **self._label_style())

    def _fill_legend(self) -> None:
        """The legend: one line of coloured marks in the widget's font (it scales with it and
        never covers the data)."""
        t = self.theme
        entries = [("data", "┃", "data segment (seq → seq+len)"), ("retx", "◆", "retransmission"),
                   ("queue", "□", "window probe"), ("drop", "✕", "segment dropped"),
                   ("ack", "━", "cumulative ACK received"), ("ack", "△", "duplicate ACK"),
                   ("queue", "╍", "window edge (ACK + window)"), ("fin", "▌", "SACK block"),
                   ("text", "┆", "cursor")]
        html = " &nbsp; ".join(
            f"<span style='color:{getattr(t, c)}; font-weight:bold'>{mark}</span>&nbsp;"
            + text.replace(" ", "&nbsp;") for c, mark, text in entries)
        self.legend.setText(f"<span style='color:{t.text}'>{html}</span>")

    # ------------------------------------------------------------------ context signals
    def _on_reset(self) -> None:
        self._seen = 0
        self._senders = SenderTally()
        self._highlight_uid = None
        if self._auto:
            self._conn = None
        self._new_state()
        self.box.clear_all()
        trace = self.context.trace
        if trace is not None:
            if self._conn is not None and self._conn >= len(trace.conns):
                self._conn, self._auto = None, True
            self._take(0, len(trace))
        self._redraw()
        self._show_highlight()
        self._on_cursor(self.context.cursor)
        self.plot.enableAutoRange()

    def _on_advanced(self, first: int, end: int) -> None:
        if self.context.trace is None or end <= self._seen:
            return
        self._take(max(first, self._seen), end)
        if covered(self, self.graph.viewport()):
            self.catch_up.defer()
            self._update_caps()             # no caps while off screen
            return
        self._redraw()
        if self.on_screen():
            # The automatic range now rather than when the scene prepares its paint: the
            # items then take their new transform before the paint instead of during it,
            # which cost a second paint of the whole graph in every other frame.
            self.plot.getViewBox().prepareForPaint()
        self._update_caps()
        if not following(self.context):
            self._update_readout()          # else the cursor's move does it next

    def _refresh(self) -> None:
        """The picture and the readout from the state taken so far."""
        self._redraw()
        self._update_readout()

    def _leader_changed(self) -> None:
        """The graph switched to a new leading sender: highlight and rescale for it."""
        self._highlight_uid = self.context.selection.packet
        self._show_highlight()
        self.plot.enableAutoRange()

    def _rebuild(self) -> None:
        """Start the current direction over from the rows taken so far (a direction switch)."""
        self._new_state()
        trace = self.context.trace
        if trace is not None and self._seen:
            self._consume(trace.matrix(0, self._seen), 0)
        self._highlight_uid = None
        sel = self.context.selection
        if sel.packet is not None:
            self._highlight_uid = sel.packet
        self._redraw()
        self._show_highlight()
        self._update_readout()
        self.plot.enableAutoRange()

    def _consume(self, m: np.ndarray, first: int) -> None:
        """Add the rows of matrix ``m`` (trace rows ``first``...) that concern the shown
        direction."""
        trace = self.context.trace
        s = self._conn
        if s is None or trace is None or s >= len(trace.conns):
            return
        kind, conn = m[:, 1], m[:, 3]
        mine = conn == s
        sent = m[mine & (kind == _SENT)]
        recv = m[mine & (kind == _RECV)]
        if self._iss is None:
            iss = trace.conns[s].iss
            if iss is None:
                syn = sent[(sent[:, 8] & SYN) != 0]
                iss = int(syn[0, 5]) if len(syn) else None
            self._iss = iss
        if self._iss is None:
            return
        iss = self._iss
        if len(sent) or len(recv):
            self._last_t = max(self._last_t, int(sent[-1, 0]) if len(sent) else 0,
                               int(recv[-1, 0]) if len(recv) else 0)
        packets = trace.packets
        # The window-scale shift (RFC 7323 2.2): both SYNs must carry the option.
        if self._own_ws is None:
            for row in sent[(sent[:, 8] & SYN) != 0]:
                self._own_ws = packets[int(row[4])].segment.option(OPT_WSCALE) is not None
                break
        if not self._peer_syn_seen:
            for row in recv[(recv[:, 8] & SYN) != 0]:
                ws = packets[int(row[4])].segment.option(OPT_WSCALE)
                self._peer_ws = None if ws is None else min(int(ws), MAX_WSCALE)
                self._peer_syn_seen = True
                break

        # -- data segments
        data = sent[sent[:, 7] > 0]
        if len(data):
            t = data[:, 0]
            rel = unwrap((data[:, 5] - iss) & MASK, self._ref)
            length = data[:, 7]
            retx = np.isin(data[:, 8] >> 16, _RETX)
            uids = data[:, 4]
            base = len(self._seg_t)
            self._seg_t.extend(t)
            self._seg_seq.extend(rel)
            self._seg_len.extend(length)
            self._seg_uid.extend(uids)
            self._seg_retx.extend(retx)
            prior = int(self._retx_before.buf[base - 1]) if base else 0
            self._retx_before.extend(prior + np.cumsum(retx))
            self._max_len = max(self._max_len, int(length.max()))
            rows = np.flatnonzero(mine & (kind == _SENT))
            self._seg_row.extend(rows[sent[:, 7] > 0] + first)
            for j, uid in enumerate(uids.tolist()):
                self._seg_index[uid] = base + j
            self._ref = max(self._ref, int((rel + length).max()))
            probe = (data[:, 8] >> 16) == _PROBE
            if probe.any():
                self._probe_pts.extend(zip((t[probe] / NS).tolist(), rel[probe].astype(float).tolist()))
            normal = ~retx
            self._data.extend(t[normal], rel[normal], (rel + length)[normal])
            if retx.any():
                self._retx.extend(t[retx], rel[retx], (rel + length)[retx])
                for tt, top in zip((t[retx] / NS).tolist(), (rel + length)[retx].tolist()):
                    self._retx_pts.append((tt, float(top)))
        # -- ACKs taken in by the sender
        acks = recv[((recv[:, 8] & ACK) != 0) & np.isin(recv[:, 8] >> 16, _ACK_TAKEN)]
        if len(acks):
            t = acks[:, 0]
            rel = unwrap((acks[:, 6] - iss) & MASK, self._ref)
            shift = self._peer_ws if (self._own_ws and self._peer_ws is not None) else 0
            wnd = np.empty(len(acks), dtype=np.int64)
            s_t, s_lo, s_hi = [], [], []
            for j, (uid, tt, a) in enumerate(zip(acks[:, 4].tolist(), t.tolist(), rel.tolist())):
                seg = packets[uid].segment
                wnd[j] = seg.window if seg.flags & SYN else seg.window << shift
                blocks = seg.option(OPT_SACK) if seg.options else None
                if blocks:
                    for left, right in blocks:
                        lo = a + (((left - iss - a) + HALF) & MASK) - HALF
                        s_t.append(tt)
                        s_lo.append(lo)
                        s_hi.append(lo + ((right - left) & MASK))
            dup = (acks[:, 8] >> 16) == _DUP_ACK
            base = len(self._ack_t)
            self._ack_t.extend(t)
            self._ack_val.extend(rel)
            self._ack_edge.extend(rel + wnd)
            self._ack_uid.extend(acks[:, 4])
            self._ack_dup.extend(dup)
            for j, uid in enumerate(acks[:, 4].tolist()):
                self._ack_index[uid] = base + j
            self._ack_line.extend(t, rel)
            self._win_line.extend(t, rel + wnd)
            if dup.any():
                self._dup_pts.extend(zip((t[dup] / NS).tolist(), rel[dup].astype(float).tolist()))
            if s_t:
                st = np.array(s_t, dtype=np.int64)
                lo = np.array(s_lo, dtype=np.int64)
                hi = np.array(s_hi, dtype=np.int64)
                self._sack_t.extend(st)
                self._sack_lo.extend(lo)
                self._sack_hi.extend(hi)
                self._sack.extend(st, lo, hi)
        # -- drops of this direction's data segments
        drops = m[kind == _DROP]
        if len(drops) and self._seg_index:
            for uid in drops[:, 4].tolist():
                k = self._seg_index.get(uid)
                if k is not None and uid not in self._lost:
                    self._lost.add(uid)
                    mid = self._seg_seq.buf[k] + self._seg_len.buf[k] / 2
                    self._lost_pts.append((self._seg_t.buf[k] / NS, float(mid)))

    # ------------------------------------------------------------------ drawing
    def _offset(self) -> float:
        return float(self._iss) if (self._absolute and self._iss is not None) else 0.0

    def _redraw(self) -> None:
        off = self._offset()
        self._data.show_in(self.curves["data"], off)
        self._retx.show_in(self.curves["retx"], off)
        self._sack.show_in(self.curves["sack"], off)
        # The lines hold their last value up to the sender's newest segment (not beyond: an
        # idle end of the run would squeeze the transfer into a corner).
        now = self._last_t
        x, y = self._ack_line.display(now, off)
        self.curves["ack"].setData(x, y)
        x, y = self._win_line.display(now, off)
        self.curves["window"].setData(x, y)
        self._set_points("retx_mark", self._retx_pts, off)
        self._set_points("probe", self._probe_pts, off)
        self._set_points("dupack", self._dup_pts, off)
        self._set_points("lost", self._lost_pts, off)
        self._show_baseline()

    def _show_baseline(self) -> None:
        """Draw the comparison run's segments and ACK line in grey for the same direction
        (computed once per run, direction and offset)."""
        ctx = self.context
        base, conn = ctx.baseline, self._conn
        ok = (base is not None and ctx.trace is not None and self._iss is not None
              and same_endpoint(base, ctx.trace, conn))
        key = (id(base), conn, self._offset(), self._gen) if ok else None
        if key == self._ghost_key:
            return
        self._ghost_key = key
        ghost = ghost_of(TimeSequenceView, base, conn) if ok else None
        if ghost is None or ghost._iss != self._iss:
            for item in self.ghosts.values():
                item.setData([], [])
            self.compare_note.setVisible(base is not None)
            if base is not None:
                self.compare_note.setText(comparison_text(
                    self.theme, f"{ctx.baseline_label} (nothing to compare in this direction)"))
            return
        off = self._offset()
        ghost._data.show_in(self.ghosts["data"], off)
        ghost._retx.show_in(self.ghosts["retx"], off)
        x, y = ghost._ack_line.display(ghost._last_t, off)
        self.ghosts["ack"].setData(x, y)
        self.compare_note.setText(comparison_text(self.theme, ctx.baseline_label))
        self.compare_note.show()

    def _set_points(self, name: str, pts: list, off: float) -> None:
        """Show the marker points ``pts``: only the new ones are added while the direction and
        the offset stay the same (setData on a scatter item rebuilds every spot in Python)."""
        item = self.markers[name]
        gen, shown, shown_off = self._marker_keys.get(name, (None, 0, None))
        if gen == self._gen and shown_off == off and shown <= len(pts):
            if shown == len(pts):
                return
            arr = np.asarray(pts[shown:], dtype=np.float64)
            item.addPoints(x=arr[:, 0], y=arr[:, 1] + off)
        elif pts:
            arr = np.asarray(pts, dtype=np.float64)
            item.setData(arr[:, 0], arr[:, 1] + off)
        else:
            item.setData([], [])
        self._marker_keys[name] = (self._gen, len(pts), off)

    def on_screen(self) -> bool:
        """Whether any of the graph is on screen (see :func:`covered`)."""
        return self.isVisible() and not self.graph.viewport().visibleRegion().isEmpty()

    def _before_paint(self) -> None:
        """Just before the scene is painted (on screen, or rendered for an export)."""
        if self._caps_stale:
            self._update_caps(painting=True)

    def _update_caps(self, painting: bool = False) -> None:
        """Caps at the ends of the bars (tcptrace's arrow heads) once a segment is tall enough
        on screen for them to help: segments sent back to back stack into one line, and the
        caps show where one ends and the next begins. Zoomed out they would only blot.

        Decided only while the graph is on screen or being painted: pyqtgraph applies the
        automatic range when it paints, so a graph behind a tab keeps its first range ([0, 1]),
        where every bar looks tall, and caps would make each batch build a symbol for every
        segment sent. Off screen there are no caps, and the decision waits for the next paint
        (:meth:`_before_paint`). O(1) apart from the symbols when they change."""
        if not self._max_len:
            return
        if painting or self.on_screen():
            self._caps_stale = False
            self.cap_decisions += 1
            # From the range and the size, not viewPixelSize(): that reads the transform, which
            # follows a new range only when the view is next painted.
            vb = self.plot.getViewBox()
            y0, y1 = vb.viewRange()[1]
            tall = bool(y1 > y0 and self._max_len * vb.height() / (y1 - y0) >= CAP_MIN_PX)
        else:
            self._caps_stale = True
            tall = False
        if tall != self._caps:
            self._caps = tall
            for key in ("data", "retx"):
                self.curves[key].setSymbol("_" if tall else None)
                self.curves[key].setSymbolSize(8)

    def _show_highlight(self) -> None:
        uid = self._highlight_uid
        off = self._offset()
        k = self._seg_index.get(uid) if uid is not None else None
        if k is not None:
            t = self._seg_t.buf[k] / NS
            lo = self._seg_seq.buf[k] + off
            hi = lo + self._seg_len.buf[k]
            self.highlight_bar.setData([t, t], [lo, hi])
            self.markers["highlight"].setData([t], [(lo + hi) / 2])
            return
        k = self._ack_index.get(uid) if uid is not None else None
        self.highlight_bar.setData([], [])
        if k is not None:
            self.markers["highlight"].setData([self._ack_t.buf[k] / NS],
                                              [self._ack_val.buf[k] + off])
        else:
            self.markers["highlight"].setData([], [])
            self._highlight_uid = None

    def _update_readout(self) -> None:
        """One line of numbers at the cursor: the last cumulative ACK, the window edge, what
        was sent so far."""
        if self._conn is None or self.context.trace is None:
            self.readout.setText("No data sent yet: the graph fills in when a connection "
                                 "sends its first data segment.")
            return
        t = self.context.cursor
        off = self._offset()
        n = int(np.searchsorted(self._seg_t.data, t, side="right"))
        retx = int(self._retx_before.buf[n - 1]) if n else 0
        ack = self._ack_line.value_at(t)
        edge = self._win_line.value_at(t)
        parts = []
        if np.isfinite(ack):
            parts.append(f"cumulative ACK {int(ack + off) & MASK if self._absolute else int(ack):,}")
            parts.append(f"window edge {int(edge + off) & MASK if self._absolute else int(edge):,}"
                         f" (window {int(edge - ack):,} B)")
        parts.append(f"{n:,} data segment{'' if n == 1 else 's'} sent, {retx:,} of them "
                     f"retransmission{'' if retx == 1 else 's'}")
        self.readout.setText(f"at {t / NS:.6f} s — " + " · ".join(parts))

    # ------------------------------------------------------------------ cursor and selection
    def _on_cursor(self, t_ns: int) -> None:
        self._moving_cursor = True
        self.cursor_line.setPos(t_ns / NS)
        self._moving_cursor = False
        self._update_readout()

    def _on_cursor_dragged(self, line) -> None:
        if self._moving_cursor:
            return
        t = int(round(line.value() * NS))
        self.context.set_cursor(max(0, t))

    def _owns(self, uid: int) -> bool:
        return uid in self._seg_index or uid in self._ack_index

    def _on_selection(self, sel) -> None:
        if sel.source == self.source:
            return
        target = direction_for(self.context.trace, sel, self._conn, self._senders,
                               self.context, self._owns)
        if target is not None and target != self._conn:
            self._auto = False
            self._conn = target
            self.box.show_conn(target)
            self._rebuild()
        self._highlight_uid = sel.packet
        self._show_highlight()

    def _on_picked(self, conn: int) -> None:
        self.set_direction(conn)
        self.context.select_conn(conn, source=self.source)

    def pick(self, x: float, y: float, px: float, py: float) -> int | None:
        """The packet nearest to data point (``x`` s, ``y``), within :data:`PICK_PX` pixels,
        where one pixel is ``px`` seconds wide and ``py`` sequence numbers tall: a data segment
        (distance to its bar) or an ACK (distance to its point)."""
        y = y - self._offset()
        best, best_d = None, PICK_PX
        if len(self._seg_t):
            t = self._seg_t.data / NS
            lo = self._seg_seq.data.astype(np.float64)
            hi = lo + self._seg_len.data
            dy = np.where(y < lo, lo - y, np.where(y > hi, y - hi, 0.0)) / py
            d = np.hypot((t - x) / px, dy)
            k = int(np.argmin(d))
            if d[k] <= best_d:
                best, best_d = int(self._seg_uid.buf[k]), float(d[k])
        if len(self._ack_t):
            d = np.hypot((self._ack_t.data / NS - x) / px, (self._ack_val.data - y) / py)
            k = int(np.argmin(d))
            if d[k] < best_d:
                best, best_d = int(self._ack_uid.buf[k]), float(d[k])
        return best

    def _on_click(self, ev) -> None:
        if ev.button() != Qt.LeftButton or ev.isAccepted():
            return
        vb = self.plot.getViewBox()
        pos = ev.scenePos()
        if not vb.sceneBoundingRect().contains(pos):
            return
        p = vb.mapSceneToView(pos)
        px, py = vb.viewPixelSize()
        uid = self.pick(p.x(), p.y(), px, py)
        if uid is None:
            return
        ev.accept()
        self.select_packet(uid)

    def select_packet(self, uid: int) -> None:
        """Select packet ``uid`` as a click on it does: highlighted here, told to the others."""
        self._highlight_uid = uid
        self._show_highlight()
        self.context.select(packet=uid, source=self.source)
