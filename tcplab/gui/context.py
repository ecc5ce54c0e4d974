"""What every view shares: the trace being shown, one time cursor and one selection.

The window owns one :class:`TraceContext` and feeds it from the engine controller (or, later, a
replay). Views are built with the context, read rows from ``context.trace`` only, and follow
four signals:

``reset()``                 a different trace (or none): start over from ``context.trace``
``advanced(first, end)``    rows ``[first, end)`` were appended (one signal per frame)
``cursorChanged(t_ns)``     the shared time cursor moved: show the state as of that time
``selectionChanged(sel)``   a :class:`Selection` changed (a packet, an event, a connection)
``baselineChanged()``       another run to compare with was set or cleared (``baseline``)

The cursor is *live* while it follows the newest row (the run is being watched as it goes);
dragging it back in any view sets it to that time and views show the past: buffers, timers and
states as they were. ``rows_until(t)`` turns a time into a row count for that.

After the engine went back in time on the same course (a seek, a step back), the trace still
holds what comes later: the cursor then *follows* the engine's clock through rows already known
(``following``; not live) until the engine passes the newest row, and live again from there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QObject, Signal


@dataclass(frozen=True)
class Selection:
    """What the user picked: a packet (uid), a trace row (event index), a connection id. Any of
    them may be None. ``source`` names the view that made it, so it does not react to itself."""

    packet: int | None = None
    event: int | None = None
    conn: int | None = None
    source: str = ""


class TraceContext(QObject):
    reset = Signal()
    advanced = Signal(int, int)
    cursorChanged = Signal(object)    # ns: may exceed 32 bits
    selectionChanged = Signal(object)
    baselineChanged = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.trace = None
        self.cursor = 0
        self.now = 0            # the clock of what produces the trace (the engine, a replay)
        self.live = True
        self.following = False  # the cursor follows the producer's clock inside known rows
        self.selection = Selection()
        self._times = np.zeros(0, dtype=np.int64)   # cache of the t column for rows_until
        #: Another run of the same scenario to draw under this one (a fork's original), with
        #: a few words saying what it is; the graphs show it in grey.
        self.baseline = None
        self.baseline_label = ""
        #: The end of a recorded session being replayed (ns): the cursor may go that far even
        #: before the replay has.
        self.horizon = 0

    # -- fed by the window ---------------------------------------------------------------------
    def set_trace(self, trace) -> None:
        self.trace = trace
        self.cursor = 0
        self.now = 0
        self.live = True
        self.following = False
        self.selection = Selection()
        self._times = np.zeros(0, dtype=np.int64)
        self.reset.emit()
        self.selectionChanged.emit(self.selection)

    def append(self, first: int, end: int, now: int) -> None:
        """Rows ``[first, end)`` are new and the engine's clock reads ``now``."""
        if self.trace is None:
            return
        self.now = now
        if end > first:
            self.advanced.emit(first, end)
        if self.following and now >= self.end_time() and end >= len(self.trace):
            self.following, self.live = False, True     # the producer caught up: live again
            self.cursor = now
            self.cursorChanged.emit(now)
        elif (self.live or self.following) and now != self.cursor:
            self.cursor = now
            self.cursorChanged.emit(now)

    def follow_producer(self, now: int) -> None:
        """The producer went to ``now`` inside the rows already known (the engine went back on
        the same course): the cursor goes there and follows its clock (see the module
        docstring)."""
        self.now = now
        if now >= self.end_time():
            self.following, self.live = False, True
        else:
            self.following, self.live = True, False
        if now != self.cursor:
            self.cursor = now
        self.cursorChanged.emit(now)

    def set_baseline(self, trace, label: str = "") -> None:
        """Compare with ``trace`` (None: stop comparing)."""
        self.baseline = trace
        self.baseline_label = label if trace is not None else ""
        self.baselineChanged.emit()

    # -- used by views -------------------------------------------------------------------------
    def times(self) -> np.ndarray:
        """The t column of every row so far (cached; grows with the trace)."""
        trace = self.trace
        if trace is None:
            return self._times
        n = len(trace)
        if len(self._times) != n:
            if len(self._times) < n:
                extra = trace.matrix(len(self._times), n)[:, 0]
                self._times = np.concatenate([self._times, extra])
            else:
                self._times = trace.matrix(0, n)[:, 0].copy()
        return self._times

    def rows_until(self, t: int | None = None) -> int:
        """How many rows happened at or before time ``t`` (default: the cursor)."""
        t = self.cursor if t is None else t
        return int(np.searchsorted(self.times(), t, side="right"))

    def end_time(self) -> int:
        times = self.times()
        return int(times[-1]) if len(times) else 0

    def set_cursor(self, t: int, live: bool | None = None) -> None:
        """Move the shared cursor to ``t`` ns. It stays live (following new rows) only when set
        at or after the newest row, unless ``live`` says otherwise."""
        t = max(0, int(t))
        self.following = False
        self.live = (t >= max(self.now, self.end_time())) if live is None else live
        if t != self.cursor:
            self.cursor = t
            self.cursorChanged.emit(t)

    def follow(self, view) -> None:
        """Connect a view's ``_on_reset``, ``_on_advanced(first, end)``, ``_on_cursor(t)`` and
        ``_on_selection(sel)`` slots: the one way every view subscribes."""
        self.reset.connect(view._on_reset)
        self.advanced.connect(view._on_advanced)
        self.cursorChanged.connect(view._on_cursor)
        self.selectionChanged.connect(view._on_selection)

    def go_live(self) -> None:
        """Follow the present again: the cursor jumps to the producer's clock (and follows it
        through known rows when the producer is behind them)."""
        if self.now < self.end_time():
            self.follow_producer(self.now)
        else:
            self.set_cursor(max(self.now, self.end_time()), live=True)

    def select(self, packet: int | None = None, event: int | None = None,
               conn: int | None = None, source: str = "") -> None:
        """Select a packet and/or an event; fills in the missing parts from the trace (the
        packet's connection, the packet's first send row)."""
        trace = self.trace
        if trace is not None:
            if event is not None and packet is None:
                uid = trace.pkt[event]
                packet = uid if uid >= 0 else None
                c = trace.conn[event]
                conn = c if c >= 0 and conn is None else conn
            if packet is not None and conn is None:
                conn = self.conn_of_packet(packet)
        sel = Selection(packet, event, conn, source)
        if sel != self.selection:
            self.selection = sel
            self.selectionChanged.emit(sel)

    def select_conn(self, conn: int | None, source: str = "") -> None:
        sel = replace(self.selection, conn=conn, source=source)
        if sel != self.selection:
            self.selection = sel
            self.selectionChanged.emit(sel)

    def conn_of_packet(self, uid: int) -> int | None:
        """The connection that sent packet ``uid`` (from its SEG_SENT row), or None."""
        from tcplab.trace.events import EventKind
        trace = self.trace
        if trace is None:
            return None
        m = trace.matrix()
        rows = np.flatnonzero((m[:, 4] == uid) & (m[:, 1] == int(EventKind.SEG_SENT)))
        if len(rows):
            return int(m[rows[0], 3])
        return None
