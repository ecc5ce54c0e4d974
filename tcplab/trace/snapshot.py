"""The state of every TCP endpoint at a moment, rebuilt from the trace rows before it.

The buffers, timers and state views show an endpoint *as it was* at the shared time cursor: its
RFC 9293 state, its traced variables (SND.UNA, SND.NXT, SND.WND, RCV.NXT, RCV.WND, cwnd...), how
much the application wrote, how much TCP delivered and the application read, what the receiver
holds out of order, what the sender knows the peer SACKed, which bytes it had to send again,
and which timers run. None of that is stored per moment: :class:`SnapshotTracker` replays the
rows ``[0, n)`` that matter, keeping

* a *running state* that moves forward cheaply (only the new rows are applied), and
* *checkpoints*, a copy of the state every ``every`` rows, so that moving the cursor back
  replays at most ``every`` rows from the nearest checkpoint before it.

Everything here is plain Python over trace rows (no engine object, no Qt), so the same snapshots
serve the GUI, tests and a terminal. :func:`sender_map` and :func:`receiver_map` turn two
endpoints' snapshots into the byte map the buffers view draws: each byte of one direction's
stream classified (acknowledged, in flight, SACKed...) in sequence numbers relative to the
sender's initial sequence number, so that the first data byte is 1 (as Wireshark shows them).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np

from tcplab.trace.events import EventKind, TcpState, TimerKind, Var
from tcplab.trace.ladder import RETRANSMIT

MASK = 0xFFFFFFFF
_HALF = 1 << 31

#: Rows between two checkpoints: a backward cursor move replays at most this many rows.
CHECKPOINT_EVERY = 4096

_STATE = int(EventKind.STATE)
_VAR = int(EventKind.VAR)
_ARM = int(EventKind.TIMER_ARM)
_CANCEL = int(EventKind.TIMER_CANCEL)
_EXPIRE = int(EventKind.TIMER_EXPIRE)
_WRITE = int(EventKind.APP_WRITE)
_DELIVER = int(EventKind.DELIVER)
_READ = int(EventKind.APP_READ)
_OOO = int(EventKind.OOO)
_SACKED = int(EventKind.SACKED)
_SENT = int(EventKind.SEG_SENT)
_KINDS = np.array([_STATE, _VAR, _ARM, _CANCEL, _EXPIRE, _WRITE, _DELIVER, _READ, _OOO, _SACKED,
                   _SENT], dtype=np.int64)
_RETX = frozenset(int(r) for r in RETRANSMIT)
_SND_UNA = int(Var.SND_UNA)
_CLOSED = int(TcpState.CLOSED)
_NVARS = len(Var)


def seq_diff(a: int, b: int) -> int:
    """``a - b`` for 32-bit sequence numbers, as a signed distance (RFC 9293 3.4: sequence
    numbers are compared modulo 2**32)."""
    d = (a - b) & MASK
    return d - (1 << 32) if d >= _HALF else d


# ---------------------------------------------------------------------------------- snapshots
@dataclass(frozen=True, slots=True)
class RunningTimer:
    """A timer as its TIMER_ARM row set it: it runs from ``armed_at`` until ``deadline`` (ns)
    unless a TIMER_CANCEL stops it first or a new TIMER_ARM of the same kind replaces it.
    ``backoff`` is how many times the timeout was doubled (RFC 6298 5.5) when it was armed."""

    kind: TimerKind
    armed_at: int
    deadline: int
    duration: int
    backoff: int
    row: int

    def remaining(self, t: int) -> int:
        """Time left at ``t`` (ns), never below 0."""
        return max(0, self.deadline - t)

    def fraction_left(self, t: int) -> float:
        """Remaining time as a share of the duration, 1.0 when just armed, 0.0 at the deadline."""
        if self.duration <= 0:
            return 0.0
        return min(1.0, self.remaining(t) / self.duration)


@dataclass(frozen=True, slots=True)
class TimerExpiry:
    """A TIMER_EXPIRE row: ``kind`` ran out at ``t`` after running ``ran`` ns, with SND.UNA and
    SND.NXT as they were; ``timer`` is the arming that expired (None if it was armed before the
    trace could see it)."""

    kind: TimerKind
    t: int
    ran: int
    snd_una: int
    snd_nxt: int
    row: int
    timer: RunningTimer | None


@dataclass(slots=True)
class ConnSnapshot:
    """One endpoint (connection id ``conn``) as of some row count.

    ``vars`` holds the latest value of each :class:`Var` (None until its first VAR row; SRTT and
    RTTVAR are -1 while unset, as the engine traces them). ``written``/``delivered``/``read`` are
    running byte totals of the application's writes, of in-order data TCP handed up, and of the
    application's reads. ``ooo`` and ``sacked`` are the latest (start_seq, end_seq) ranges of
    the OOO and SACKED rows (absolute). ``retx`` are the ranges sent again by a retransmission
    (SendReason in ``ladder.RETRANSMIT``) and not yet acknowledged by SND.UNA, merged, in order.
    ``timers`` are the running timers by kind; ``expiries`` the last expiry of each kind.
    ``prev_state``/``state_row`` describe the last STATE row (row -1: none yet).
    """

    conn: int
    state: TcpState = TcpState.CLOSED
    prev_state: TcpState = TcpState.CLOSED
    state_row: int = -1
    vars: list = field(default_factory=lambda: [None] * _NVARS)
    written: int = 0
    delivered: int = 0
    read: int = 0
    ooo: tuple = ()
    ooo_bytes: int = 0
    sacked: tuple = ()
    sacked_bytes: int = 0
    retx: list = field(default_factory=list)
    timers: dict = field(default_factory=dict)
    expiries: dict = field(default_factory=dict)
    last_expiry: TimerExpiry | None = None

    def copy(self) -> "ConnSnapshot":
        return ConnSnapshot(self.conn, self.state, self.prev_state, self.state_row,
                            list(self.vars), self.written, self.delivered, self.read, self.ooo,
                            self.ooo_bytes, self.sacked, self.sacked_bytes, list(self.retx),
                            dict(self.timers), dict(self.expiries), self.last_expiry)

    def var(self, v: Var) -> int | None:
        return self.vars[int(v)]

    # the RFC 9293 3.3.1 names, for readability at the call site
    snd_una = property(lambda self: self.vars[Var.SND_UNA])
    snd_nxt = property(lambda self: self.vars[Var.SND_NXT])
    snd_max = property(lambda self: self.vars[Var.SND_MAX])
    snd_wnd = property(lambda self: self.vars[Var.SND_WND])
    rcv_nxt = property(lambda self: self.vars[Var.RCV_NXT])
    rcv_wnd = property(lambda self: self.vars[Var.RCV_WND])
    cwnd = property(lambda self: self.vars[Var.CWND])
    ssthresh = property(lambda self: self.vars[Var.SSTHRESH])
    srtt = property(lambda self: self.vars[Var.SRTT])
    rttvar = property(lambda self: self.vars[Var.RTTVAR])
    rto = property(lambda self: self.vars[Var.RTO])

    @property
    def unread(self) -> int:
        """Bytes delivered in order and waiting in the receive buffer for the application."""
        return self.delivered - self.read

    def timer_list(self) -> list[RunningTimer]:
        """The running timers in :class:`TimerKind` order."""
        return [self.timers[k] for k in sorted(self.timers)]


@dataclass(frozen=True)
class Snapshot:
    """Every endpoint after rows ``[0, n)``; ``t`` is the time of row ``n - 1`` (0 if none).
    A snapshot handed out is never changed afterwards."""

    n: int
    t: int
    conns: dict

    def conn(self, cid: int) -> ConnSnapshot:
        """The endpoint ``cid`` (a fresh CLOSED one if no row of it came yet)."""
        found = self.conns.get(cid)
        return found if found is not None else ConnSnapshot(cid)


# ---------------------------------------------------------------------------------- replay
def _merge_retx(ranges: list, una: int | None, add: tuple[int, int] | None = None) -> list:
    """Retransmitted ranges still above SND.UNA, merged and ordered (absolute seq pairs)."""
    base = una if una is not None else (add[0] if add else 0)
    spans = [(seq_diff(s, base), seq_diff(e, base)) for s, e in ranges]
    if add is not None:
        spans.append((seq_diff(add[0], base), seq_diff(add[1], base)))
    spans = sorted((max(s, 0), e) for s, e in spans if e > 0 and e > s)
    out: list[list[int]] = []
    for s, e in spans:
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [((base + s) & MASK, (base + e) & MASK) for s, e in out]


def _apply(state: dict, rows: list, indices: list, extra: dict) -> None:
    """Apply trace rows (tuples in COLUMNS order) with their row indices to ``state``."""
    for i, (t, kind, _node, conn, _pkt, a, b, c, d) in zip(indices, rows):
        if conn < 0:
            continue
        s = state.get(conn)
        if s is None:
            s = state[conn] = ConnSnapshot(conn)
        if kind == _VAR:
            s.vars[a] = c
            if a == _SND_UNA and s.retx:
                s.retx = _merge_retx(s.retx, c)
        elif kind == _ARM:
            k = TimerKind(a)
            s.timers[k] = RunningTimer(k, t, b, c, d, i)
        elif kind == _SENT:
            if (d >> 16) in _RETX and c > 0:
                s.retx = _merge_retx(s.retx, s.vars[_SND_UNA], (a, (a + c) & MASK))
        elif kind == _DELIVER:
            if a + b > s.delivered:
                s.delivered = a + b
        elif kind == _READ:
            s.read = b
        elif kind == _CANCEL:
            s.timers.pop(TimerKind(a), None)
        elif kind == _OOO:
            s.ooo = tuple(extra.get(i, ()))
            s.ooo_bytes = a
        elif kind == _SACKED:
            s.sacked = tuple(extra.get(i, ()))
            s.sacked_bytes = a
        elif kind == _WRITE:
            s.written = b
        elif kind == _STATE:
            s.prev_state = TcpState(a)
            s.state = TcpState(b)
            s.state_row = i
            if b == _CLOSED:
                # RFC 9293 3.3.2: CLOSED means no TCB, so no timer can run (a crashed host's
                # connections close without cancelling theirs one by one).
                s.timers.clear()
        elif kind == _EXPIRE:
            k = TimerKind(a)
            ex = TimerExpiry(k, t, b, c, d, i, s.timers.pop(k, None))
            s.expiries[k] = ex
            s.last_expiry = ex


class SnapshotTracker:
    """Snapshots of one trace at any row count, fast for a cursor that jumps around.

    ``at(n)`` moves a running state forward from where it is when ``n`` lies ahead (only new
    rows are applied, the live case) or restores the nearest checkpoint at or below ``n`` and
    replays from there (a backward move, or a jump far ahead of the running state). The trace
    may keep growing between calls; rows already seen never change meaning.
    """

    def __init__(self, trace, every: int = CHECKPOINT_EVERY) -> None:
        self.trace = trace
        self.every = max(1, int(every))
        self._state: dict[int, ConnSnapshot] = {}
        self._pos = 0
        self._checkpoints: dict[int, dict[int, ConnSnapshot]] = {0: {}}
        self._last: Snapshot | None = None
        self._peers: dict[int, int] = {}
        #: Rows applied since this tracker was made (for tests and the curious).
        self.replayed = 0

    def at(self, n: int) -> Snapshot:
        """Every endpoint after rows ``[0, n)`` (``n`` is clamped to the trace's length)."""
        trace = self.trace
        n = max(0, min(int(n), len(trace)))
        last = self._last
        if last is not None and last.n == n:
            return last
        k = n // self.every
        if n < self._pos or (k * self.every > self._pos and k in self._checkpoints):
            while k not in self._checkpoints:     # only ever the newest, not yet reached
                k -= 1
            self._state = {cid: s.copy() for cid, s in self._checkpoints[k].items()}
            self._pos = k * self.every
        self._advance(n)
        t = int(trace.t[n - 1]) if n else 0
        snap = Snapshot(n, t, {cid: s.copy() for cid, s in self._state.items()})
        self._last = snap
        return snap

    def _advance(self, n: int) -> None:
        trace = self.trace
        every = self.every
        while self._pos < n:
            boundary = (self._pos // every + 1) * every
            stop = min(n, boundary)
            m = trace.matrix(self._pos, stop)
            picked = np.flatnonzero(np.isin(m[:, 1], _KINDS))
            if len(picked):
                _apply(self._state, m[picked].tolist(), (picked + self._pos).tolist(),
                       trace.extra)
            self.replayed += stop - self._pos
            self._pos = stop
            if stop == boundary and stop // every not in self._checkpoints:
                self._checkpoints[stop // every] = {cid: s.copy()
                                                    for cid, s in self._state.items()}

    def peer(self, cid: int) -> int:
        """Connection id of the other endpoint of ``cid``, or -1 (see :func:`peer_of`)."""
        found = self._peers.get(cid)
        if found is None or found < 0:
            found = peer_of(self.trace, cid)
            self._peers[cid] = found
        return found


_shared: dict[int, tuple[weakref.ref, SnapshotTracker]] = {}


def shared_tracker(trace) -> SnapshotTracker:
    """One tracker per trace, shared by every view that shows the same trace (they ask for the
    same row counts, so the second asks for a snapshot the first already made)."""
    key = id(trace)
    entry = _shared.get(key)
    if entry is not None and entry[0]() is trace:
        return entry[1]
    tracker = SnapshotTracker(trace)
    # The callback holds the dict itself: at interpreter exit the module global may be gone.
    _shared[key] = (weakref.ref(trace, lambda _ref, key=key, shared=_shared: shared.pop(key, None)),
                    tracker)
    return tracker


def peer_of(trace, cid: int) -> int:
    """The other endpoint of connection ``cid``: ``ConnInfo.peer`` when the engine filled it in,
    else the connection whose addresses and ports are ``cid``'s swapped (the nearest id when a
    port pair was used more than once). -1 if there is none (yet)."""
    if not 0 <= cid < len(trace.conns):
        return -1
    info = trace.conns[cid]
    if info.peer >= 0:
        return info.peer
    best = -1
    for other in trace.conns:
        if (other.local_ip == info.remote_ip and other.local_port == info.remote_port
                and other.remote_ip == info.local_ip and other.remote_port == info.local_port
                and other.id != cid):
            if best < 0 or abs(other.id - cid) < abs(best - cid):
                best = other.id
    return best


# ---------------------------------------------------------------------------------- byte maps
SENDER_KINDS = ("acked", "in_flight", "retransmitted", "sacked", "unsent")
RECEIVER_KINDS = ("read", "unread", "ooo", "hole")

#: What each kind of byte means, for legends and tooltips.
KIND_MEANING = {
    "acked": "acknowledged (below SND.UNA)",
    "in_flight": "sent, not yet acknowledged (in flight)",
    "retransmitted": "sent again, not yet acknowledged",
    "sacked": "selectively acknowledged by the receiver (SACK, RFC 2018)",
    "unsent": "written by the application, not yet sent",
    "read": "read by the application",
    "unread": "received in order, waiting for the application",
    "ooo": "received out of order, held until the gap fills",
    "hole": "missing: not received yet",
}


@dataclass(frozen=True, slots=True)
class Span:
    """Bytes ``[start, end)`` in relative sequence numbers, of one kind."""

    start: int
    end: int
    kind: str

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class ByteMap:
    """One endpoint's view of one direction's byte stream. ``base`` is the sender's ISS: relative
    ``r`` is absolute ``(base + r) mod 2**32``. ``markers`` maps a variable's name (e.g.
    ``SND.UNA``) to its relative position; ``windows`` maps a window's name to its relative
    ``(start, end)``."""

    base: int
    spans: tuple
    markers: dict
    windows: dict

    def absolute(self, rel: int) -> int:
        return (self.base + rel) & MASK

    def of_kind(self, kind: str) -> list[tuple[int, int]]:
        return [(s.start, s.end) for s in self.spans if s.kind == kind]

    def extent(self) -> tuple[int, int] | None:
        if not self.spans:
            return None
        return self.spans[0].start, self.spans[-1].end

    def kind_at(self, rel: int) -> Span | None:
        for s in self.spans:
            if s.start <= rel < s.end:
                return s
        return None


def _paint(lo: int, hi: int, layers: list[tuple[str, list[tuple[int, int]]]]) -> list[Span]:
    """Cover ``[lo, hi)`` with spans: at each byte the last layer that contains it wins."""
    if hi <= lo:
        return []
    cuts = {lo, hi}
    for _kind, ranges in layers:
        for s, e in ranges:
            if lo < s < hi:
                cuts.add(s)
            if lo < e < hi:
                cuts.add(e)
    points = sorted(cuts)
    out: list[Span] = []
    for a, b in zip(points, points[1:]):
        kind = None
        for k, ranges in layers:
            if any(s <= a and b <= e for s, e in ranges):
                kind = k
        if kind is None:
            continue
        if out and out[-1].kind == kind and out[-1].end == a:
            out[-1] = Span(out[-1].start, b, kind)
        else:
            out.append(Span(a, b, kind))
    return out


def sender_map(s: ConnSnapshot, iss: int | None) -> ByteMap:
    """The sender's side of its stream (RFC 9293 3.3.1 Figure 3: old sequence numbers that
    have been acknowledged, sequence numbers of unacknowledged data, sequence numbers allowed
    for new data transmission).

    Bytes below SND.UNA are acknowledged; ``[SND.UNA, SND.MAX)`` was sent and waits for its
    acknowledgment, split into SACKed (RFC 2018), retransmitted, and in flight; written bytes
    from SND.MAX on are not sent yet. The window ``usable`` is ``[SND.NXT, SND.UNA +
    min(SND.WND, cwnd))``: what may be sent now (RFC 5681 2: the sender may not send beyond the
    smaller of the receiver's window and cwnd); ``SND.WND`` is ``[SND.UNA, SND.UNA + SND.WND)``.
    The FIN's sequence number (after the last data byte) is not drawn as data."""
    una = s.snd_una
    if iss is None or una is None:
        return ByteMap(iss or 0, (), {}, {})

    def rel(seq: int) -> int:
        return (seq - iss) & MASK

    r_una = rel(una)
    r_nxt = rel(s.snd_nxt) if s.snd_nxt is not None else r_una
    r_max = rel(s.snd_max) if s.snd_max is not None else r_nxt
    if seq_diff(r_max, r_nxt) < 0:
        r_max = r_nxt
    data_end = 1 + s.written if s.written else max(1, r_max)
    lo, hi = 1, data_end
    layers = [
        ("unsent", [(r_max, data_end)]),
        ("acked", [(1, r_una)]),
        ("in_flight", [(r_una, r_max)]),
        ("retransmitted", [(rel(a), rel(a) + seq_diff(b, a)) for a, b in s.retx]),
        ("sacked", [(rel(a), rel(a) + seq_diff(b, a)) for a, b in s.sacked]),
    ]
    spans = _paint(lo, hi, layers)
    markers = {"SND.UNA": r_una, "SND.NXT": r_nxt}
    if r_max != r_nxt:
        markers["SND.MAX"] = r_max
    windows = {}
    wnd = s.snd_wnd
    if wnd is not None:
        windows["SND.WND"] = (r_una, r_una + wnd)
        limit = wnd if s.cwnd is None else min(wnd, s.cwnd)
        windows["usable"] = (r_nxt, max(r_nxt, r_una + limit))
    return ByteMap(iss, tuple(spans), markers, windows)


def receiver_map(r: ConnSnapshot, irs: int | None) -> ByteMap:
    """The receiver's side of the same stream (RFC 9293 3.3.1 Figure 4), numbered like the
    sender's map (``irs`` is the sender's ISS).

    Bytes the application read come first, then bytes delivered in order and not yet read; the
    out-of-order queue holds ranges beyond RCV.NXT and the gaps before them are holes. The
    window ``RCV.WND`` is ``[RCV.NXT, RCV.NXT + RCV.WND)``: sequence numbers it will accept."""
    nxt = r.rcv_nxt
    if irs is None or nxt is None:
        return ByteMap(irs or 0, (), {}, {})

    def rel(seq: int) -> int:
        return (seq - irs) & MASK

    r_nxt = rel(nxt)
    ooo = [(rel(a), rel(a) + seq_diff(b, a)) for a, b in r.ooo]
    in_order_end = 1 + r.delivered
    hi = max([in_order_end] + [e for _s, e in ooo])
    gap_start = max(in_order_end, r_nxt) if not ooo else in_order_end
    layers = [
        ("hole", [(gap_start, hi)] if ooo else []),
        ("read", [(1, 1 + r.read)]),
        ("unread", [(1 + r.read, in_order_end)]),
        ("ooo", ooo),
    ]
    spans = _paint(1, hi, layers)
    windows = {}
    if r.rcv_wnd is not None:
        windows["RCV.WND"] = (r_nxt, r_nxt + r.rcv_wnd)
    return ByteMap(irs, tuple(spans), {"RCV.NXT": r_nxt}, windows)


def interesting_range(snd: ByteMap, rcv: ByteMap, slack: float = 0.5) -> tuple[int, int, bool]:
    """The part of the stream worth drawing: from a little before the oldest byte still
    unacknowledged (sender) or unread (receiver) to the end of the data and of the usable
    window (the latter only while something is outstanding or unread);
    the SND.WND and RCV.WND windows are included when they end within ``slack`` times that
    span beyond it (a 64 KiB window next to four 500-byte segments would squash them).
    Returns ``(lo, hi, cut)``: ``cut`` says a window goes on beyond ``hi``. When everything is
    acknowledged and read, the whole stream is shown."""
    ext_s, ext_r = snd.extent(), rcv.extent()
    if ext_s is None and ext_r is None:
        return 0, 1, False
    starts, ends = [], []
    for m, busy in ((snd, ("in_flight", "retransmitted", "sacked", "unsent")),
                    (rcv, ("unread", "ooo", "hole"))):
        for sp in m.spans:
            ends.append(sp.end)
            if sp.kind in busy:
                starts.append(sp.start)
        ends.extend(m.markers.values())
    if starts and "usable" in snd.windows:
        ends.append(snd.windows["usable"][1])
    first = min([e[0] for e in (ext_s, ext_r) if e is not None])
    lo_core = min(starts + list(snd.markers.values()) + list(rcv.markers.values())) \
        if starts else None
    hi = max(ends) if ends else first + 1
    if lo_core is None:                      # nothing outstanding or unread: the whole stream
        lo = first
    else:
        span = max(hi - lo_core, 1)
        lo = max(first, lo_core - span // 4)
    span = max(hi - lo, 1)
    cut = False
    for m, name in ((snd, "SND.WND"), (rcv, "RCV.WND")):
        if name in m.windows:
            end = m.windows[name][1]
            if end > hi:
                if end <= hi + slack * span:
                    hi = end
                else:
                    cut = True
    if cut:
        hi = max(hi, int(hi + slack * span * 0.5))
    return lo, max(hi, lo + 1), cut
