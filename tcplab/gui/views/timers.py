"""The Timers view: every timer each endpoint of the selected connection runs, counting down.

One bar per running timer (retransmission with its backoff count, SYN retry, delayed ACK,
persist, keep-alive, TIME-WAIT): the bar is the share of the timeout still left at the cursor,
with the time left in simulated time and a sentence saying what the endpoint will do when it
runs out. A timer that just expired stays for :data:`FLASH_NS` of simulated time, empty and in
the flash colour, with the narration of its TIMER_EXPIRE row, so that a timeout is seen as it
happens (and, for the retransmission timer, next to the re-armed, doubled one).

Timers come from TIMER_ARM / TIMER_CANCEL / TIMER_EXPIRE rows through
:mod:`tcplab.trace.snapshot`; a timer armed again replaces the old one.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from tcplab.gui.views.buffers import (ConnectionView, begin_paint, conn_name, text_on, view_font,
                                      with_alpha)
from tcplab.sim.clock import fmt_duration, fmt_time
from tcplab.trace.events import TcpState, TimerKind
from tcplab.trace.narrate import Narrator
from tcplab.trace.snapshot import ConnSnapshot, RunningTimer, TimerExpiry

#: How long (simulated ns) an expired timer stays shown, flashing, after its TIMER_EXPIRE row.
FLASH_NS = 150_000_000

TIMER_TITLE = {
    TimerKind.RTO: "Retransmission timer (RTO)",
    TimerKind.SYN: "SYN retry timer",
    TimerKind.DELACK: "Delayed-ACK timer",
    TimerKind.PERSIST: "Persist timer (zero window)",
    TimerKind.KEEPALIVE: "Keep-alive timer",
    TimerKind.TIME_WAIT: "TIME-WAIT timer (2·MSL)",
    TimerKind.APP: "Application timer",
}

#: What the endpoint does when the timer runs out, and the rule that says so.
ON_EXPIRY = {
    TimerKind.RTO: "retransmit the oldest unacknowledged segment and double the RTO "
                   "(RFC 6298 5.4-5.6); cwnd falls to one segment (RFC 5681 3.1)",
    TimerKind.SYN: "send the SYN again and double the timeout (RFC 6298 5.5, RFC 9293 3.8.1)",
    TimerKind.DELACK: "send the ACK it has been holding back; an ACK may be delayed at most "
                      "500 ms (RFC 9293 3.8.6.3, RFC 1122 4.2.3.2)",
    TimerKind.PERSIST: "probe the zero window with one byte, so that a lost window update cannot "
                       "stall the connection forever (RFC 9293 3.8.6.1)",
    TimerKind.KEEPALIVE: "send a keep-alive probe the peer must answer; a peer that stays silent "
                         "is given up on (RFC 9293 3.8.4)",
    TimerKind.TIME_WAIT: "delete the TCB: the connection becomes CLOSED and its port pair may be "
                         "used again (RFC 9293 3.6)",
    TimerKind.APP: "let the application act (e.g. a slow reader reads again)",
}

#: Theme colour of each timer's bar.
TIMER_COLOR = {
    TimerKind.RTO: "retx", TimerKind.SYN: "syn", TimerKind.DELACK: "ack",
    TimerKind.PERSIST: "queue", TimerKind.KEEPALIVE: "synack", TimerKind.TIME_WAIT: "fin",
    TimerKind.APP: "data",
}


def timer_title(kind: TimerKind, state: TcpState) -> str:
    if kind == TimerKind.SYN and state == TcpState.SYN_RECEIVED:
        return "SYN-ACK retry timer"
    return TIMER_TITLE[kind]


def on_expiry(kind: TimerKind, state: TcpState) -> str:
    if kind == TimerKind.SYN and state == TcpState.SYN_RECEIVED:
        return ("send the SYN-ACK again and double the timeout (RFC 6298 5.5, RFC 9293 3.8.1)")
    return ON_EXPIRY[kind]


def rto_estimate(s: ConnSnapshot) -> str:
    """The retransmission timeout and the estimates it is computed from (RFC 6298 2: RTO =
    SRTT + max(G, 4*RTTVAR), at least the minimum; 5.5: doubled on each expiry), as a line of
    text; empty before any value."""
    if s.rto is None:
        return ""
    if s.srtt is None or s.srtt < 0:
        return f"RTO {fmt_duration(s.rto)}: no RTT measured yet (RFC 6298 2.1)"
    return (f"RTO {fmt_duration(s.rto)} · SRTT {fmt_duration(s.srtt)} · RTTVAR "
            f"{fmt_duration(max(0, s.rttvar or 0))} (RFC 6298)")


@dataclass(frozen=True)
class TimerRow:
    """One bar of the view. ``remaining``/``duration`` in ns at the cursor; ``expired`` rows are
    timers that ran out less than FLASH_NS ago (``flash`` goes from 1 to 0 over that time) and
    carry the narration of their TIMER_EXPIRE row."""

    kind: TimerKind
    title: str
    remaining: int
    duration: int
    deadline: int
    backoff: int
    sentence: str
    expired: bool = False
    flash: float = 0.0
    narration: str = ""
    arm_row: int = -1

    @property
    def fraction(self) -> float:
        return min(1.0, self.remaining / self.duration) if self.duration > 0 else 0.0


def timer_rows(s: ConnSnapshot, t: int, narrator: Narrator | None = None) -> list[TimerRow]:
    """The bars for endpoint ``s`` at time ``t``: running timers in TimerKind order, each
    recently expired one just before the timer of the same kind that replaced it."""
    rows: list[TimerRow] = []
    kinds = sorted(set(s.timers) | {k for k, e in s.expiries.items() if 0 <= t - e.t < FLASH_NS})
    for kind in kinds:
        ex: TimerExpiry | None = s.expiries.get(kind)
        if ex is not None and 0 <= t - ex.t < FLASH_NS:
            armed: RunningTimer | None = ex.timer
            rows.append(TimerRow(
                kind, timer_title(kind, s.state), 0, armed.duration if armed else ex.ran,
                ex.t, armed.backoff if armed else 0, on_expiry(kind, s.state), True,
                1.0 - (t - ex.t) / FLASH_NS,
                narrator.explain(ex.row) if narrator is not None else "",
                armed.row if armed else -1))
        tm = s.timers.get(kind)
        if tm is not None:
            rows.append(TimerRow(kind, timer_title(kind, s.state), tm.remaining(t), tm.duration,
                                 tm.deadline, tm.backoff, on_expiry(kind, s.state),
                                 arm_row=tm.row))
    return rows


class TimersCanvas(QWidget):
    """Paints the endpoints' timer bars side by side (stacked when narrow)."""

    def __init__(self, view: "TimersView") -> None:
        super().__init__()
        self.view = view
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(640, 320)

    def minimumSizeHint(self) -> QSize:
        return QSize(300, self.minimumHeight() or 160)

    def paintEvent(self, _ev) -> None:
        view = self.view
        th = view.theme
        model = view.model()
        started = begin_paint(self, th, None if model else "No connection yet: timers appear once a connection opens.")
        if started is None:
            return
        p, fm = started
        side = self.width() >= 620 and len(model) > 1
        cols = len(model) if side else 1
        gap = 14.0
        col_w = (self.width() - 16 - gap * (cols - 1)) / cols
        y0 = 6.0
        bottom = y0
        y = y0
        for i, (cid, s, rows) in enumerate(model):
            x = 8 + (i * (col_w + gap) if side else 0)
            if not side and i:
                y += fm.height() * 0.6
                p.setPen(QPen(th.color("grid"), 1))
                line_y = int(y - fm.height() * 0.3)
                p.drawLine(int(x), line_y, int(x + col_w), line_y)
            top = y0 if side else y
            end = self._column(p, fm, cid, s, rows, x, top, col_w)
            bottom = max(bottom, end)
            y = end
        need = int(bottom + 8)
        if self.minimumHeight() != need:
            self.setMinimumHeight(need)
        p.end()

    def _text_height(self, fm: QFontMetricsF, text: str, width: float) -> float:
        return fm.boundingRect(QRectF(0, 0, max(10.0, width), 1e6),
                               Qt.TextWordWrap | Qt.AlignLeft, text).height()

    def _column(self, p: QPainter, fm: QFontMetricsF, cid: int, s: ConnSnapshot,
                rows: list[TimerRow], x: float, y: float, w: float) -> float:
        view = self.view
        th = view.theme
        trace = view.context.trace
        h = fm.height()
        bold = view_font(self, 1.08, True)
        p.setFont(bold)
        p.setPen(th.color("text"))
        info = trace.conns[cid]
        head = f"{conn_name(trace, cid)} ({info.role}) · {s.state.label}"
        p.drawText(QRectF(x, y, w, h * 1.4), Qt.AlignLeft | Qt.AlignVCenter,
                   QFontMetricsF(bold).elidedText(head, Qt.ElideRight, w))
        y += h * 1.5
        font = view_font(self)
        p.setFont(font)
        estimate = rto_estimate(s)
        if estimate:
            p.setPen(th.color("muted"))
            text_h = self._text_height(fm, estimate, w)
            p.drawText(QRectF(x, y, w, text_h), Qt.TextWordWrap | Qt.AlignLeft, estimate)
            y += text_h + h * 0.4
        if not rows:
            p.setPen(th.color("muted"))
            text = "No timer running."
            text_h = self._text_height(fm, text, w)
            p.drawText(QRectF(x, y, w, text_h), Qt.TextWordWrap | Qt.AlignLeft, text)
            y += text_h + h * 0.4
        bar_h = max(h * 1.2, min(h * 3.5, (self.height() - y) / max(1, len(rows)) - h * 5))
        for row in rows:
            y = self._row(p, fm, row, x, y, w, bar_h)
        last = s.last_expiry
        if last is not None and not any(r.expired for r in rows):
            p.setPen(th.color("muted"))
            text = (f"Last expiry: {timer_title(last.kind, s.state)} at {fmt_time(last.t)}, "
                    f"after {fmt_duration(last.ran)}.")
            text_h = self._text_height(fm, text, w)
            p.drawText(QRectF(x, y, w, text_h), Qt.TextWordWrap | Qt.AlignLeft, text)
            y += text_h + h * 0.3
        return y

    def _row(self, p: QPainter, fm: QFontMetricsF, row: TimerRow, x: float, y: float, w: float,
             bar_h: float) -> float:
        th = self.view.theme
        h = fm.height()
        flash = th.color("drop")
        color = th.color(TIMER_COLOR[row.kind])
        sentence = ("Expired: " + row.narration) if row.expired and row.narration else \
            ("On expiry: " + row.sentence)
        text_h = self._text_height(fm, sentence, w - 8)
        block = QRectF(x - 4, y - 2, w + 8, h * 1.3 + bar_h + text_h + h * 0.5)
        if row.expired:
            p.setPen(Qt.NoPen)
            p.setBrush(with_alpha(flash, int(40 + 110 * row.flash)))
            p.drawRoundedRect(block, 5, 5)
        # title line: name (and backoff) left, time left right
        title = row.title
        if row.backoff:
            title += f" · backed off {row.backoff}×"
        right = ("expired" if row.expired else f"{fmt_duration(row.remaining)} left") + \
            f" of {fmt_duration(row.duration)}"
        rw = fm.horizontalAdvance(right) + 6
        p.setPen(th.color("text"))
        bold = view_font(self, 1.0, True)
        p.setFont(bold)
        p.drawText(QRectF(x, y, max(0.0, w - rw), h * 1.2), Qt.AlignLeft | Qt.AlignVCenter,
                   QFontMetricsF(bold).elidedText(title, Qt.ElideRight, max(0.0, w - rw)))
        p.setFont(view_font(self))
        p.drawText(QRectF(x + w - rw, y, rw, h * 1.2), Qt.AlignRight | Qt.AlignVCenter, right)
        y += h * 1.3
        # the bar: the share of the timeout still to run
        track = QRectF(x, y, w, bar_h)
        p.setPen(Qt.NoPen)
        p.setBrush(th.color("grid"))
        p.drawRoundedRect(track, 4, 4)
        if row.fraction > 0:
            p.setBrush(color)
            p.drawRoundedRect(QRectF(x, y, max(3.0, w * row.fraction), bar_h), 4, 4)
        p.setPen(QPen(flash if row.expired else th.color("muted"), 2 if row.expired else 1))
        p.setBrush(Qt.NoBrush)
        p.drawRoundedRect(track, 4, 4)
        at = f"{'expired' if row.expired else 'expires'} at {fmt_time(row.deadline)}"
        # the text sits at the right end: on the fill only when the bar reaches under it
        over_fill = x + w * row.fraction > track.right() - 8 - fm.horizontalAdvance(at) / 2
        p.setPen(text_on(color, th) if over_fill else th.color("text"))
        p.drawText(track.adjusted(8, 0, -8, 0), Qt.AlignRight | Qt.AlignVCenter, at)
        y += bar_h + h * 0.2
        p.setPen(th.color("text") if row.expired else th.color("muted"))
        p.drawText(QRectF(x, y, w - 8, text_h), Qt.TextWordWrap | Qt.AlignLeft, sentence)
        return y + text_h + h * 0.6


class TimersView(ConnectionView):
    """Countdown bars of both endpoints' timers at the cursor (see the module docstring).

    ``model()`` returns, per endpoint, ``(conn id, ConnSnapshot, [TimerRow...])`` as drawn."""

    title = "Timers"
    source = "timers"

    def __init__(self, context, parent: QWidget | None = None) -> None:
        self.narrator: Narrator | None = None
        self.canvas = None
        super().__init__(context, parent)
        self.canvas = TimersCanvas(self)
        self.set_body(self.canvas, scroll=True)

    def _on_reset(self) -> None:
        trace = self.context.trace
        self.narrator = Narrator(trace) if trace is not None else None
        super()._on_reset()

    def model(self) -> list[tuple[int, ConnSnapshot, list[TimerRow]]]:
        snap = self.snapshot
        if snap is None or self.conn is None:
            return []
        t = self.context.cursor
        out = []
        for cid in self.endpoints():
            if cid is None:
                continue
            s = snap.conn(cid)
            out.append((cid, s, timer_rows(s, t, self.narrator)))
        return out

    def rows(self, cid: int) -> list[TimerRow]:
        """The bars of endpoint ``cid`` at the cursor."""
        for c, _s, rows in self.model():
            if c == cid:
                return rows
        return []
