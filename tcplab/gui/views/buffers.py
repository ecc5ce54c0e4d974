"""The Buffers view: each direction of the selected connection's byte stream, byte by byte.

For one direction, two bars share one axis of relative sequence numbers (1 = the first data
byte, ISS + 1; absolute numbers are in the tooltips):

* the **sender's** bar (RFC 9293 3.3.1 Figure 3): acknowledged bytes (below SND.UNA), bytes in
  flight, bytes sent again (retransmitted), bytes the receiver SACKed (RFC 2018), and bytes
  the application wrote that wait to be sent; under it the send window SND.WND from SND.UNA
  and, filled, the usable window up to SND.UNA + min(SND.WND, cwnd) (RFC 5681 2);
* the **receiver's** bar (the peer endpoint, RFC 9293 3.3.1 Figure 4): bytes the application
  read, bytes in order but not read yet, bytes held out of order, and the holes before them;
  under it the receive window RCV.WND from RCV.NXT.

Both directions of the connection are shown, the selected endpoint's sending direction first.
Everything comes from :mod:`tcplab.trace.snapshot` at the shared cursor; the view redraws once
per batch of rows or cursor move.

This module also holds :class:`ConnectionView`, the base the Buffers, Timers and State views
share: a connection picker that follows the shared selection and a snapshot at the cursor.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QScrollArea, QSizePolicy,
                               QToolTip, QVBoxLayout, QWidget)

from tcplab.gui.theme import LIGHT, Theme
from tcplab.trace.snapshot import (KIND_MEANING, ByteMap, Snapshot, interesting_range,
                                   receiver_map, sender_map, shared_tracker)

MIN_POINT_SIZE = 9.0


def conn_name(trace, cid: int) -> str:
    """``node:port`` of connection ``cid``."""
    info = trace.conns[cid]
    return f"{trace.nodes[info.node]}:{info.local_port}"


def with_alpha(color: QColor, alpha: int) -> QColor:
    c = QColor(color)
    c.setAlpha(alpha)
    return c


def text_on(fill: QColor, theme: Theme) -> QColor:
    """Black or white, whichever reads better on ``fill`` (drawn over the theme's base)."""
    base = QColor(theme.base)
    a = fill.alphaF()
    r = fill.redF() * a + base.redF() * (1 - a)
    g = fill.greenF() * a + base.greenF() * (1 - a)
    b = fill.blueF() * a + base.blueF() * (1 - a)
    luma = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return QColor("#111111") if luma > 0.5 else QColor("#ffffff")


def view_font(widget: QWidget, scale: float = 1.0, bold: bool = False) -> QFont:
    """The widget's own font (so a presenter mode can enlarge it), never below 9 pt."""
    f = QFont(widget.font())
    size = f.pointSizeF() if f.pointSizeF() > 0 else MIN_POINT_SIZE
    f.setPointSizeF(max(MIN_POINT_SIZE, size * scale))
    f.setBold(bold)
    return f


def begin_paint(widget: QWidget, theme: Theme, empty: str | None = None):
    """Start painting a view body: antialiased, the base colour filled in, the view font set.
    Returns ``(painter, font metrics)``, or None after writing ``empty`` (the reason there is
    nothing to draw yet) in the middle when it is given."""
    p = QPainter(widget)
    p.setRenderHint(QPainter.Antialiasing)
    p.fillRect(widget.rect(), theme.color("base"))
    font = view_font(widget)
    p.setFont(font)
    if empty is not None:
        p.setPen(theme.color("muted"))
        p.drawText(QRectF(widget.rect()), Qt.AlignCenter, empty)
        p.end()
        return None
    return p, QFontMetricsF(font)


class ConnectionView(QWidget):
    """Base of the views that show one connection's two endpoints at the cursor.

    Holds a connection picker (a combo box) that follows ``context.selection.conn`` (unless the
    selection came from this view) and tells the context when the user picks another; keeps
    ``self.snapshot`` (a :class:`~tcplab.trace.snapshot.Snapshot` of rows up to the cursor) up to
    date on reset, new rows and cursor moves. Subclasses set ``title`` and ``source`` and put
    their drawing widget in ``self.body`` (see :meth:`set_body`); ``refreshed()`` is called when
    anything shown may have changed.
    """

    title = "Connection"
    source = "connection"

    def __init__(self, context, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.theme: Theme = LIGHT
        self.tracker = None
        self.snapshot: Snapshot | None = None
        self.conn: int | None = None
        self._nconns = 0
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.setSpacing(4)
        top = QHBoxLayout()
        top.setSpacing(6)
        self.picker_label = QLabel("Connection:")
        self.picker = QComboBox()
        self.picker.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.picker.setToolTip("The connection to show; the other endpoint is found from its "
                               "addresses and ports")
        self.picker.currentIndexChanged.connect(self._picked)
        top.addWidget(self.picker_label)
        top.addWidget(self.picker)
        top.addStretch(1)
        lay.addLayout(top)
        self._layout = lay
        self.body: QWidget | None = None
        context.follow(self)
        self._on_reset()

    def set_body(self, widget: QWidget, scroll: bool = False) -> None:
        self.body = widget
        if scroll:
            area = QScrollArea()
            area.setWidgetResizable(True)
            # a fixed bar: a body whose height follows its width cannot make it come and go
            area.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOn)
            area.setFrameShape(QScrollArea.NoFrame)
            area.setWidget(widget)
            self._layout.addWidget(area, 1)
        else:
            self._layout.addWidget(widget, 1)

    # -- public ----------------------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        if self.body is not None:
            self.body.update()

    def endpoints(self) -> tuple[int | None, int | None]:
        """The selected connection and its peer (either may be None)."""
        if self.conn is None or self.tracker is None:
            return None, None
        peer = self.tracker.peer(self.conn)
        return self.conn, (peer if peer >= 0 else None)

    def set_conn(self, cid: int | None) -> None:
        """Show connection ``cid`` (and its peer)."""
        trace = self.context.trace
        if cid is not None and trace is not None and 0 <= cid < len(trace.conns):
            self.conn = cid
            self._fill_picker()
            self.refresh()

    def refresh(self) -> None:
        """Take the snapshot at the cursor again and redraw."""
        ctx = self.context
        if ctx.trace is None or self.tracker is None:
            self.snapshot = None
        else:
            self.snapshot = self.tracker.at(ctx.rows_until(ctx.cursor))
        self.refreshed()
        if self.body is not None:
            self.body.update()

    def refreshed(self) -> None:
        """Hook: the snapshot or the connection changed."""

    # -- context -----------------------------------------------------------------------------------
    def _on_reset(self) -> None:
        trace = self.context.trace
        self.tracker = shared_tracker(trace) if trace is not None else None
        self.conn = None
        self._nconns = -1           # fill the picker afresh
        sel = self.context.selection.conn
        if trace is not None and sel is not None and 0 <= sel < len(trace.conns):
            self.conn = sel
        self._check_conns()
        self.refresh()

    def _check_conns(self) -> None:
        trace = self.context.trace
        n = len(trace.conns) if trace is not None else 0
        if n != self._nconns:
            self._nconns = n
            if self.conn is None and n:
                self.conn = 0
            self._fill_picker()

    def _fill_picker(self) -> None:
        trace = self.context.trace
        self.picker.blockSignals(True)
        self.picker.clear()
        if trace is not None:
            for info in trace.conns:
                peer = self.tracker.peer(info.id) if self.tracker is not None else -1
                other = f" ⇄ {conn_name(trace, peer)}" if peer >= 0 else ""
                self.picker.addItem(f"{conn_name(trace, info.id)}{other}  ({info.app}, {info.role})",
                                    info.id)
            if self.conn is not None:
                self.picker.setCurrentIndex(self.conn)
        self.picker.setEnabled(self.picker.count() > 0)
        if not self.picker.count():
            self.picker.addItem("no connection yet")
            self.picker.setEnabled(False)
        self.picker.blockSignals(False)

    def _on_advanced(self, first: int, end: int) -> None:
        self._check_conns()
        # Rows at the cursor's own instant may have arrived without the cursor moving.
        if self.tracker is not None and self.snapshot is not None \
                and self.context.rows_until(self.context.cursor) != self.snapshot.n:
            self.refresh()

    def _on_cursor(self, _t: int) -> None:
        self.refresh()

    def _on_selection(self, sel) -> None:
        if sel.source == self.source or sel.conn is None or sel.conn == self.conn:
            return
        self.set_conn(sel.conn)

    def _picked(self, index: int) -> None:
        cid = self.picker.itemData(index)
        if cid is None or cid == self.conn:
            return
        self.conn = cid
        self.refresh()
        self.context.select_conn(cid, source=self.source)


# ------------------------------------------------------------------------------------- buffers
def nice_step(span: float, count: float) -> int:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``count`` ticks."""
    if span <= 0 or count <= 0:
        return 1
    raw = span / count
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return max(1, int(m * mag))
    return max(1, int(10 * mag))


#: Kind of byte -> (theme colour, alpha, brush pattern) for the bars.
KIND_STYLE = {
    "acked": ("ack", 90, Qt.SolidPattern),
    "in_flight": ("data", 255, Qt.SolidPattern),
    "retransmitted": ("retx", 255, Qt.SolidPattern),
    "sacked": ("synack", 255, Qt.SolidPattern),
    "unsent": ("queue", 150, Qt.SolidPattern),
    "read": ("ack", 90, Qt.SolidPattern),
    "unread": ("syn", 255, Qt.SolidPattern),
    "ooo": ("fin", 255, Qt.SolidPattern),
    "hole": ("drop", 255, Qt.BDiagPattern),
}
#: Kinds of bytes that make a direction worth drawing in full.
BUSY = frozenset({"in_flight", "retransmitted", "sacked", "unsent", "unread", "ooo", "hole"})
KIND_SHORT = {
    "acked": "acknowledged", "in_flight": "in flight", "retransmitted": "retransmitted",
    "sacked": "SACKed", "unsent": "written, not sent", "read": "read by the app",
    "unread": "in order, unread", "ooo": "held out of order", "hole": "hole (missing)",
}
MARKER_MEANING = {
    "SND.UNA": "oldest unacknowledged sequence number (RFC 9293 3.3.1)",
    "SND.NXT": "next sequence number to be sent (RFC 9293 3.3.1)",
    "SND.MAX": "highest sequence number sent + 1; SND.NXT went back after a timeout (RFC 6298 5.4)",
    "RCV.NXT": "next sequence number expected on an incoming segment (RFC 9293 3.3.1)",
}
WINDOW_MEANING = {
    "SND.WND": "send window: the receiver's advertised window, from SND.UNA (RFC 9293 3.3.1)",
    "usable": "usable window: may be sent now, up to SND.UNA + min(SND.WND, cwnd) (RFC 5681 2)",
    "RCV.WND": "receive window: sequence numbers the receiver will accept, from RCV.NXT "
               "(RFC 9293 3.3.1)",
}


class Direction:
    """One direction of a connection as drawn: who sends, who receives, their byte maps and the
    part of the stream shown (``lo``, ``hi``; ``cut`` when a window runs on beyond ``hi``)."""

    def __init__(self, trace, snap: Snapshot, sender: int, receiver: int | None) -> None:
        self.sender = sender
        self.receiver = receiver
        info = trace.conns[sender]
        self.iss = info.iss
        self.snd_state = snap.conn(sender)
        self.rcv_state = snap.conn(receiver) if receiver is not None else None
        self.snd = sender_map(self.snd_state, self.iss)
        base = self.iss
        self.rcv = receiver_map(self.rcv_state, base) if self.rcv_state is not None \
            else ByteMap(base or 0, (), {}, {})
        self.lo, self.hi, self.cut = interesting_range(self.snd, self.rcv)
        self.has_data = bool(self.snd_state.written or self.snd.spans or self.rcv.spans)
        #: Something is on its way or waiting: bytes unacknowledged, unsent, unread or missing.
        self.busy = any(sp.kind in BUSY for sp in self.snd.spans + self.rcv.spans)
        #: Drawn as one line (set by the view: no data yet, or idle next to a busy direction).
        self.compact = not self.has_data

    def idle_text(self) -> str:
        """The one line of a compact direction."""
        if not self.has_data:
            return "no data written in this direction yet"
        parts = [f"idle: all {self.snd_state.written} bytes written were acknowledged and read"]
        for m, name in ((self.snd, "SND.WND"), (self.rcv, "RCV.WND")):
            if name in m.windows:
                a, b = m.windows[name]
                parts.append(f"{name} {b - a}")
        return " · ".join(parts)

    def summary(self) -> str:
        s = self.snd_state
        parts = [f"ISS {self.iss}"] if self.iss is not None else []
        parts.append(f"{s.written} B written")
        totals = {}
        for sp in self.snd.spans:
            totals[sp.kind] = totals.get(sp.kind, 0) + sp.size
        for kind in ("acked", "in_flight", "retransmitted", "sacked", "unsent"):
            if totals.get(kind):
                parts.append(f"{totals[kind]} {KIND_SHORT[kind]}")
        if self.rcv_state is not None:
            r = self.rcv_state
            parts.append(f"{r.read} read")
            if r.unread:
                parts.append(f"{r.unread} unread")
            if r.ooo_bytes:
                parts.append(f"{r.ooo_bytes} out of order")
        return " · ".join(parts)


class ByteMapCanvas(QWidget):
    """Paints the directions of :class:`BuffersView`; keeps hit areas for tooltips."""

    def __init__(self, view: "BuffersView") -> None:
        super().__init__()
        self.view = view
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self._hits: list[tuple[QRectF, str]] = []

    def sizeHint(self) -> QSize:
        return QSize(640, 360)

    def minimumSizeHint(self) -> QSize:
        return QSize(320, self.minimumHeight() or 200)

    # -- hit testing -------------------------------------------------------------------------------
    def tooltip_at(self, pos: QPointF) -> str | None:
        """The tooltip text at ``pos`` (a byte range, a marker or a window), or None."""
        for rect, text in reversed(self._hits):
            if rect.contains(pos):
                return text
        return None

    def event(self, ev) -> bool:
        if ev.type() == QEvent.ToolTip:
            text = self.tooltip_at(QPointF(ev.pos()))
            if text:
                QToolTip.showText(ev.globalPos(), text, self)
            else:
                QToolTip.hideText()
                ev.ignore()
            return True
        return super().event(ev)

    # -- layout ---------------------------------------------------------------------------------------
    def _geometry(self, fm: QFontMetricsF, trace) -> tuple[float, float, float]:
        """Left edge, label column width and plot width (from the widget's width)."""
        left = 8.0
        texts = ["rel. seq"]
        for d in self.view.directions:
            texts += [self._row_label(trace, d, True), self._row_label(trace, d, False),
                      self._axis_label(d)]
        label_w = max(fm.horizontalAdvance(t) for t in texts) + 14
        return left, label_w, max(10.0, self.width() - 14.0 - left - label_w)

    def _mapper(self, d: Direction, x0: float, w: float):
        lo, hi = d.lo, d.hi

        def X(rel: float) -> float:
            return x0 + (min(max(rel, lo), hi) - lo) / (hi - lo) * w
        return X

    def _block_height(self, fm: QFontMetricsF, d: Direction, X, x0: float, x1: float,
                      bar_h: float) -> float:
        h = fm.height()
        if d.compact:
            return h * 1.6
        ls = len(self._levels(fm, d.snd, X, x0, x1)[1]) or 1
        lr = len(self._levels(fm, d.rcv, X, x0, x1)[1]) or 1
        return h * (1.4 + ls + 1.05 + 0.35 + 1.05 + lr + 1.0 + 1.2) + 2 * bar_h + 16

    # -- painting -------------------------------------------------------------------------------------
    def paintEvent(self, _ev) -> None:
        view = self.view
        th = view.theme
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.fillRect(self.rect(), th.color("base"))
        self._hits = []
        font = view_font(self)
        bold = view_font(self, 1.08, True)
        fm = QFontMetricsF(font)
        h = fm.height()
        dirs = view.directions
        trace = view.context.trace
        if trace is None or not dirs:
            p.setFont(font)
            p.setPen(th.color("muted"))
            p.drawText(QRectF(self.rect()), Qt.AlignCenter,
                       "No connection yet: the byte maps appear once a connection opens.")
            return
        left, label_w, w = self._geometry(fm, trace)
        x0, x1 = left + label_w, left + label_w + w
        mappers = [self._mapper(d, x0, w) for d in dirs]
        legend_h = self._legend_height(fm, self.width() - 16)
        nfull = sum(1 for d in dirs if not d.compact)
        base = 12 + legend_h + sum(self._block_height(fm, d, X, x0, x1, 0.0)
                                   for d, X in zip(dirs, mappers))
        bar_h = h * 1.6
        if nfull:
            bar_h = min(h * 7, max(h * 1.6, (self.height() - base) / (2 * nfull)))
        need = int(base + 2 * nfull * h * 1.6)
        if self.minimumHeight() != need:
            self.setMinimumHeight(need)
        gap = max(0.0, (self.height() - base - 2 * nfull * bar_h) / max(1, len(dirs) + 1))
        gap = min(gap, h * 4)
        y = 6.0
        for i, (d, X) in enumerate(zip(dirs, mappers)):
            if i:
                p.setPen(QPen(th.color("grid"), 1))
                p.drawLine(QPointF(left, y - h * 0.5 + gap / 2), QPointF(x1, y - h * 0.5 + gap / 2))
                y += gap
            if d.compact:
                p.setFont(bold)
                p.setPen(th.color("text"))
                title = self._title(trace, d)
                p.drawText(QRectF(8, y, self.width() - 16, h * 1.3), Qt.AlignLeft | Qt.AlignVCenter,
                           f"{title}:")
                tw = QFontMetricsF(bold).horizontalAdvance(title + ": ")
                p.setFont(font)
                p.setPen(th.color("muted"))
                rest = QRectF(8 + tw, y, max(0.0, self.width() - 16 - tw), h * 1.3)
                text = d.idle_text()
                p.drawText(rest, Qt.AlignLeft | Qt.AlignVCenter,
                           fm.elidedText(text, Qt.ElideRight, rest.width()))
                self._hits.append((QRectF(8, y, self.width() - 16, h * 1.3), f"{title}: {text}"))
                y += h * 1.6
                continue
            y = self._direction(p, d, X, y, font, bold, left, label_w, x0, x1, bar_h)
        self._legend(p, fm, font, max(y + h * 0.2, self.height() - legend_h - 4))
        p.end()

    def _title(self, trace, d: Direction) -> str:
        to = conn_name(trace, d.receiver) if d.receiver is not None else "?"
        return f"{conn_name(trace, d.sender)} → {to}"

    def _row_label(self, trace, d: Direction, sender: bool) -> str:
        if sender:
            return f"{trace.nodes[trace.conns[d.sender].node]} sends"
        if d.receiver is None:
            return "receiver"
        return f"{trace.nodes[trace.conns[d.receiver].node]} receives"

    def _axis_label(self, d: Direction) -> str:
        return "rel. seq"

    def _direction(self, p: QPainter, d: Direction, X, y: float, font: QFont, bold: QFont,
                   left: float, label_w: float, x0: float, x1: float, bar_h: float) -> float:
        th = self.view.theme
        trace = self.view.context.trace
        fm = QFontMetricsF(font)
        h = fm.height()
        w = x1 - x0
        lo, hi = d.lo, d.hi
        # title and summary
        p.setFont(bold)
        p.setPen(th.color("text"))
        title = self._title(trace, d)
        p.drawText(QRectF(left, y, w + label_w, h * 1.3), Qt.AlignLeft | Qt.AlignVCenter, title)
        tw = QFontMetricsF(bold).horizontalAdvance(title) + 14
        p.setFont(font)
        p.setPen(th.color("muted"))
        p.drawText(QRectF(left + tw, y, max(0.0, w + label_w - tw), h * 1.3),
                   Qt.AlignLeft | Qt.AlignVCenter, fm.elidedText(d.summary(), Qt.ElideRight,
                                                                  max(0.0, w + label_w - tw)))
        y += h * 1.4
        # sender markers (labels above the bar)
        y = self._marker_labels(p, fm, d.snd, X, y, above=True, x_lo=x0, x_hi=x1)
        bar_top = y
        self._bar(p, d.snd, X, x0, w, bar_top, bar_h, lo, hi, sender=True)
        self._row_text(p, fm, self._row_label(trace, d, True), left, bar_top, label_w, bar_h)
        y = bar_top + bar_h + 2
        y = self._windows(p, fm, d.snd, X, x0, x1, y, ("SND.WND",), lo, hi)
        self._marker_lines(p, d.snd, X, bar_top - 2, bar_top + bar_h + 2, lo, hi)
        y += h * 0.35
        rbar_top = y
        self._bar(p, d.rcv, X, x0, w, rbar_top, bar_h, lo, hi, sender=False)
        self._row_text(p, fm, self._row_label(trace, d, False), left, rbar_top, label_w, bar_h)
        y = rbar_top + bar_h + 2
        y = self._windows(p, fm, d.rcv, X, x0, x1, y, ("RCV.WND",), lo, hi)
        self._marker_lines(p, d.rcv, X, rbar_top - 2, rbar_top + bar_h + 2, lo, hi)
        y = self._marker_labels(p, fm, d.rcv, X, y, above=False, x_lo=x0, x_hi=x1)
        y = self._axis(p, fm, d, X, x0, x1, y, left, label_w)
        return y + h * 1.2

    def _row_text(self, p, fm, text, left, top, label_w, bar_h) -> None:
        p.setPen(self.view.theme.color("text"))
        p.drawText(QRectF(left, top, label_w - 8, bar_h), Qt.AlignRight | Qt.AlignVCenter, text)

    def _bar(self, p: QPainter, m: ByteMap, X, x0: float, w: float, top: float, bar_h: float,
             lo: int, hi: int, sender: bool) -> None:
        th = self.view.theme
        rect = QRectF(x0, top, w, bar_h)
        p.setPen(Qt.NoPen)
        p.setBrush(th.color("grid"))
        p.drawRect(rect)
        for sp in m.spans:
            if sp.end <= lo or sp.start >= hi:
                continue
            a, b = X(sp.start), X(sp.end)
            if b - a < 2:
                b = a + 2
            r = QRectF(a, top, b - a, bar_h)
            name, alpha, pattern = KIND_STYLE[sp.kind]
            color = with_alpha(th.color(name), alpha)
            if pattern != Qt.SolidPattern:
                p.setBrush(with_alpha(th.color(name), 40))
                p.drawRect(r)
            p.setBrush(QBrush(color, pattern))
            p.drawRect(r)
            first, last = sp.start, sp.end - 1
            self._hits.append((r, f"{KIND_MEANING[sp.kind]}\n{sp.size} bytes: relative "
                                  f"{first}–{last}\nsequence numbers {m.absolute(first)}–"
                                  f"{m.absolute(last)}"))
            size_text = f"{sp.size}"
            roomy = b - a > QFontMetricsF(p.font()).horizontalAdvance(size_text) + 8
            if roomy and sp.kind not in ("acked", "read"):
                p.setPen(th.color("text") if pattern != Qt.SolidPattern else text_on(color, th))
                p.drawText(r, Qt.AlignCenter, size_text)
                p.setPen(Qt.NoPen)
        usable = m.windows.get("usable")
        if usable is not None and usable[1] > usable[0] and usable[1] > lo and usable[0] < hi:
            # RFC 9293 3.3.1 Figure 3 / RFC 5681 2: what may be sent now, over the bytes
            a, b = usable
            xa, xb = X(a), X(b)
            r = QRectF(xa, top + 1, max(2.0, xb - xa), bar_h - 2)
            sel = th.color("link_selected")
            p.setPen(QPen(sel, 2, Qt.DashLine))
            p.setBrush(QBrush(with_alpha(sel, 70), Qt.Dense5Pattern))
            p.drawRect(r)
            text = f"usable {b - a}"
            fm = QFontMetricsF(p.font())
            if r.width() > fm.horizontalAdvance(text) + 8:
                p.setPen(th.color("text"))
                p.drawText(r, Qt.AlignCenter, text)
            self._hits.append((r, f"{WINDOW_MEANING['usable']}\n{b - a} bytes: relative "
                                  f"{a}–{b - 1}\nsequence numbers {m.absolute(a)}–"
                                  f"{m.absolute(b - 1)}"))
        p.setPen(QPen(th.color("muted"), 1))
        p.setBrush(Qt.NoBrush)
        p.drawRect(rect)
        if lo > 1:
            # bytes before the shown part: say so at the left edge
            p.setPen(th.color("muted"))
            p.drawText(QRectF(x0 + 3, top, 40, bar_h), Qt.AlignLeft | Qt.AlignVCenter, "◀")

    def _marker_lines(self, p: QPainter, m: ByteMap, X, top: float, bottom: float, lo, hi) -> None:
        th = self.view.theme
        p.setPen(QPen(th.color("text"), 2))
        for _name, rel in m.markers.items():
            if lo <= rel <= hi:
                x = X(rel)
                p.drawLine(QPointF(x, top), QPointF(x, bottom))

    def _levels(self, fm: QFontMetricsF, m: ByteMap, X, x_lo: float, x_hi: float):
        """Place the marker labels in as few rows as keep them apart: (placed, row ends)."""
        levels: list[float] = []
        placed = []
        for name, rel in sorted(m.markers.items(), key=lambda kv: (kv[1], kv[0])):
            text = f"{name} {rel}"
            tw = fm.horizontalAdvance(text) + 8
            x = X(rel)
            a = min(max(x - tw / 2, x_lo - 4), x_hi - tw + 4)
            for lvl, right in enumerate(levels):
                if a >= right:
                    levels[lvl] = a + tw
                    break
            else:
                lvl = len(levels)
                levels.append(a + tw)
            placed.append((name, rel, text, x, a, tw, lvl))
        return placed, levels

    def _marker_labels(self, p: QPainter, fm: QFontMetricsF, m: ByteMap, X, y: float,
                       above: bool, x_lo: float, x_hi: float) -> float:
        """Draw the marker labels (above or below a bar); returns the y below them."""
        th = self.view.theme
        h = fm.height()
        placed, levels = self._levels(fm, m, X, x_lo, x_hi)
        nlev = max(1, len(levels))
        for name, rel, text, x, a, tw, lvl in placed:
            row = (nlev - 1 - lvl) if above else lvl
            top = y + row * h
            r = QRectF(a, top, tw, h)
            p.setPen(th.color("text"))
            p.drawText(r, Qt.AlignCenter, text)
            # a thin leader from the label to the marker line
            p.setPen(QPen(th.color("muted"), 1, Qt.DotLine))
            ly = top + h if above else top
            end = y + nlev * h if above else y
            p.drawLine(QPointF(x, ly), QPointF(x, end))
            self._hits.append((r, f"{name} = {rel} (sequence number {m.absolute(rel)}): "
                                  f"{MARKER_MEANING.get(name, '')}"))
        return y + nlev * h

    def _windows(self, p: QPainter, fm: QFontMetricsF, m: ByteMap, X, x0: float, x1: float,
                 y: float, names: tuple, lo: int, hi: int) -> float:
        """The band under a bar: the SND.WND or RCV.WND window as an outlined box, with an arrow
        and its end when it runs on beyond the part shown."""
        th = self.view.theme
        h = fm.height()
        band = QRectF(x0, y, x1 - x0, h * 1.05)
        sel = th.color("link_selected")
        for name in names:
            if name not in m.windows:
                continue
            a, b = m.windows[name]
            if b <= lo or a >= hi:
                continue
            xa, xb = X(a), X(b)
            r = QRectF(xa, band.top(), max(2.0, xb - xa), band.height())
            p.setPen(QPen(sel, 1.5))
            p.setBrush(with_alpha(sel, 28))
            p.drawRect(r)
            text = f"{name} {b - a}"
            if b > hi:
                # the window runs on beyond the part shown
                tip = QPolygonF([QPointF(x1 + 2, band.center().y()),
                                 QPointF(x1 - 6, band.top() + 2),
                                 QPointF(x1 - 6, band.bottom() - 2)])
                p.setBrush(sel)
                p.drawPolygon(tip)
                text += f", to {b} ▶"
            p.setPen(th.color("text"))
            tw = fm.horizontalAdvance(text) + 8
            if r.width() >= tw:
                p.drawText(r.adjusted(4, 0, -4, 0), Qt.AlignLeft | Qt.AlignVCenter, text)
            elif r.left() - x0 >= tw:
                p.drawText(QRectF(r.left() - tw, r.top(), tw - 2, r.height()),
                           Qt.AlignRight | Qt.AlignVCenter, text)
            else:
                p.drawText(QRectF(r.right() + 4, r.top(), tw, r.height()),
                           Qt.AlignLeft | Qt.AlignVCenter, text)
            self._hits.append((r, f"{WINDOW_MEANING[name]}\n{b - a} bytes: relative {a}–{b - 1}"
                                  f"\nsequence numbers {m.absolute(a)}–{m.absolute(b - 1)}"))
        return band.bottom() + 2

    def _axis(self, p: QPainter, fm: QFontMetricsF, d: Direction, X, x0: float, x1: float,
              y: float, left: float, label_w: float) -> float:
        th = self.view.theme
        h = fm.height()
        lo, hi = d.lo, d.hi
        p.setPen(QPen(th.color("muted"), 1))
        p.drawLine(QPointF(x0, y + 2), QPointF(x1, y + 2))
        widest = fm.horizontalAdvance(f"{hi:,}") + 24
        step = nice_step(hi - lo, max(1.0, (x1 - x0) / widest))
        first = ((lo + step - 1) // step) * step
        tick = first
        while tick <= hi:
            x = X(tick)
            p.drawLine(QPointF(x, y + 2), QPointF(x, y + 6))
            text = f"{tick:,}"
            tw = fm.horizontalAdvance(text)
            a = min(max(x - tw / 2, x0 - 4), x1 - tw + 4)
            p.drawText(QRectF(a, y + 6, tw + 2, h), Qt.AlignCenter, text)
            tick += step
        p.setPen(th.color("muted"))
        p.drawText(QRectF(left, y + 6, label_w - 8, h), Qt.AlignRight | Qt.AlignVCenter,
                   self._axis_label(d))
        if d.iss is not None:
            self._hits.append((QRectF(left, y, x1 - left, h + 6),
                               f"relative sequence numbers: r stands for sequence number "
                               f"(ISS + r) mod 2^32, ISS = {d.iss}; byte 1 is the first data "
                               f"byte, the SYN took {d.iss} (RFC 9293 3.4)"))
        return y + 6 + h

    def _legend_items(self) -> list[tuple[str, str]]:
        """Legend entries for what the full directions draw."""
        kinds: set[str] = set()
        usable = window = False
        for d in self.view.directions:
            if d.compact:
                continue
            for m in (d.snd, d.rcv):
                kinds.update(sp.kind for sp in m.spans if sp.end > d.lo and sp.start < d.hi)
                window = window or any(k != "usable" for k in m.windows)
            u = d.snd.windows.get("usable")
            usable = usable or (u is not None and u[1] > u[0])
        order = ("acked", "in_flight", "retransmitted", "sacked", "unsent", "read", "unread",
                 "ooo", "hole")
        items = [(k, KIND_SHORT[k]) for k in order if k in kinds]
        if usable:
            items.append(("usable", "usable window"))
        if window:
            items.append(("window", "window"))
        return items

    def _legend_height(self, fm: QFontMetricsF, width: float) -> float:
        items = self._legend_items()
        if not items:
            return 0.0
        x, rows = 0.0, 1
        for _k, text in items:
            w = fm.height() * 1.4 + fm.horizontalAdvance(text) + 16
            if x + w > width and x > 0:
                rows += 1
                x = 0.0
            x += w
        return rows * fm.height() * 1.3

    def _legend(self, p: QPainter, fm: QFontMetricsF, font: QFont, y: float) -> None:
        th = self.view.theme
        h = fm.height()
        x = 8.0
        p.setFont(font)
        for kind, text in self._legend_items():
            w = h * 1.4 + fm.horizontalAdvance(text) + 16
            if x + w > self.width() - 8 and x > 8:
                x = 8.0
                y += h * 1.3
            sw = QRectF(x, y + h * 0.15, h * 1.1, h * 0.75)
            sel = th.color("link_selected")
            if kind == "usable":
                p.setPen(QPen(sel, 2, Qt.DashLine))
                p.setBrush(QBrush(with_alpha(sel, 70), Qt.Dense5Pattern))
            elif kind == "window":
                p.setPen(QPen(sel, 1.5))
                p.setBrush(with_alpha(sel, 28))
            else:
                name, alpha, pattern = KIND_STYLE[kind]
                p.setPen(Qt.NoPen)
                if pattern != Qt.SolidPattern:
                    p.setBrush(with_alpha(th.color(name), 40))
                    p.drawRect(sw)
                p.setBrush(QBrush(with_alpha(th.color(name), alpha), pattern))
            p.drawRect(sw)
            p.setPen(th.color("text"))
            p.drawText(QRectF(sw.right() + 4, y, w, h), Qt.AlignLeft | Qt.AlignVCenter, text)
            x += w


class BuffersView(ConnectionView):
    """The byte maps of the selected connection, both directions (see the module docstring).

    ``directions`` lists the :class:`Direction` objects drawn, the selected endpoint sending
    first; ``canvas.tooltip_at(point)`` gives the text a hover shows there."""

    title = "Buffers"
    source = "buffers"

    def __init__(self, context, parent: QWidget | None = None) -> None:
        self.directions: list[Direction] = []
        self.canvas = None
        super().__init__(context, parent)
        self.canvas = ByteMapCanvas(self)
        self.set_body(self.canvas, scroll=True)
        self.refreshed()

    def refreshed(self) -> None:
        trace = self.context.trace
        snap = self.snapshot
        self.directions = []
        if trace is not None and snap is not None and self.conn is not None:
            me, peer = self.endpoints()
            self.directions.append(Direction(trace, snap, me, peer))
            if peer is not None:
                self.directions.append(Direction(trace, snap, peer, me))
            # an idle direction next to a busy one takes a single line
            if any(d.busy for d in self.directions):
                for d in self.directions:
                    d.compact = d.compact or not d.busy
        if self.canvas is not None:
            self.canvas.updateGeometry()

    def direction_from(self, cid: int) -> Direction | None:
        """The direction in which endpoint ``cid`` sends (None if not shown)."""
        for d in self.directions:
            if d.sender == cid:
                return d
        return None
