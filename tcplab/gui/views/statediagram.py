"""The State view: the TCP connection state diagram of RFC 9293 (3.3.2, Figure 5), one per
endpoint of the selected connection, side by side.

The eleven states sit where the RFC's figure puts them (CLOSED drawn twice, at the top where a
connection starts and at the bottom right where it ends, as in the figure); every transition
of the figure is an arrow labelled with its event and action, "rcv SYN / snd SYN,ACK". The
state at the cursor is filled; the transition just taken (the last STATE row at or before the
cursor) is drawn bold and, when it changes, animated by a dot running along its arrow; under
the title a caption says when it happened and what caused it: the segment (the STATE row's
``c`` field is the uid of the packet that caused it) or the application call or timer.

Transitions the figure leaves out (notes 2 and 3 of the figure: a FIN that also acknowledges
ours, resets, aborts, timeouts, a crashed host) are drawn dashed when taken.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QEasingCurve, QPointF, QRectF, QSize, Qt, QVariantAnimation
from PySide6.QtGui import QFontMetricsF, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from tcplab.gui.views.buffers import (ConnectionView, begin_paint, conn_name, text_on, view_font,
                                      with_alpha)
from tcplab.net.packet import RST, flags_str
from tcplab.sim.clock import fmt_time
from tcplab.trace.events import Detection, EventKind, TcpState, TimerKind
from tcplab.trace.narrate import STATE_MEANING, TIMER_NAME, Narrator
from tcplab.trace.snapshot import ConnSnapshot

S = TcpState

#: Grid position (column 0-2, row 0-6) of each box, as in RFC 9293 Figure 5. ``CLOSED`` is the
#: starting box at the top, ``CLOSED_END`` the one the closing states lead to.
POSITION = {
    "CLOSED": (1, 0), "LISTEN": (1, 1), "SYN_RECEIVED": (0, 2), "SYN_SENT": (2, 2),
    "ESTABLISHED": (1, 3), "FIN_WAIT_1": (0, 4), "CLOSE_WAIT": (2, 4), "FIN_WAIT_2": (0, 5),
    "CLOSING": (1, 5), "LAST_ACK": (2, 5), "TIME_WAIT": (1, 6), "CLOSED_END": (2, 6),
}
#: The figure's own short names, used when a box is too narrow for the full one.
SHORT = {"SYN_RECEIVED": "SYN-RCVD", "ESTABLISHED": "ESTAB", "FIN_WAIT_1": "FINWAIT-1",
         "FIN_WAIT_2": "FINWAIT-2", "CLOSE_WAIT": "CLOSE-WAIT", "TIME_WAIT": "TIME-WAIT",
         "LAST_ACK": "LAST-ACK", "SYN_SENT": "SYN-SENT"}


def box_label(key: str) -> str:
    return "CLOSED" if key == "CLOSED_END" else S[key].label


@dataclass(frozen=True)
class Transition:
    """An arrow of the diagram: from box ``src`` to box ``dst`` on ``event``, doing ``action``
    ("x" in the figure: nothing). ``bend`` curves it (a share of its length, to keep two arrows
    between the same boxes apart); ``label_shift`` moves its label, in grid units."""

    src: str
    dst: str
    event: str
    action: str
    bend: float = 0.0
    label_shift: tuple[float, float] = (0.0, 0.0)
    in_figure: bool = True

    @property
    def label(self) -> str:
        return f"{self.event} / {self.action}" if self.action else self.event

    @property
    def lines(self) -> list[str]:
        return [self.event] + ([self.action] if self.action else [])


#: The transitions of RFC 9293 Figure 5 (section 3.3.2), with the figure's event / action.
FIGURE_5 = (
    Transition("CLOSED", "LISTEN", "passive OPEN", "create TCB", 0.28, (-0.28, 0.0)),
    Transition("LISTEN", "CLOSED", "CLOSE", "delete TCB", 0.28, (0.22, 0.0)),
    Transition("CLOSED", "SYN_SENT", "active OPEN", "create TCB, snd SYN", -0.24, (0.2, -0.12)),
    Transition("SYN_SENT", "CLOSED", "CLOSE", "delete TCB", 0.0, (-0.02, 0.0)),
    Transition("LISTEN", "SYN_RECEIVED", "rcv SYN", "snd SYN,ACK", 0.14, (-0.15, -0.18)),
    Transition("SYN_RECEIVED", "LISTEN", "rcv RST", "(note 1)", 0.14, (0.05, 0.12)),
    Transition("LISTEN", "SYN_SENT", "SEND", "snd SYN", 0.0, (-0.05, 0.12)),
    Transition("SYN_SENT", "SYN_RECEIVED", "rcv SYN", "snd SYN,ACK", 0.0, (0.0, 0.22)),
    Transition("SYN_RECEIVED", "ESTABLISHED", "rcv ACK of SYN", "x", 0.0, (-0.12, 0.0)),
    Transition("SYN_SENT", "ESTABLISHED", "rcv SYN,ACK", "snd ACK", 0.0, (0.12, 0.0)),
    Transition("SYN_RECEIVED", "FIN_WAIT_1", "CLOSE", "snd FIN", 0.0, (-0.02, 0.0)),
    Transition("ESTABLISHED", "FIN_WAIT_1", "CLOSE", "snd FIN", 0.0, (0.1, -0.05)),
    Transition("ESTABLISHED", "CLOSE_WAIT", "rcv FIN", "snd ACK", 0.0, (-0.1, -0.05)),
    Transition("FIN_WAIT_1", "FIN_WAIT_2", "rcv ACK of FIN", "x", 0.0, (0.0, 0.0)),
    Transition("FIN_WAIT_1", "CLOSING", "rcv FIN", "snd ACK", 0.0, (0.12, -0.12)),
    Transition("FIN_WAIT_2", "TIME_WAIT", "rcv FIN", "snd ACK", 0.0, (-0.12, 0.08)),
    Transition("CLOSING", "TIME_WAIT", "rcv ACK of FIN", "x", 0.0, (0.0, 0.0)),
    Transition("CLOSE_WAIT", "LAST_ACK", "CLOSE", "snd FIN", 0.0, (0.0, 0.0)),
    Transition("LAST_ACK", "CLOSED_END", "rcv ACK of FIN", "x", 0.0, (0.0, 0.0)),
    Transition("TIME_WAIT", "CLOSED_END", "Timeout=2MSL", "delete TCB", 0.0, (0.0, -0.45)),
)
_BY_PAIR = {(tr.src, tr.dst): tr for tr in FIGURE_5}

#: Transitions the figure omits but names in its notes.
NOTE_2 = Transition("FIN_WAIT_1", "TIME_WAIT", "rcv FIN, ACK of FIN", "snd ACK (note 2)",
                    0.18, (0.0, 0.0), in_figure=False)

#: States from which a transition to CLOSED lands on the top CLOSED box.
_EARLY = frozenset({S.CLOSED, S.LISTEN, S.SYN_SENT, S.SYN_RECEIVED})


def box_of(state: TcpState, came_from: TcpState | None) -> str:
    """The box that stands for ``state`` (entered from ``came_from``)."""
    if state == S.CLOSED and came_from is not None and came_from not in _EARLY:
        return "CLOSED_END"
    return state.name


@dataclass(frozen=True)
class Cause:
    """What made a STATE row happen: a segment (``uid``, ``received``) or something else."""

    text: str
    uid: int = -1
    received: bool = False
    flags: int = 0
    what: str = ""          # "segment", "call", "timer", "crash", "dead", ""


def cause_of(trace, row: int, narrator: Narrator | None = None) -> Cause:
    """Why STATE row ``row`` happened, in words (from its ``c`` packet uid, or the row of the
    same instant and connection that explains it: an application call, a timer, a crash)."""
    conn = trace.conn[row]
    uid = trace.c[row]
    info = trace.conns[conn] if conn >= 0 else None
    if 0 <= uid < len(trace.packets) and info is not None:
        pkt = trace.packets[uid]
        received = pkt.src != info.local_ip
        seg = pkt.segment
        label = narrator.packet_label(uid) if narrator else f"{flags_str(seg.flags)} seq={seg.seq}"
        peer = _node_of_ip(trace, pkt.src if received else pkt.dst)
        text = (f"{'received' if received else 'sent'} {label} (packet #{uid}) "
                f"{'from' if received else 'to'} {peer}")
        return Cause(text, uid, received, seg.flags, "segment")
    t = trace.t[row]
    j = row - 1
    while j >= 0 and trace.t[j] == t and row - j < 200:
        kind = trace.kind[j]
        if trace.conn[j] == conn:
            if kind == EventKind.APP_CALL:
                call = {0: "CLOSE", 1: "ABORT", 2: "OPEN (active)", 3: "OPEN (passive)"}.get(
                    trace.a[j], "call")
                return Cause(f"the application's {call} call (RFC 9293 3.10)", what="call")
            if kind == EventKind.TIMER_EXPIRE:
                name = TIMER_NAME.get(TimerKind(trace.a[j]), "timer")
                return Cause(f"the {name} expiring", what="timer")
            if kind == EventKind.DETECT and trace.a[j] == Detection.PEER_DEAD:
                return Cause("giving up on a silent peer (RFC 9293 3.8.3)", what="dead")
        if kind == EventKind.NODE and info is not None and trace.node[j] == info.node \
                and trace.a[j] == 0:
            return Cause("its host crashing", what="crash")
        j -= 1
    return Cause("")


def _node_of_ip(trace, ip: int) -> str:
    for c in trace.conns:
        if c.local_ip == ip:
            return trace.nodes[c.node]
    return "the peer"


def transition_for(old: TcpState, new: TcpState, cause: Cause) -> Transition:
    """The arrow for a change ``old`` -> ``new``: the figure's when it has one, else a dashed
    arrow labelled with what caused it."""
    src = old.name
    dst = box_of(new, old)
    found = _BY_PAIR.get((src, dst))
    if found is not None:
        return found
    if (src, dst) == (NOTE_2.src, NOTE_2.dst):
        return NOTE_2
    if cause.what == "segment" and cause.received and cause.flags & RST:
        event, action = "rcv RST", "(note 3)"
    elif cause.what == "segment" and not cause.received and cause.flags & RST:
        event, action = "ABORT", "snd RST"
    elif cause.what == "call":
        event, action = cause.text.split("'s ")[-1].split(" call")[0], ""
    elif cause.what == "timer":
        event, action = "timeout", "delete TCB"
    elif cause.what == "crash":
        event, action = "host crash", ""
    elif cause.what == "dead":
        event, action = "user timeout", "delete TCB"
    else:
        event, action = "(not in Figure 5)", ""
    return Transition(src, dst, event, action, 0.2, (0.0, 0.0), in_figure=False)


@dataclass(frozen=True)
class EndpointDiagram:
    """What one diagram shows: endpoint ``conn`` in ``state`` (box ``box``); ``last`` is the
    transition just taken (None before any), taken at row ``row`` and time ``t``, ``cause``
    says why."""

    conn: int
    state: TcpState
    box: str
    last: Transition | None
    row: int
    t: int
    cause: Cause


def endpoint_diagram(trace, s: ConnSnapshot, narrator: Narrator | None = None) -> EndpointDiagram:
    if s.state_row < 0:
        return EndpointDiagram(s.conn, s.state, box_of(s.state, None), None, -1, 0, Cause(""))
    cause = cause_of(trace, s.state_row, narrator)
    last = transition_for(s.prev_state, s.state, cause)
    return EndpointDiagram(s.conn, s.state, last.dst, last, s.state_row,
                           trace.t[s.state_row], cause)


# ------------------------------------------------------------------------------------- drawing
def _border_point(c: QPointF, hw: float, hh: float, toward: QPointF) -> QPointF:
    """Where the ray from the centre ``c`` of a ``2hw`` x ``2hh`` box toward ``toward`` leaves it."""
    dx, dy = toward.x() - c.x(), toward.y() - c.y()
    if dx == 0 and dy == 0:
        return QPointF(c)
    tx = hw / abs(dx) if dx else math.inf
    ty = hh / abs(dy) if dy else math.inf
    t = min(tx, ty)
    return QPointF(c.x() + dx * t, c.y() + dy * t)


class _Geometry:
    """Pixel geometry of one diagram in ``rect``."""

    def __init__(self, rect: QRectF, fm: QFontMetricsF) -> None:
        self.rect = rect
        self.col_w = rect.width() / 3
        self.row_h = rect.height() / 7
        h = fm.height()
        full = max(fm.horizontalAdvance(S[k].label) for k in POSITION if k != "CLOSED_END") + 16
        self.box_w = min(self.col_w * 0.86, max(full, self.col_w * 0.62))
        self.short = self.box_w < full
        self.box_h = min(self.row_h * 0.62, h * 1.9)

    def center(self, key: str) -> QPointF:
        col, row = POSITION[key]
        return QPointF(self.rect.left() + (col + 0.5) * self.col_w,
                       self.rect.top() + (row + 0.5) * self.row_h)

    def box(self, key: str) -> QRectF:
        c = self.center(key)
        return QRectF(c.x() - self.box_w / 2, c.y() - self.box_h / 2, self.box_w, self.box_h)

    def path(self, tr: Transition) -> tuple[QPainterPath, QPointF, QPointF, QPointF]:
        """The arrow's curve, its end point, the control point and the label anchor."""
        a, b = self.center(tr.src), self.center(tr.dst)
        mid = QPointF((a.x() + b.x()) / 2, (a.y() + b.y()) / 2)
        dx, dy = b.x() - a.x(), b.y() - a.y()
        length = math.hypot(dx, dy) or 1.0
        nx, ny = -dy / length, dx / length
        ctrl = QPointF(mid.x() + nx * tr.bend * length, mid.y() + ny * tr.bend * length)
        hw, hh = self.box_w / 2 + 2, self.box_h / 2 + 2
        start = _border_point(a, hw, hh, ctrl)
        end = _border_point(b, hw, hh, ctrl)
        path = QPainterPath(start)
        path.quadTo(ctrl, end)
        at = path.pointAtPercent(0.5)
        at = QPointF(at.x() + tr.label_shift[0] * self.col_w,
                     at.y() + tr.label_shift[1] * self.row_h)
        return path, end, ctrl, at


