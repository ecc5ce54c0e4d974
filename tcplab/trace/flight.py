"""What is on the wire and in the queues at a moment, followed from the trace.

The topology view animates packets from this: a packet is *in flight* from the row that puts it
on a link (``HOP``: start of serialisation, with its arrival time) until the row that ends its
trip (``ARRIVE`` at the far node, or ``DROP``). A packet *waits in a queue* from its ``QUEUE`` row
until its ``HOP`` row. Drops are kept with the place they happened, so the view can mark them.

Pure Python over trace rows: no engine object is read, so the same tracker works live, in replay
and after a seek (feed it rows ``[0, i)``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tcplab.net.packet import ACK, FIN, RST, SYN
from tcplab.trace.events import DropReason, EventKind
from tcplab.trace.ladder import RETRANSMIT

_HOP = int(EventKind.HOP)
_ARRIVE = int(EventKind.ARRIVE)
_DROP = int(EventKind.DROP)
_ALTER = int(EventKind.ALTER)
_SENT = int(EventKind.SEG_SENT)
_QUEUE = int(EventKind.QUEUE)
_RELEVANT = np.array([_HOP, _ARRIVE, _DROP, _ALTER, _SENT, _QUEUE], dtype=np.int64)
_RETX_CODES = frozenset(int(r) for r in RETRANSMIT)

#: Plain words for a drop reason, as the canvas labels the cross.
DROP_WORDS = {
    DropReason.LOSS: "lost on the link",
    DropReason.BURST_LOSS: "lost in a burst",
    DropReason.QUEUE_FULL: "queue full",
    DropReason.LINK_DOWN: "link down",
    DropReason.NO_ROUTE: "no route",
    DropReason.TTL_EXPIRED: "TTL expired",
    DropReason.CHECKSUM: "bad checksum",
    DropReason.FAULT: "dropped by a fault rule",
    DropReason.HOST_DOWN: "host down",
    DropReason.USER: "dropped by you",
}


def drop_words(code: int) -> str:
    try:
        reason = DropReason(code)
    except ValueError:
        return "dropped"
    if reason in DROP_WORDS:
        return DROP_WORDS[reason]
    return reason.name.lower().replace("_", " ")


#: Kinds the canvas draws differently.
KINDS = ("syn", "synack", "data", "ack", "fin", "rst", "retx")


def segment_kind(flags: int, payload_len: int, retransmission: bool) -> str:
    """Which of :data:`KINDS` a segment is drawn as (a retransmission wins over the rest)."""
    if retransmission:
        return "retx"
    if flags & RST:
        return "rst"
    if flags & SYN:
        return "synack" if flags & ACK else "syn"
    if flags & FIN:
        return "fin"
    if payload_len:
        return "data"
    return "ack"


@dataclass
class Flight:
    """One packet on one link direction, from ``t0`` (start of serialisation) to ``t1`` (its
    arrival; moved later when the packet is held back). Times in ns."""

    uid: int
    link: int
    direction: int
    t0: int
    t1: int
    held: bool = False       # delayed, new arrival unknown: wait at the far end

    def fraction(self, now: int) -> float:
        """How far along the link the packet is at ``now`` (0 at the sender, 1 at the receiver)."""
        if self.t1 <= self.t0:
            return 1.0
        f = (now - self.t0) / (self.t1 - self.t0)
        return 0.0 if f < 0 else (0.98 if self.held and f > 0.98 else min(f, 1.0))


@dataclass
class DropMark:
    """Where a packet was discarded: on a link at ``fraction`` of its length (``node`` -1), or at
    a node (``link`` -1, or the sending end of ``link`` for a full queue)."""

    t: int
    uid: int
    reason: int
    node: int
    link: int
    direction: int
    fraction: float

    @property
    def words(self) -> str:
        return drop_words(self.reason)


@dataclass(frozen=True)
class FlightState:
    """A copy of what a :class:`FlightTracker` holds after ``rows`` rows that can change later:
    the packets in flight, the queues and the recent drops (see :meth:`FlightTracker.checkpoint`)."""

    rows: int
    flights: dict
    queues: dict
    drops: tuple


class FlightTracker:
    """Follows trace rows and keeps the packets in flight, the queues and the recent drops.

    ``retransmitted`` and ``conn_of`` are facts about packets that never change once known, so
    :meth:`restore` leaves them as they are: after going back to an earlier row they may know
    packets sent later, which nothing asks about before those packets exist.
    """

    def __init__(self) -> None:
        self.flights: dict[int, Flight] = {}
        self.queues: dict[tuple[int, int], list[int]] = {}
        self.drops: list[DropMark] = []
        self.retransmitted: set[int] = set()
        self.conn_of: dict[int, int] = {}      # packet uid -> connection that sent it
        self.rows_seen = 0

    def clear(self) -> None:
        self.__init__()

    def checkpoint(self) -> FlightState:
        """The changing part of the state after the rows taken so far, to :meth:`restore`
        later (a view going back to an earlier moment of the same trace starts from the
        nearest checkpoint instead of row 0)."""
        return FlightState(self.rows_seen, {u: replace(f) for u, f in self.flights.items()},
                           {k: list(q) for k, q in self.queues.items()}, tuple(self.drops))

    def restore(self, state: FlightState) -> None:
        """Go back to a :meth:`checkpoint` of the same trace; take rows from ``state.rows`` on."""
        self.flights = {u: replace(f) for u, f in state.flights.items()}
        self.queues = {k: list(q) for k, q in state.queues.items()}
        self.drops = list(state.drops)
        self.rows_seen = state.rows

    def consume(self, trace, first: int, end: int) -> list[DropMark]:
        """Take rows ``[first, end)``; return the drops among them (newest last)."""
        if end <= first:
            return []
        m = trace.matrix(first, end)
        picked = np.flatnonzero(np.isin(m[:, 1], _RELEVANT))
        rows = m[picked]
        new_drops: list[DropMark] = []
        flights = self.flights
        queues = self.queues
        extra = trace.extra
        for j, (t, kind, node, _conn, pkt, a, b, c, d) in zip(picked.tolist(), rows.tolist()):
            if kind == _HOP:
                flights[pkt] = Flight(pkt, a, d, t, b)
                q = queues.get((a, d))
                if q and pkt in q:
                    q.remove(pkt)
            elif kind == _ARRIVE:
                f = flights.get(pkt)
                if f is not None and f.link == a:
                    del flights[pkt]
            elif kind == _QUEUE:
                queues.setdefault((a, d), []).append(pkt)
            elif kind == _SENT:
                self.conn_of[pkt] = _conn
                if (d >> 16) in _RETX_CODES:
                    self.retransmitted.add(pkt)
            elif kind == _ALTER:
                if c == 0:          # a duplicate: it was put on the link by its own HOP row
                    orig = b
                    if orig in self.retransmitted:
                        self.retransmitted.add(pkt)
                    if orig in self.conn_of:
                        self.conn_of[pkt] = self.conn_of[orig]
                elif c == 2:        # held back: ``extra`` has the new arrival time
                    f = flights.get(pkt)
                    if f is not None:
                        arrival = extra.get(first + j)
                        if isinstance(arrival, int) and arrival > f.t1:
                            f.t1 = arrival
                        else:
                            f.held = True
            elif kind == _DROP:
                link = b
                frac = 0.0
                f = flights.pop(pkt, None)
                if link >= 0 and node < 0:
                    if f is not None:
                        frac = f.fraction(t)
                        d = f.direction
                    else:
                        frac = 0.5
                elif link >= 0:
                    q = queues.get((link, d))
                    if q and pkt in q:
                        q.remove(pkt)
                    frac = 0.0
                mark = DropMark(t, pkt, a, node, link, d, frac)
                self.drops.append(mark)
                new_drops.append(mark)
        if len(self.drops) > 500:
            del self.drops[:-500]
        self.rows_seen = end
        return new_drops