class StateCanvas(QWidget):
    """Paints one diagram per endpoint of :class:`StateView`."""

    MIN_W = 340
    MIN_H = 330

    def __init__(self, view: "StateView") -> None:
        super().__init__()
        self.view = view
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        #: Whether every transition's label was drawn in the last paint (else only the
        #: transitions out of the current state and the one just taken).
        self.all_labels = True
        #: The transitions whose labels the last paint drew.
        self.labels_drawn: list[Transition] = []
        #: Endpoints drawn in full by the last paint, and the lines standing for the others.
        self.drawn: list[int] = []
        self.peer_lines: list[str] = []

    def sizeHint(self) -> QSize:
        return QSize(900, 520)

    def minimumSizeHint(self) -> QSize:
        return QSize(self.MIN_W, self.minimumHeight() or self.MIN_H)

    def paintEvent(self, _ev) -> None:
        view = self.view
        th = view.theme
        diagrams = view.diagrams()
        started = begin_paint(self, th, None if diagrams else "No connection yet: the state diagrams appear once a connection opens.")
        if started is None:
            return
        p, fm = started
        gap = 16.0
        h = fm.height()
        self.all_labels = True
        self.labels_drawn = []
        self.peer_lines = []
        if self.width() >= 2 * self.MIN_W + gap or len(diagrams) < 2:
            full, others = diagrams, []
        else:
            # too narrow for two: the selected endpoint in full, the other in one line
            full, others = diagrams[:1], diagrams[1:]
        self.drawn = [d.conn for d in full]
        bottom = self.height() - 4 - len(others) * h * 1.6
        need = int(self.MIN_H + len(others) * h * 1.6)
        if self.minimumHeight() != need:
            self.setMinimumHeight(need)
        n = len(full)
        w = (self.width() - gap * (n + 1)) / n
        rects = [QRectF(gap + i * (w + gap), 4, w, bottom - 4) for i in range(n)]
        # one caption height for all, so that the diagrams line up
        cap_h = max(self._caption_height(fm, d, r.width()) for d, r in zip(full, rects))
        for i, (d, rect) in enumerate(zip(full, rects)):
            if i:
                p.setPen(QPen(th.color("grid"), 1))
                x = rect.left() - gap / 2
                p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            self._diagram(p, fm, d, rect, cap_h)
        y = bottom
        for d in others:
            p.setPen(QPen(th.color("grid"), 1))
            p.drawLine(QPointF(gap, y + 2), QPointF(self.width() - gap, y + 2))
            text = self.peer_line(d)
            self.peer_lines.append(text)
            p.setPen(th.color("text"))
            p.drawText(QRectF(gap, y + 4, self.width() - 2 * gap, h * 1.4),
                       Qt.AlignLeft | Qt.AlignVCenter,
                       fm.elidedText(text, Qt.ElideRight, self.width() - 2 * gap))
            y += h * 1.6
        p.end()

    def peer_line(self, d: EndpointDiagram) -> str:
        """The one line that stands for a diagram there is no room for."""
        trace = self.view.context.trace
        text = f"{conn_name(trace, d.conn)} ({trace.conns[d.conn].role}): {d.state.label}"
        if d.last is not None:
            text += f", after {box_label(d.last.src)} → {d.state.label} at {fmt_time(d.t)}"
        return text + " (pick it above, or widen the view, to see its diagram)"

    def _caption_height(self, fm: QFontMetricsF, d: EndpointDiagram, width: float) -> float:
        return sum(fm.boundingRect(QRectF(0, 0, width, 1e6), Qt.TextWordWrap, t).height()
                   for t in self._caption_lines(d)) + fm.height() * 0.4

    def _caption_lines(self, d: EndpointDiagram) -> list[str]:
        lines = []
        if d.last is None:
            lines.append("No transition yet: a connection starts in CLOSED.")
        else:
            old = box_label(d.last.src)
            lines.append(f"At {fmt_time(d.t)}: {old} → {d.state.label}, {d.last.label}")
            if d.cause.text:
                lines.append(f"Caused by: {d.cause.text}.")
        return lines

    def _diagram(self, p: QPainter, fm: QFontMetricsF, d: EndpointDiagram, rect: QRectF,
                 cap_h: float) -> None:
        view = self.view
        th = view.theme
        trace = view.context.trace
        h = fm.height()
        bold = view_font(self, 1.08, True)
        bfm = QFontMetricsF(bold)
        info = trace.conns[d.conn]
        # title: who, and the state in words
        p.setFont(bold)
        p.setPen(th.color("text"))
        head = f"{conn_name(trace, d.conn)} ({info.role}) · {d.state.label}"
        p.drawText(QRectF(rect.left(), rect.top(), rect.width(), h * 1.4),
                   Qt.AlignLeft | Qt.AlignVCenter, bfm.elidedText(head, Qt.ElideRight, rect.width()))
        p.setFont(view_font(self))
        p.setPen(th.color("muted"))
        meaning = STATE_MEANING.get(d.state, "")
        p.drawText(QRectF(rect.left(), rect.top() + h * 1.3, rect.width(), h * 1.2),
                   Qt.AlignLeft | Qt.AlignVCenter, fm.elidedText(meaning, Qt.ElideRight, rect.width()))
        # under the title: when the last transition happened and what caused it (kept at the
        # top, where a small dock still shows it)
        lines = self._caption_lines(d)
        y = rect.top() + h * 2.6
        for k, text in enumerate(lines):
            r = fm.boundingRect(QRectF(0, 0, rect.width(), 1e6), Qt.TextWordWrap, text)
            p.setPen(th.color("text") if k == 0 else th.color("muted"))
            p.drawText(QRectF(rect.left(), y, rect.width(), r.height()), Qt.TextWordWrap, text)
            y += r.height()
        top = rect.top() + h * 2.6 + cap_h
        area = QRectF(rect.left(), top, rect.width(), rect.bottom() - top)
        if area.height() < h * 7:
            return
        g = _Geometry(area, fm)
        roomy = g.col_w >= 150 and g.row_h >= h * 3.4
        if not roomy:
            self.all_labels = False
        # arrows
        edges = list(FIGURE_5)
        if d.last is not None and not d.last.in_figure:
            edges.append(d.last)
        phase = view.phase(d.conn)
        accent = th.color("retx")
        normal = th.color("link")
        for tr in edges:
            taken = d.last is not None and tr == d.last
            path, end, ctrl, _at = g.path(tr)
            pen = QPen(accent if taken else normal, 3.2 if taken else 1.3)
            if not tr.in_figure:
                pen.setStyle(Qt.DashLine)
            p.setPen(pen)
            p.setBrush(Qt.NoBrush)
            p.drawPath(path)
            self._arrowhead(p, end, ctrl, accent if taken else normal, 11 if taken else 8)
            if taken and phase < 1.0:
                dot = path.pointAtPercent(phase)
                p.setPen(Qt.NoPen)
                p.setBrush(accent)
                p.drawEllipse(dot, 6, 6)
        # boxes
        for key in POSITION:
            r = g.box(key)
            current = key == d.box
            previous = d.last is not None and key == d.last.src and not current
            if current:
                p.setPen(QPen(th.color("link_selected"), 2.5))
                p.setBrush(th.color("link_selected"))
            else:
                p.setPen(QPen(accent if previous else th.color("muted"), 2 if previous else 1.2))
                p.setBrush(th.color("grid") if not previous else with_alpha(accent, 40))
            p.drawRoundedRect(r, 6, 6)
            label = SHORT.get(key, box_label(key)) if g.short else box_label(key)
            f = view_font(self, 1.0, current)
            p.setFont(f)
            p.setPen(text_on(th.color("link_selected"), th) if current else th.color("text"))
            p.drawText(r, Qt.AlignCenter, label)
        # labels: every one when there is room, else those out of the current box and the last
        # one taken; the one taken first, and none over another
        placed: list[QRectF] = []
        order = sorted(edges, key=lambda tr: not (d.last is not None and tr == d.last))
        for tr in order:
            taken = d.last is not None and tr == d.last
            if not (roomy or taken or tr.src == d.box):
                continue
            path, _end, _ctrl, at = g.path(tr)
            if roomy and tr.in_figure:
                lines = tr.lines
                r = self._label_rect(fm, lines, at, taken)
                if not taken and any(r.intersects(o) for o in placed):
                    continue
            else:
                # an arrow of our own, or a cramped diagram: slide the label along its arrow
                # to a spot clear of the boxes and of the labels already placed; none found,
                # it is left out (the caption names the transition just taken)
                found = None
                for lines in (tr.lines, [tr.label]):
                    for pct in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8):
                        cand = self._label_rect(fm, lines, path.pointAtPercent(pct), taken)
                        if not any(cand.intersects(g.box(k)) for k in POSITION) \
                                and not any(cand.intersects(o) for o in placed):
                            found = (lines, cand)
                            break
                    if found:
                        break
                if found is None:
                    self.all_labels = False
                    continue
                lines, r = found
            placed.append(r)
            self._edge_label(p, fm, lines, r, taken)
            self.labels_drawn.append(tr)
        p.setFont(view_font(self))

    def _arrowhead(self, p: QPainter, tip: QPointF, frm: QPointF, color, size: float) -> None:
        dx, dy = tip.x() - frm.x(), tip.y() - frm.y()
        length = math.hypot(dx, dy) or 1.0
        ux, uy = dx / length, dy / length
        left = QPointF(tip.x() - ux * size - uy * size * 0.5, tip.y() - uy * size + ux * size * 0.5)
        right = QPointF(tip.x() - ux * size + uy * size * 0.5, tip.y() - uy * size - ux * size * 0.5)
        p.setPen(Qt.NoPen)
        p.setBrush(color)
        p.drawPolygon(QPolygonF([tip, left, right]))

    def _label_rect(self, fm: QFontMetricsF, lines: list[str], at: QPointF, taken: bool) -> QRectF:
        f2 = QFontMetricsF(view_font(self, 1.0, taken))
        h = fm.height()
        w = max(f2.horizontalAdvance(t) for t in lines) + 8
        r = QRectF(at.x() - w / 2, at.y() - h * len(lines) / 2, w, h * len(lines))
        if r.left() < 2:
            r.moveLeft(2)
        if r.right() > self.width() - 2:
            r.moveRight(self.width() - 2)
        return r

    def _edge_label(self, p: QPainter, fm: QFontMetricsF, lines: list[str], r: QRectF,
                    taken: bool) -> None:
        """The event over the action, as the RFC writes them (one line "event / action" where
        two would not fit between the boxes)."""
        th = self.view.theme
        h = fm.height()
        p.setPen(QPen(th.color("retx"), 1.2) if taken else Qt.NoPen)
        p.setBrush(with_alpha(th.color("base"), 235))
        p.drawRoundedRect(r, 3, 3)
        p.setFont(view_font(self, 1.0, taken))
        p.setPen(th.color("text") if taken else th.color("muted"))
        for k, text in enumerate(lines):
            p.drawText(QRectF(r.left(), r.top() + k * h, r.width(), h), Qt.AlignCenter, text)
        p.setFont(view_font(self))


class StateView(ConnectionView):
    """RFC 9293 state diagrams of both endpoints at the cursor (see the module docstring).

    ``diagrams()`` returns the :class:`EndpointDiagram` of each endpoint as drawn, the selected
    one first."""

    title = "State"
    source = "state"
    ANIMATION_MS = 900

    def __init__(self, context, parent: QWidget | None = None) -> None:
        self.narrator: Narrator | None = None
        self.canvas = None
        self._last_rows: dict[int, int] = {}
        self._animating: set[int] = set()
        self._anim = None
        super().__init__(context, parent)
        self._anim = QVariantAnimation(self)
        self._anim.setStartValue(0.0)
        self._anim.setEndValue(1.0)
        self._anim.setDuration(self.ANIMATION_MS)
        self._anim.setEasingCurve(QEasingCurve.InOutQuad)
        self._anim.valueChanged.connect(lambda _v: self.canvas.update())
        self._anim.finished.connect(self._animation_done)
        self.canvas = StateCanvas(self)
        self.set_body(self.canvas, scroll=True)

    def _on_reset(self) -> None:
        trace = self.context.trace
        self.narrator = Narrator(trace) if trace is not None else None
        self._last_rows = {}
        super()._on_reset()

    def diagrams(self) -> list[EndpointDiagram]:
        snap = self.snapshot
        trace = self.context.trace
        if snap is None or trace is None or self.conn is None:
            return []
        return [endpoint_diagram(trace, snap.conn(cid), self.narrator)
                for cid in self.endpoints() if cid is not None]

    def phase(self, cid: int) -> float:
        """How far the animation of ``cid``'s last transition has run (1.0: at rest)."""
        if self._anim is None or cid not in self._animating:
            return 1.0
        value = self._anim.currentValue()
        return float(value) if value is not None else 1.0

    def refreshed(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        changed = set()
        for cid in self.endpoints():
            if cid is None:
                continue
            row = snap.conn(cid).state_row
            before = self._last_rows.get(cid)
            if before is not None and before != row and row >= 0:
                changed.add(cid)
            self._last_rows[cid] = row
        if changed and self._anim is not None and self.isVisible():
            self._animating = changed
            self._anim.stop()
            self._anim.start()

    def _animation_done(self) -> None:
        self._animating = set()
        if self.canvas is not None:
            self.canvas.update()
