"""One TCP connection endpoint, as RFC 9293 describes it, with no I/O and no clock.

The host hands it segments (:meth:`Connection.on_segment`), timer expiries
(:meth:`Connection.on_timer`) and application calls (:meth:`send`, :meth:`read`, :meth:`close`,
:meth:`abort`), always with the current time. It answers by queueing segments in ``outbox`` (each
with the :class:`SendReason` that produced it), by setting timer deadlines in ``deadlines`` (the
names of changed ones go to ``timers_changed``) and by queueing notifications for the application
in ``notes``. The caller drains all three. Everything it decides is written to the trace.

Arriving segments are processed in the order of RFC 9293 3.10.7: one handler per state for
CLOSED, LISTEN and SYN-SENT, and for the synchronized states the shared checks (sequence number,
RST, SYN, ACK, text, FIN) where the ACK and FIN steps differ by state.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Callable

from tcplab.net.packet import (ACK, FIN, OPT_MSS, OPT_NOP, OPT_SACK, OPT_SACK_PERM, OPT_TIMESTAMP,
                               OPT_WSCALE, PSH, RST, SYN, Segment, TcpOption)
from tcplab.tcp.config import TcpConfig
from tcplab.tcp.congestion import CongestionState, create as create_cc
from tcplab.tcp.reassembly import ReassemblyQueue
from tcplab.tcp.sack import Scoreboard
from tcplab.tcp.rtt import RttEstimator
from tcplab.trace.events import (Detection, EventKind, RecvOutcome, SendReason, TcpState,
                                 TimerKind, Var)

MASK = 0xFFFFFFFF
HALF = 0x80000000
MAX_WINDOW = 0xFFFF
DUPTHRESH = 3        # RFC 5681 3.2: the third duplicate ACK signals a loss
MAX_WSCALE = 14      # RFC 7323 2.3: larger shifts are treated as 14
TS_OPTION_LEN = 12   # NOP, NOP, timestamps (10 bytes): what TSopt costs every segment
MAX_OPTIONS = 40     # RFC 9293 3.1: the data offset field limits options to 40 bytes
_NOP = TcpOption(OPT_NOP)
# Event kinds written on hot paths with Trace.push (whole rows, no keyword defaults).
_APP_READ, _DELIVER = int(EventKind.APP_READ), int(EventKind.DELIVER)
_TIMER_ARM, _TIMER_CANCEL = int(EventKind.TIMER_ARM), int(EventKind.TIMER_CANCEL)
_VAR = int(EventKind.VAR)
_VAR_INDICES = tuple(range(len(Var)))
#: ACKs that must leave even when data carries the same acknowledgment: they signal something.
_REPEATED_ACKS = frozenset({SendReason.DUP_ACK, SendReason.CHALLENGE_ACK,
                            SendReason.TIME_WAIT_ACK})

S = TcpState
SYNCHRONIZED = frozenset({S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT,
                          S.CLOSING, S.LAST_ACK, S.TIME_WAIT})
#: States in which queued data (and our FIN) may still be (re)transmitted.
CAN_SEND = frozenset({S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_1, S.CLOSING, S.LAST_ACK})
#: States in which arriving data is accepted (RFC 9293 3.10.7.4, seventh check).
CAN_RECEIVE = frozenset({S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2})


def _lt(a: int, b: int) -> bool:
    """a < b in sequence space (RFC 9293 3.4)."""
    return ((a - b) & MASK) >= HALF


def _le(a: int, b: int) -> bool:
    return a == b or ((a - b) & MASK) >= HALF


def _diff(a: int, b: int) -> int:
    """Signed a - b in sequence space."""
    d = (a - b) & MASK
    return d - 0x100000000 if d >= HALF else d


class Note:
    """Notifications for the application (drained by the host from ``Connection.notes``)."""

    ESTABLISHED = "established"
    READABLE = "readable"
    WRITABLE = "writable"
    PEER_FIN = "peer_fin"        # the peer will send no more data
    CLOSED = "closed"            # the connection is gone (normally)
    RESET = "reset"              # the peer reset it
    REFUSED = "refused"          # RST in answer to our SYN
    TIMEOUT = "timeout"          # retransmissions exhausted
    CRASHED = "crashed"          # our own host went down (sent by the host, not the connection)


class Connection:
    """A TCP endpoint. Variables carry their RFC 9293 3.3.1 names."""

    def __init__(self, cfg: TcpConfig, local_ip: int, local_port: int, remote_ip: int,
                 remote_port: int, iss: int, trace=None, conn_id: int = -1, node: int = -1,
                 ts_offset: int = 0) -> None:
        self.cfg = cfg
        self.local_ip, self.local_port = local_ip, local_port
        self.remote_ip, self.remote_port = remote_ip, remote_port
        self.trace = trace
        self.id = conn_id
        self.node = node
        self.state = S.CLOSED

        # Send sequence variables (RFC 9293 3.3.1).
        self.iss = iss & MASK
        self.snd_una = self.iss
        self.snd_nxt = self.iss
        self.snd_max = self.iss          # highest sequence sent + 1 (snd_nxt rewinds after RTO)
        self.snd_wnd = 0
        self.snd_wl1 = 0
        self.snd_wl2 = 0
        self.max_snd_wnd = 0             # largest window the peer offered (sender SWS rule)
        self.smss = cfg.mss              # effective send MSS, lowered by the peer's MSS option
        # Receive sequence variables.
        self.irs = 0
        self.rcv_nxt = 0
        self.rcv_wnd = cfg.rcv_buf
        self._rcv_right = 0              # right edge already advertised: never moved left
        self._adv_wnd = cfg.rcv_buf      # window in the last segment we sent

        # Application byte streams.
        self.written = 0                 # bytes accepted from the application
        self._snd_data = bytearray()     # unacknowledged + unsent bytes
        self._snd_off = 0                # stream offset of _snd_data[0]
        self.fin_queued = False          # application called close(): FIN follows the data
        self.fin_sent = False
        self.fin_acked = False
        self._rcv_data = bytearray()     # in-order bytes not yet read
        self.received = 0                # in-order bytes received (stream offset of rcv_nxt)
        self.read_total = 0
        self.ooo = ReassemblyQueue()
        self._peer_fin_off: int | None = None   # stream offset of a FIN seen out of order
        self.peer_fin = False

        # Retransmission and congestion state.
        # The first RTO also respects the configured bounds (RFC 6298 2.4, 2.5).
        self.rtt = RttEstimator(min_rto=cfg.min_rto, max_rto=cfg.max_rto,
                                initial_rto=min(max(cfg.initial_rto, cfg.min_rto), cfg.max_rto),
                                clock_granularity=cfg.granularity)
        self.cc = create_cc(cfg.cc)
        self.ccs = CongestionState(cwnd=0, smss=self.smss, iw_segments=cfg.iw)
        self._timed: tuple[int, int] | None = None   # (seq that must be acked, send time): Karn
        self.retries = 0                 # consecutive timeouts of the same segment
        self.dupacks = 0
        self._persist_backoff = 0

        # Outputs, drained by the owner.
        self.outbox: list[tuple[Segment, SendReason]] = []
        self.notes: list[str] = []
        self.deadlines: list[int | None] = [None] * len(TimerKind)
        self._armed_at: list[int] = [0] * len(TimerKind)
        self.timers_changed: set[TimerKind] = set()
        self.on_closed: Callable[[Connection], None] | None = None
        self.stats = {"data_segments_sent": 0, "bytes_sent": 0, "retransmissions": {},
                      "dup_acks_received": 0, "segments_received": 0}
        self._last_vars: tuple = ()
        self._last_extras: dict = {}
        self._recv_row = -1
        self._cause = -1                 # uid of the packet being processed, for the trace
        self._passive = False            # opened by LISTEN
        self._rto_pending = False        # inside an RTO expiry (names the first retransmission)
        self._ack_due: SendReason | None = None   # an ACK owed, sent by poll_output
        self._syn_lost = False           # a SYN or SYN-ACK was retransmitted
        self._writer_waits = False       # the application could not write everything
        self.in_recovery = False         # fast recovery (RFC 5681 3.2, RFC 6582)
        self.recover = self.iss          # RFC 6582 "recover": highest seq sent at its start
        self._partial_ack_retx = False
        self._limited_bytes = 0          # sent by limited transmit since the last new ACK
        self._delack_bytes = 0           # in-order bytes received and not yet acknowledged
        self._snd_sml = self.iss         # end of the last small segment sent (Nagle, Minshall)

        # Options negotiated on the SYNs (RFC 7323, RFC 2018): off until both ends offered them.
        self.ts_ok = False               # timestamps in use
        self.sack_ok = False             # SACK permitted both ways
        self.ws_ok = False               # window scaling in use
        self.snd_wscale = 0              # Snd.Wind.Shift: applied to the peer's window field
        self.rcv_wscale = 0              # Rcv.Wind.Shift: applied to ours
        self._mss_base = self.smss       # send MSS before option overhead (RFC 9293 3.7.1)
        self.ts_offset = ts_offset & MASK
        self.ts_recent = 0               # TS.Recent (RFC 7323 4.3): the peer's TSval to echo
        self.last_ack_sent = 0           # Last.ACK.sent (RFC 7323 4.3)
        self._seg_wnd = 0                # the arriving segment's window, scaled
        self._seg_ts: tuple[int, int] | None = None   # its timestamps option, if in use
        self._ts_opts: tuple | None = None                # the last timestamps options sent
        self._seg_sack: tuple | None = None               # the arriving segment's SACK blocks
        self._eifel: tuple[int, int, SendReason] | None = None   # (seq, retransmit TSval, why)
        self.sb = Scoreboard()           # what the peer SACKed (RFC 6675), by stream offset
        self._last_heard = 0             # when the peer last sent anything (keep-alive)
        self._ka_probes = 0              # keep-alive probes sent without an answer
        self._after_probe = False        # the window reopened over a refused probe byte
        self._una_since = 0              # since when SND.UNA has not moved (user timeout)
        self._sack_recovery = False      # the current recovery is RFC 6675's

    # ---------------------------------------------------------------- application calls
    def open_active(self, now: int) -> None:
        """Active OPEN (RFC 9293 3.10.1, CLOSED state): send SYN, enter SYN-SENT."""
        self._app_call(now, 2)
        self._set_state(now, S.SYN_SENT)
        self._send_syn(now, SendReason.SYN)

    def open_passive(self, now: int) -> None:
        """Passive OPEN (RFC 9293 3.10.1): wait in LISTEN for a SYN."""
        self._app_call(now, 3)
        self._set_state(now, S.LISTEN)

    def send(self, now: int, data: bytes) -> int:
        """SEND call (RFC 9293 3.10.2): accept as much of ``data`` as the send buffer holds.

        Returns the number of bytes accepted (0 when the buffer is full or sending is closed).
        """
        if self.fin_queued or self.state not in (S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED,
                                                 S.CLOSE_WAIT):
            return 0
        room = self.cfg.snd_buf - len(self._snd_data)
        n = min(room, len(data))
        if n < len(data):
            self._writer_waits = True
        if n > 0:
            self._snd_data += data[:n] if n < len(data) else data
            self.written += n
        if self.trace is not None:
            self.trace.emit(now, EventKind.APP_WRITE, self.node, self.id, -1, n, self.written, len(data))
        if n > 0 and self.state in CAN_SEND:
            self._transmit(now)
        return n

    def readable(self) -> int:
        """In-order bytes waiting for the application."""
        return len(self._rcv_data)

    def read(self, now: int, max_bytes: int | None = None) -> bytes:
        """RECEIVE call (RFC 9293 3.10.3): take up to ``max_bytes`` in-order bytes.

        Reading frees receive buffer space; when the window this opens is worth announcing
        (RFC 9293 3.8.6.2.2: at least min(buffer/2, MSS) more than last advertised) a window
        update is sent at once.
        """
        n = len(self._rcv_data) if max_bytes is None else min(max_bytes, len(self._rcv_data))
        if n <= 0:
            return b""
        out = bytes(self._rcv_data[:n])
        del self._rcv_data[:n]
        self.read_total += n
        if self.trace is not None:
            self.trace.push((now, _APP_READ, self.node, self.id, -1, n, self.read_total, 0, 0))
        if self.state in SYNCHRONIZED and not self.peer_fin and self._ack_due is None:
            old = self._adv_wnd
            self._update_rcv_wnd()
            threshold = min(self.cfg.rcv_buf // 2, self.smss)
            # Compare what the header would carry (16 bits, scaled), not the raw window: an
            # update that cannot show more is no update, and the peer would count it as a
            # duplicate ACK.
            wire = min(self.rcv_wnd >> self.rcv_wscale, MAX_WINDOW) << self.rcv_wscale
            if wire - old >= threshold:
                self._send_ack(now, SendReason.WINDOW_UPDATE)
        return out

    def close(self, now: int) -> None:
        """CLOSE call (RFC 9293 3.10.4): no more data from us; our FIN follows what is queued."""
        self._app_call(now, 0)
        st = self.state
        if st in (S.LISTEN, S.SYN_SENT):
            self._delete(now, Note.CLOSED)
        elif st == S.SYN_RECEIVED:
            # RFC 9293 3.10.4: with nothing to send, FIN now and FIN-WAIT-1; otherwise the
            # FIN follows the data once ESTABLISHED is reached.
            self.fin_queued = True
            if self.written == 0:
                self._set_state(now, S.FIN_WAIT_1)
                self._transmit(now)
        elif st == S.ESTABLISHED:
            self.fin_queued = True
            self._set_state(now, S.FIN_WAIT_1)
            self._transmit(now)
        elif st == S.CLOSE_WAIT:
            self.fin_queued = True
            self._set_state(now, S.LAST_ACK)
            self._transmit(now)

    def abort(self, now: int) -> None:
        """ABORT call (RFC 9293 3.10.5): send RST in synchronized states, drop everything."""
        self._app_call(now, 1)
        if self.state in (S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT):
            self._emit(Segment(self.local_port, self.remote_port, self._ack_seq(), 0, RST, 0),
                       SendReason.RST_ABORT)
        self._delete(now, Note.CLOSED)

    # ---------------------------------------------------------------- arriving segments
    def on_segment(self, now: int, seg: Segment, uid: int = -1) -> RecvOutcome:
        """Process one arriving segment (RFC 9293 3.10.7). Returns what was made of it."""
        self.stats["segments_received"] += 1
        tr = self.trace
        if tr is not None:
            self._recv_row = tr.emit(now, EventKind.SEG_RECV, self.node, self.id, uid, seg.seq,
                                     seg.ack, len(seg.payload), seg.flags)
        self._cause = uid
        self._last_heard = now
        self._ka_probes = 0
        # RFC 7323 2.3: the window field of a non-SYN segment is shifted by Snd.Wind.Shift.
        self._seg_wnd = seg.window if seg.flags & SYN else seg.window << self.snd_wscale
        self._seg_ts = self._seg_sack = None
        opts = seg.options
        if not opts or not (self.ts_ok or self.sack_ok):
            pass
        elif len(opts) == 3 and opts[2].kind == OPT_TIMESTAMP:
            self._seg_ts = opts[2].value if self.ts_ok else None    # the usual NOP, NOP, TS
        else:
            for opt in opts:                 # one pass over the options for both
                if opt.kind == OPT_TIMESTAMP:
                    self._seg_ts = opt.value if self.ts_ok else None
                elif opt.kind == OPT_SACK:
                    self._seg_sack = opt.value if self.sack_ok else None
        st = self.state
        if st == S.LISTEN:
            outcome = self._seg_listen(now, seg)
        elif st == S.SYN_SENT:
            outcome = self._seg_syn_sent(now, seg)
        elif st == S.CLOSED:
            outcome = RecvOutcome.NO_CONNECTION
        else:
            outcome = self._seg_synchronized(now, seg)
        if tr is not None:
            tr.set_d(self._recv_row, seg.flags | (int(outcome) << 16))
        self._cause = -1
        return outcome

    def _seg_listen(self, now: int, seg: Segment) -> RecvOutcome:
        """LISTEN (RFC 9293 3.10.7.2)."""
        if seg.flags & RST:
            return RecvOutcome.RST_IGNORED
        if seg.flags & ACK:
            self._emit(Segment(self.local_port, self.remote_port, seg.ack, 0, RST, 0),
                       SendReason.RST_BAD_ACK)
            return RecvOutcome.BAD_ACK
        if not seg.flags & SYN:
            return RecvOutcome.STALE
        self._learn_peer(seg)
        self.snd_nxt = self.snd_max = self.iss
        self.snd_una = self.iss
        self._set_state(now, S.SYN_RECEIVED)
        self._send_syn(now, SendReason.SYN_ACK)
        return RecvOutcome.SYN_ACCEPTED

    def _seg_syn_sent(self, now: int, seg: Segment) -> RecvOutcome:
        """SYN-SENT (RFC 9293 3.10.7.3)."""
        flags = seg.flags
        ack_ok = False
        if flags & ACK:
            if _le(seg.ack, self.iss) or _lt(self.snd_max, seg.ack):
                if not flags & RST:
                    self._emit(Segment(self.local_port, self.remote_port, seg.ack, 0, RST, 0),
                               SendReason.RST_BAD_ACK)
                return RecvOutcome.BAD_ACK
            ack_ok = True
        if flags & RST:
            if ack_ok:
                self._delete(now, Note.REFUSED)
                return RecvOutcome.RST_ACCEPTED
            return RecvOutcome.RST_IGNORED
        if not flags & SYN:
            return RecvOutcome.STALE
        self._learn_peer(seg)
        if ack_ok:
            self._ack_advance(now, seg.ack, seg)
        self._update_window(now, seg)
        if _lt(self.iss, self.snd_una):
            self._establish(now)
            # The handshake's third segment goes out on its own, as real stacks send it.
            self._emit(self._segment(self.snd_nxt, ACK), SendReason.ACK)
            self._transmit(now)
        else:
            # Simultaneous open: answer with SYN,ACK and wait for its acknowledgment.
            self._set_state(now, S.SYN_RECEIVED)
            self.snd_nxt = self.iss
            self._send_syn(now, SendReason.SYN_ACK)
        return RecvOutcome.SYN_ACCEPTED

    def _seg_synchronized(self, now: int, seg: Segment) -> RecvOutcome:
        """SYN-RECEIVED .. TIME-WAIT (RFC 9293 3.10.7.4), checks in the RFC's order."""
        flags = seg.flags
        seg_len = seg.seg_len
        if flags & SYN and not flags & ACK and self.state == S.SYN_RECEIVED and seg.seq == self.irs:
            # The peer repeated its SYN: our SYN-ACK was probably lost. Answer it again.
            self._send_syn(now, SendReason.SYN_RETRY)
            return RecvOutcome.DUPLICATE
        ts = self._seg_ts
        if ts is not None and not flags & RST and ((ts[0] - self.ts_recent) & MASK) >= HALF:
            # PAWS (RFC 7323 5.3 R1): an older timestamp than the last one taken in means an
            # old duplicate (perhaps from before a sequence-number wrap): ACK and drop it.
            self._send_ack(now, SendReason.DUP_ACK)
            return RecvOutcome.PAWS_REJECTED
        if ts is None and self.ts_ok and not flags & RST:
            # RFC 7323 3.2: once timestamps are in use, a non-RST segment without them
            # SHOULD be silently dropped.
            return RecvOutcome.NO_TIMESTAMP
        # First: sequence number acceptability.
        if not self._acceptable(seg.seq, seg_len):
            if flags & RST:
                return RecvOutcome.RST_IGNORED
            if flags & FIN and self.peer_fin:
                self._send_ack(now, self._receive_fin(now, -1))
                return RecvOutcome.DUPLICATE
            self._send_ack(now, SendReason.DUP_ACK)
            if (self.rcv_wnd == 0 and flags & ACK and self.state != S.SYN_RECEIVED
                    and seg.seq == self.rcv_nxt):
                # RFC 9293 3.10.7.4: with a zero window no text is acceptable, but valid ACKs
                # (such as the one carried by a window probe) are still processed.
                self._process_ack(now, seg)
            return RecvOutcome.OUT_OF_WINDOW
        if (ts is not None and ((self.last_ack_sent - seg.seq) & MASK) < HALF
                and ((ts[0] - self.ts_recent) & MASK) < HALF):
            # RFC 7323 4.3 (3): SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent: the
            # timestamp to echo from now on.
            self.ts_recent = ts[0]
        # Second: RST (RFC 5961 3.2: only an exact match resets; in-window gets a challenge ACK).
        if flags & RST:
            if seg.seq != self.rcv_nxt:
                self._send_ack(now, SendReason.CHALLENGE_ACK)
                return RecvOutcome.RST_IGNORED
            if self.state == S.SYN_RECEIVED and self._passive:
                # Back to LISTEN is what RFC 9293 asks; we model one connection per SYN,
                # so the listener simply forgets this one.
                self._delete(now, Note.CLOSED)
            elif self.state == S.SYN_RECEIVED:
                # Simultaneous open from an active OPEN: "connection refused" (3.10.7.4).
                self._delete(now, Note.REFUSED)
            elif self.state in (S.CLOSING, S.LAST_ACK, S.TIME_WAIT):
                self._delete(now, Note.CLOSED)
            else:
                self._delete(now, Note.RESET)
            return RecvOutcome.RST_ACCEPTED
        # Fourth: SYN in a synchronized state (RFC 5961 4.2: challenge ACK).
        if flags & SYN:
            self._send_ack(now, SendReason.CHALLENGE_ACK)
            return RecvOutcome.STALE
        # Fifth: ACK field.
        if not flags & ACK:
            return RecvOutcome.STALE
        outcome = self._process_ack(now, seg)
        if self.state == S.CLOSED or outcome == RecvOutcome.BAD_ACK:
            # "send an ACK (or RST in SYN-RECEIVED), drop the segment, and return"
            return outcome
        # Seventh: segment text; eighth: FIN. One ACK answers both.
        fin_off = None
        if flags & FIN:
            fin_off = self.received + _diff(seg.seq, self.rcv_nxt) + len(seg.payload)
        data_outcome = None
        ack_reason = None
        if seg.payload:
            if self.state in CAN_RECEIVE:
                data_outcome = self._receive_data(now, seg)
            else:
                data_outcome = RecvOutcome.DUPLICATE
            ack_reason = (SendReason.ACK if data_outcome in (RecvOutcome.IN_ORDER,
                                                             RecvOutcome.FILLED_HOLE)
                          else SendReason.DUP_ACK)
        if fin_off is not None:
            ack_reason = self._receive_fin(now, fin_off)
        elif (data_outcome == RecvOutcome.IN_ORDER and self.cfg.delayed_ack
              and not self.ooo.held_bytes):
            # RFC 5681 4.2 / RFC 9293 3.8.6.3: an ACK may wait (at most delack_time) but at
            # least every second full-sized segment is acknowledged at once. Out-of-order data
            # and data filling all or part of a gap are acknowledged at once.
            self._delack_bytes += len(seg.payload)
            if self._delack_bytes < 2 * self.smss:
                ack_reason = None
                if self.deadlines[TimerKind.DELACK] is None:
                    self._arm(now, TimerKind.DELACK, self.cfg.delack_time)
        if ack_reason is not None:
            self._send_ack(now, ack_reason)
        return data_outcome if data_outcome is not None else outcome

    def _acceptable(self, seq: int, seg_len: int) -> bool:
        """The four cases of RFC 9293 3.10.7.4 first check."""
        wnd = self.rcv_wnd
        nxt = self.rcv_nxt
        if seg_len == 0:
            if wnd == 0:
                return seq == nxt
            # The RFC's test is RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND; like Linux we also take
            # SEG.SEQ at the right edge itself, which is where a peer that has filled our
            # window puts its ACKs (3.10.7.4 asks for allowance for valid ACKs).
            return _le(nxt, seq) and _le(seq, (nxt + wnd) & MASK)
        if wnd == 0:
            return False
        end = (seq + seg_len - 1) & MASK
        right = (nxt + wnd) & MASK
        return (_le(nxt, seq) and _lt(seq, right)) or (_le(nxt, end) and _lt(end, right))

    def _process_ack(self, now: int, seg: Segment) -> RecvOutcome:
        """Fifth check (RFC 9293 3.10.7.4), with the per-state differences."""
        st = self.state
        ack = seg.ack
        if st == S.SYN_RECEIVED:
            if _lt(self.snd_una, ack) and _le(ack, self.snd_max):
                self._establish(now)
                self.snd_wnd = self._seg_wnd
                self.snd_wl1, self.snd_wl2 = seg.seq, ack
                self.max_snd_wnd = max(self.max_snd_wnd, self._seg_wnd)
                st = S.ESTABLISHED
            else:
                self._emit(Segment(self.local_port, self.remote_port, ack, 0, RST, 0),
                           SendReason.RST_BAD_ACK)
                return RecvOutcome.BAD_ACK
        if st == S.TIME_WAIT:
            return RecvOutcome.ACCEPTED
        if _lt(self.snd_max, ack):
            # Acknowledges something not yet sent: ACK and drop (RFC 9293 3.10.7.4).
            self._send_ack(now, SendReason.ACK)
            return RecvOutcome.BAD_ACK
        outcome = RecvOutcome.ACCEPTED
        gained = self._take_sack(now, seg) if self._seg_sack else 0
        if ack == self.snd_una and self._seg_wnd == 0:
            self.retries = 0       # the peer is alive, only its window is closed (RFC 1122 4.2.2.17)
        if _lt(self.snd_una, ack):
            self._ack_advance(now, ack, seg)
        elif ack == self.snd_una and self._is_dup_ack(seg):
            self.dupacks += 1
            self.stats["dup_acks_received"] += 1
            outcome = RecvOutcome.DUP_ACK
            self._on_dup_ack(now)
        elif gained and ack == self.snd_una and self.snd_max != self.snd_una:
            # RFC 6675 section 2 "duplicate acknowledgment": with SACK in use, an ACK that
            # SACKs new data counts even if it is not one by RFC 5681's definition (say the
            # window moved). Counted for recovery only; the trace and the statistics keep
            # RFC 5681's meaning, which is what Wireshark reports too.
            self.dupacks += 1
            self._on_dup_ack(now)
        if (self.sack_ok and self.sb.starts and not self.in_recovery and self.cfg.fast_retransmit
                and self.sb.lost_below(self.smss) > self._off(self.snd_una)):
            # RFC 6675 section 5 (b): enough is SACKed above SND.UNA to call it lost
            # (IsLost(HighACK + 1)), however few duplicate ACKs have arrived.
            self._enter_recovery(now)
        self._update_window(now, seg)
        if self._partial_ack_retx:
            self._partial_ack_retx = False
            self._retransmit_head(now, SendReason.PARTIAL_ACK_RETX)
        if self.fin_sent and self.snd_una == ((self._fin_seq() + 1) & MASK) and not self.fin_acked:
            self.fin_acked = True
            if st == S.FIN_WAIT_1:
                self._set_state(now, S.FIN_WAIT_2)
            elif st == S.CLOSING:
                self._enter_time_wait(now)
            elif st == S.LAST_ACK:
                self._delete(now, Note.CLOSED)
                return outcome
        if self.state in CAN_SEND:
            self._transmit(now)
        return outcome

    def _is_dup_ack(self, seg: Segment) -> bool:
        """RFC 5681 section 2 'DUPLICATE ACKNOWLEDGMENT': outstanding data, no payload, no SYN
        or FIN, same ACK number and the same advertised window. An ACK that keeps a zero
        window open-shut answers a window probe and is not counted."""
        return (self.snd_max != self.snd_una and not seg.payload and not seg.flags & (SYN | FIN)
                and self._seg_wnd == self.snd_wnd and self._seg_wnd != 0)

    def _on_dup_ack(self, now: int) -> None:
        """A duplicate ACK (RFC 5681 section 2). The third one starts fast retransmit and fast
        recovery (RFC 5681 3.2 steps 2-3), unless it only covers data sent before a timeout
        or an earlier recovery (RFC 6582 3.2 step 2: ``recover``); in recovery each further one
        inflates cwnd by one segment (step 4) so new data keeps the ACK clock running."""
        if self.in_recovery:
            if not self._sack_recovery:
                self.cc.on_dup_ack_in_recovery(self.ccs, now)
            return
        if self.dupacks < DUPTHRESH:
            if self.cfg.limited_transmit:
                self._limited_transmit(now)
            return
        if self.dupacks != DUPTHRESH or not self.cfg.fast_retransmit:
            return
        self._enter_recovery(now)

    def _enter_recovery(self, now: int) -> None:
        """Loss detected: retransmit SND.UNA's segment at once and enter loss recovery, unless
        the loss only concerns data sent before a timeout or an earlier recovery (RFC 6582 3.2
        step 2: ``recover``). With SACK in use this is RFC 6675 section 5 steps 4.1-4.4:
        RecoveryPoint = HighData, cwnd = ssthresh, then as many segments as the pipe allows;
        without, RFC 5681 3.2 steps 2-3 with NewReno's ``recover`` (RFC 6582)."""
        if not _lt(self.recover, self.snd_una):
            return
        # RFC 5681 3.2 step 2 with RFC 3042: segments sent by limited transmit do not count
        # in the FlightSize that halves the window.
        flight = _diff(self.snd_max, self.snd_una) - self._limited_bytes
        self.recover = (self.snd_max - 1) & MASK
        self.in_recovery = True
        self._sack_recovery = self.sack_ok
        self._detect(now, Detection.RECOVERY_START, self.recover, int(self._sack_recovery), flight)
        self._timed = None                 # Karn: the retransmitted segment gives no sample
        self._note_retransmit(now, SendReason.FAST_RETX)
        if self._sack_recovery:
            self.cc.on_enter_sack_recovery(self.ccs, now, flight)
            self.sb.high_rxt = self.sb.rescue_rxt = -1
            n = self._retransmit_head(now, SendReason.FAST_RETX)
            # RFC 6675 5 (4.3): HighRxt and RescueRxt both at the end of this retransmission,
            # so that no rescue goes out before the cumulative ACK passes it.
            self.sb.high_rxt = self.sb.rescue_rxt = self._off(self.snd_una) + n
            self._sack_transmit(now)
        else:
            self.cc.on_enter_recovery(self.ccs, now, flight)
            self._retransmit_head(now, SendReason.FAST_RETX)

    def _take_sack(self, now: int, seg: Segment) -> int:
        """Fold an ACK's SACK blocks into the scoreboard (RFC 2018 section 5; RFC 6675
        ``Update()``). Blocks outside (SND.UNA, SND.MAX] are ignored (a D-SACK of RFC 2883 or
        a stale report)."""
        blocks = self._seg_sack
        una = self._off(seg.ack) if _lt(self.snd_una, seg.ack) and _le(seg.ack, self.snd_max) \
            else self._off(self.snd_una)
        top = min(self._off(self.snd_max), self.written)
        gained = 0
        for left, right in blocks:
            lo, hi = self._off(left), self._off(right)
            if not una < hi <= top or hi <= lo:
                continue
            gained += self.sb.add(max(lo, una), hi)
        if gained:
            self._trace_sacked(now)
        return gained

    def _trace_sacked(self, now: int) -> None:
        if self.trace is None:
            return
        base = (self.iss + 1) & MASK
        ranges = tuple(((base + a) & MASK, (base + b) & MASK) for a, b in self.sb.ranges())
        self.trace.emit(now, EventKind.SACKED, self.node, self.id, self._cause, self.sb.sacked,
                        len(ranges), extra=ranges)

    def _sack_transmit(self, now: int) -> None:
        """RFC 6675 section 5 step (C): while cwnd - pipe >= 1 SMSS, send what ``NextSeg()``
        names: a lost segment (rule 1), else new data (rule 2), else an un-SACKed segment not
        yet deemed lost (rule 3), else once per episode a rescue retransmission of the highest
        un-SACKed bytes (rule 4)."""
        sb, smss = self.sb, self.smss
        una = self._off(self.snd_una)
        for _ in range(10_000):
            high = min(self._off(self.snd_max), self.written)
            if self.ccs.cwnd - sb.pipe(una, high, smss) < smss:
                return
            nxt = sb.next_seg(una, high, smss)
            if nxt is not None and nxt[2]:
                if self._retransmit_at(now, nxt[0], nxt[1], SendReason.SACK_RETX):
                    continue
                return                   # nothing fits the peer's window
            if self._send_new_in_recovery(now):
                continue
            if nxt is not None:
                if self._retransmit_at(now, nxt[0], nxt[1], SendReason.SACK_RETX):
                    continue
                return
            rp = self._off((self.recover + 1) & MASK)
            if (sb.rescue_rxt < 0 or una > sb.rescue_rxt) and high > una:
                end = high
                if end > una and sb.is_sacked(end - 1):      # skip the SACKed top range
                    end = max(una, sb.starts[bisect_right(sb.starts, end - 1) - 1])
                if end > max(una, sb.high_rxt):
                    k = bisect_right(sb.ends, end) - 1      # the SACKed range below `end`
                    start = max(una, end - smss, sb.ends[k] if k >= 0 else 0)
                    sent = self._retransmit_at(now, start, end - start, SendReason.SACK_RETX,
                                               rescue=True)
                    sb.rescue_rxt = rp
                    if sent:
                        continue
            return

    def _send_new_in_recovery(self, now: int) -> bool:
        """RFC 6675 NextSeg rule 2: one segment of new data if the peer's window allows."""
        if self.snd_nxt != self.snd_max or not self.state in CAN_SEND:
            return False
        off = self._off(self.snd_max)
        unsent = self.written - off
        room = self.snd_wnd - _diff(self.snd_max, self.snd_una)
        n = min(self.smss, unsent, room)
        if n <= 0:
            return False
        start = off - self._snd_off
        flags = ACK
        if n == unsent:
            flags |= PSH | (FIN if self.fin_queued else 0)
        self._send_data(now, self.snd_max, flags, bytes(self._snd_data[start:start + n]))
        return True

    def _note_retransmit(self, now: int, reason: SendReason) -> None:
        """Eifel detection (RFC 3522 section 2): remember the TSval carried by the first
        retransmission of the segment at SND.UNA."""
        if self.ts_ok and (self._eifel is None or self._eifel[0] != self.snd_una):
            self._eifel = (self.snd_una, self._ts_now(now), reason)

    def _eifel_check(self, now: int, tsecr: int | None) -> None:
        """The first ACK covering a retransmitted segment (RFC 3522 section 2): if it echoes
        a timestamp older than the retransmission's, the original had arrived and the
        retransmission was spurious. Reported in the trace; the response (RFC 4015) is not
        taken: the congestion window stays reduced."""
        seq, retx_ts, reason = self._eifel
        self._eifel = None
        if tsecr is None:
            return
        spurious = _lt(tsecr, retx_ts)
        if spurious:
            self.stats["spurious_retransmissions"] = self.stats.get("spurious_retransmissions", 0) + 1
        self._detect(now, Detection.SPURIOUS_RETX if spurious else Detection.GENUINE_RETX, seq,
                     int(reason), (retx_ts - tsecr) & MASK)

    def _detect(self, now: int, what: Detection, b: int = 0, c: int = 0, d: int = 0) -> None:
        if self.trace is not None:
            self.trace.emit(now, EventKind.DETECT, self.node, self.id, self._cause, int(what), b, c, d)

    def _limited_transmit(self, now: int) -> None:
        """RFC 3042: on the first and second duplicate ACK send one new segment, if the
        peer's window allows and no more than cwnd + 2*SMSS would be outstanding; cwnd is
        not changed. It keeps the ACK clock going so that a small window can still reach
        three duplicate ACKs."""
        if self.state not in CAN_SEND or self.snd_nxt != self.snd_max:
            return
        off = self._off(self.snd_nxt)
        n = min(self.smss, self.written - off)
        flight = _diff(self.snd_nxt, self.snd_una)
        if n <= 0 or flight + n > self.ccs.cwnd + 2 * self.smss or flight + n > self.snd_wnd:
            return
        start = off - self._snd_off
        flags = ACK | (PSH if off + n == self.written else 0)
        self._send_data(now, self.snd_nxt, flags, bytes(self._snd_data[start:start + n]),
                        SendReason.LIMITED_TRANSMIT)
        self._limited_bytes += n

    def _retransmit_head(self, now: int, reason: SendReason) -> int:
        """Resend the first unacknowledged segment (up to one SMSS from SND.UNA, stopping at
        SACKed data), leaving SND.NXT where it is. Returns the data bytes resent."""
        off = self._off(self.snd_una)
        n = self.smss
        if self.sb.starts:
            nxt = self.sb.next_sacked(off)
            if nxt is not None:
                n = min(n, nxt - off)
        return self._retransmit_at(now, off, n, reason)

    def _retransmit_at(self, now: int, off: int, n: int, reason: SendReason,
                       rescue: bool = False) -> int:
        """Resend up to ``n`` bytes from stream offset ``off`` (with our FIN if they end the
        stream and it was sent), leaving SND.NXT where it is. Returns the data bytes resent."""
        sent_end = min(self.written, self._off(self.snd_max))
        # Only bytes already sent, and never beyond the peer's window (a zero window is the
        # persist timer's business).
        n = min(n, sent_end - off, self.snd_wnd)
        if n > 0:
            start = off - self._snd_off
            payload = bytes(self._snd_data[start:start + n])
            flags = ACK | (PSH if off + n == self.written else 0)
            if off + n == self.written and self.fin_sent:
                flags |= FIN
        elif self.fin_sent and off >= self.written:
            payload, flags = b"", ACK | FIN
        else:
            return 0
        self._count_retx(reason)
        self.stats["data_segments_sent"] += 1 if payload else 0
        self.stats["bytes_sent"] += len(payload)
        self._emit(self._segment((self.iss + 1 + off) & MASK, flags, payload), reason)
        if self.sb.high_rxt >= 0 and off + n > self.sb.high_rxt and not rescue:
            self.sb.high_rxt = off + n     # RFC 6675 NextSeg: HighRxt (not for the rescue)
        return n

    def _ack_advance(self, now: int, ack: int, seg: Segment) -> None:
        """New data acknowledged: free it, take an RTT sample (Karn), grow cwnd, manage the
        retransmission timer (RFC 6298 5.2, 5.3)."""
        acked = _diff(ack, self.snd_una)
        syn_part = 1 if self.snd_una == self.iss else 0
        if syn_part and self.deadlines[TimerKind.SYN] is not None:
            self._cancel(now, TimerKind.SYN)
        data_acked = min(acked - syn_part, len(self._snd_data))
        if data_acked > 0:
            del self._snd_data[:data_acked]
            self._snd_off += data_acked
        flight_before = _diff(self.snd_max, self.snd_una)
        self.snd_una = ack
        self._una_since = now
        if self.sb.starts and self.sb.advance(self._off(ack)):
            self._trace_sacked(now)
        if _lt(self.snd_nxt, ack):
            self.snd_nxt = ack
        self.dupacks = 0
        self._limited_bytes = 0
        self.retries = 0
        ts = self._seg_ts
        tsecr = ts[1] if ts is not None else None
        sample = None
        if tsecr is not None:
            # RFC 7323 4.1-4.2: every ACK of new data echoes the TSval of the segment that
            # triggered it, retransmissions included (Karn's ambiguity does not arise).
            sample = ((now // 1_000_000 + self.ts_offset - tsecr) & MASK) * 1_000_000
            self._timed = None
        elif self._timed is not None and _le(self._timed[0], ack):
            sample = now - self._timed[1]
            self._timed = None
        if sample is not None:
            self.rtt.sample(sample)
        if self._eifel is not None and _lt(self._eifel[0], ack):
            self._eifel_check(now, tsecr)
        # Otherwise a backed-off RTO stays until a valid sample (RFC 6298 section 3, Karn).
        if self.in_recovery:
            self._recovery_ack(now, ack, acked)
        elif self.state not in (S.SYN_SENT, S.SYN_RECEIVED) and not syn_part:
            self.cc.on_ack(self.ccs, now, acked, flight_before, sample)
        if self.snd_una == self.snd_max:
            self._cancel(now, TimerKind.RTO)
            self._cancel(now, TimerKind.SYN)
        elif self.deadlines[TimerKind.PERSIST] is None:
            self._arm_rto(now)     # RFC 6298 5.3
        if self._writer_waits and self.cfg.snd_buf - len(self._snd_data) >= self.cfg.snd_buf // 2:
            # Wake a writer that found the buffer full once half of it is free again (as
            # sockets do), not for every acknowledged segment.
            self._writer_waits = False
            self.notes.append(Note.WRITABLE)

    def _recovery_ack(self, now: int, ack: int, acked: int) -> None:
        """New data acknowledged during fast recovery (RFC 6582 3.2 steps 5-6). A full ACK
        (covering ``recover``) ends recovery and deflates cwnd; a partial ACK tells NewReno the
        next hole, which it retransmits at once, staying in recovery (Reno leaves it)."""
        if _lt(self.recover, ack) or (self.cc.exits_recovery_on_partial_ack
                                      and not self._sack_recovery):
            self.in_recovery = False
            self._sack_recovery = False
            self.sb.high_rxt = -1
            self._detect(now, Detection.RECOVERY_END, ack)
            self.cc.on_exit_recovery(self.ccs, now, _diff(self.snd_max, ack))
            return
        if self._sack_recovery:
            return     # RFC 6675: the scoreboard, not the partial ACK, says what to resend
        self._partial_ack_retx = True      # sent once the ACK's window has been taken in
        self.cc.on_partial_ack(self.ccs, now, acked)

    def _update_window(self, now: int, seg: Segment) -> None:
        """Send-window update rule of RFC 9293 3.10.7.4 (SND.WL1/SND.WL2 guard old segments)."""
        if (_lt(self.snd_wl1, seg.seq) or (self.snd_wl1 == seg.seq and _le(self.snd_wl2, seg.ack))
                or self.snd_wnd == 0 and seg.ack == self.snd_una and self.snd_wl1 == seg.seq):
            was_closed = self.snd_wnd == 0
            wnd = self._seg_wnd
            self.snd_wnd = wnd
            self.snd_wl1 = seg.seq
            self.snd_wl2 = seg.ack
            if wnd > self.max_snd_wnd:
                self.max_snd_wnd = wnd
            if wnd > 0 and was_closed:
                # The window reopened. Whatever we sent beyond it meanwhile (a probe byte) the
                # peer refused unless this ACK covers it: send again from SND.UNA.
                self._cancel(now, TimerKind.PERSIST)
                self._persist_backoff = 0
                if _lt(self.snd_una, self.snd_nxt) and self.state in CAN_SEND:
                    self.snd_nxt = self.snd_una
                    self._after_probe = True

    def _receive_data(self, now: int, seg: Segment) -> RecvOutcome:
        """Seventh check: place the text in the receive buffer or the out-of-order queue."""
        data = seg.payload
        d = _diff(seg.seq, self.rcv_nxt)
        if d < 0:
            data = data[-d:]
            d = 0
        room = self.rcv_wnd - d
        if room <= 0 or not data:
            return RecvOutcome.DUPLICATE
        if len(data) > room:
            data = data[:room]
        if d > 0:
            added = self.ooo.add(self.received + d, bytes(data))
            if added:
                self._trace_ooo(now)
            return RecvOutcome.OUT_OF_ORDER
        filled = bool(self.ooo)
        self._append_in_order(now, data)
        if filled:
            more = self.ooo.pop_contiguous(self.received)
            if more:
                self._append_in_order(now, more)
            self._trace_ooo(now)
        self._check_peer_fin(now)       # a FIN that arrived early may now be in order
        return RecvOutcome.FILLED_HOLE if filled else RecvOutcome.IN_ORDER

    def _append_in_order(self, now: int, data: bytes) -> None:
        offset = self.received
        self._rcv_data += data
        self.received += len(data)
        self.rcv_nxt = (self.rcv_nxt + len(data)) & MASK
        self._update_rcv_wnd()
        if self.trace is not None:
            self.trace.push((now, _DELIVER, self.node, self.id, self._cause, len(data), offset,
                             len(self._rcv_data), 0))
        self.notes.append(Note.READABLE)

    def _receive_fin(self, now: int, fin_off: int) -> SendReason:
        """Eighth check: the peer's FIN at stream offset ``fin_off``. An out-of-order FIN is
        remembered until the bytes before it arrive. Returns the reason for the ACK it needs."""
        if self.peer_fin:
            # A retransmitted FIN: acknowledge again; in TIME-WAIT restart the 2 MSL wait.
            if self.state == S.TIME_WAIT:
                self._arm(now, TimerKind.TIME_WAIT, 2 * self.cfg.msl)
                return SendReason.TIME_WAIT_ACK
            return SendReason.DUP_ACK
        if fin_off < self.received:
            return SendReason.DUP_ACK
        self._peer_fin_off = fin_off
        return SendReason.ACK if self._check_peer_fin(now) else SendReason.DUP_ACK

    def _check_peer_fin(self, now: int) -> bool:
        """Process the peer's FIN once every byte before it has arrived (RFC 9293 3.10.7.4,
        eighth check): advance RCV.NXT over it and change state."""
        if self._peer_fin_off is None or self.peer_fin or self._peer_fin_off != self.received:
            return False
        self.peer_fin = True
        self.rcv_nxt = (self.rcv_nxt + 1) & MASK
        self.notes.append(Note.PEER_FIN)
        st = self.state
        if st in (S.SYN_RECEIVED, S.ESTABLISHED):
            self._set_state(now, S.CLOSE_WAIT)
        elif st == S.FIN_WAIT_1:
            if self.fin_acked:
                self._enter_time_wait(now)
            else:
                self._set_state(now, S.CLOSING)
        elif st == S.FIN_WAIT_2:
            self._enter_time_wait(now)
        return True

    # ---------------------------------------------------------------- timers
    def on_timer(self, now: int, kind: TimerKind) -> None:
        """A deadline in ``deadlines`` was reached. Stale calls (deadline moved) are ignored."""
        deadline = self.deadlines[kind]
        if deadline is None or deadline != now:
            return
        self.deadlines[kind] = None
        ran = now - self._armed_at[kind]
        if self.trace is not None:
            self.trace.emit(now, EventKind.TIMER_EXPIRE, self.node, self.id, -1, int(kind), ran,
                            self.snd_una, self.snd_nxt)
        if kind == TimerKind.RTO:
            self._on_rto(now)
        elif kind == TimerKind.SYN:
            self._on_syn_timeout(now)
        elif kind == TimerKind.TIME_WAIT:
            self._delete(now, Note.CLOSED)
        elif kind == TimerKind.PERSIST:
            self._on_persist(now)
        elif kind == TimerKind.DELACK:
            if self.state in SYNCHRONIZED:
                self._send_ack(now, SendReason.DELAYED_ACK)
        elif kind == TimerKind.KEEPALIVE:
            self._on_keepalive(now)

    def _on_keepalive(self, now: int) -> None:
        """RFC 9293 3.8.4 / RFC 1122 4.2.3.6: after ``keepalive_time`` without hearing from the
        peer, while nothing is outstanding, send a probe that the peer must answer: an ACK with
        SEG.SEQ = SND.UNA - 1, a sequence number it has already received, which draws an ACK
        (3.10.7.4). Every ``keepalive_interval`` another, until ``keepalive_probes`` went
        unanswered: then the connection is given up. Anything heard from the peer restarts
        the idle clock."""
        cfg = self.cfg
        if self.state not in (S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_2):
            if self.state in (S.FIN_WAIT_1, S.CLOSING, S.LAST_ACK):
                # Our FIN is outstanding (the retransmission timer watches); FIN-WAIT-2 may
                # follow, where an idle peer is probed again.
                self._arm(now, TimerKind.KEEPALIVE, cfg.keepalive_time)
            return
        idle = now - self._last_heard
        if self._ka_probes == 0 and idle < cfg.keepalive_time:
            self._arm(now, TimerKind.KEEPALIVE, cfg.keepalive_time - idle)
            return
        if self.snd_una != self.snd_max:
            # Data is outstanding: the retransmission timer watches the peer.
            self._arm(now, TimerKind.KEEPALIVE, cfg.keepalive_time)
            return
        if self._ka_probes >= cfg.keepalive_probes:
            self._detect(now, Detection.PEER_DEAD, self._ka_probes, 0)
            self._delete(now, Note.TIMEOUT)
            return
        self._ka_probes += 1
        self._emit(self._segment((self.snd_una - 1) & MASK, ACK), SendReason.KEEPALIVE)
        self._arm(now, TimerKind.KEEPALIVE, cfg.keepalive_interval)

    def _on_rto(self, now: int) -> None:
        """RFC 6298 5.4-5.6: retransmit the earliest unacknowledged segment, back off, restart;
        RFC 5681 3.1 eq. 4: ssthresh = max(FlightSize/2, 2*SMSS), cwnd = 1 SMSS."""
        if self.snd_una == self.snd_max:
            return
        self.retries += 1
        ut = self.cfg.user_timeout
        if ut and now - self._una_since >= ut:
            # RFC 9293 3.8.3 / RFC 5482: data unacknowledged for the user timeout: give up.
            self._detect(now, Detection.PEER_DEAD, (now - self._una_since) // 1_000_000, 1)
            self._emit(Segment(self.local_port, self.remote_port, self._ack_seq(), 0, RST, 0),
                       SendReason.RST_ABORT)
            self._delete(now, Note.TIMEOUT)
            return
        if self.retries > self.cfg.max_retries:
            self._emit(Segment(self.local_port, self.remote_port, self._ack_seq(), 0, RST, 0),
                       SendReason.RST_ABORT)
            self._delete(now, Note.TIMEOUT)
            return
        if self.snd_wnd == 0 and self.state in CAN_SEND:
            # The peer closed its window with our data outstanding: nothing was lost, so no
            # congestion response; resend the first byte as a probe so the peer answers with
            # its window (RFC 9293 3.8.6.1). The count of unanswered tries still grows, and
            # any answer resets it (RFC 1122 4.2.2.17): only a silent peer is given up on.
            self.rtt.on_timeout()
            self._timed = None
            self._send_probe(now)
            self._arm_rto(now)
            return
        flight = _diff(self.snd_max, self.snd_una)
        if self.in_recovery:
            # This loss episode already reduced ssthresh on entering recovery. RFC 5681 eq. 4
            # with a FlightSize swollen by the new data fast recovery sent would undo that
            # reduction; like Linux (tcp_enter_loss), keep the episode's ssthresh and treat
            # the timeout as a repeat for the congestion-control algorithm.
            self.ccs.timer_retransmitted = True
        self.cc.on_rto(self.ccs, now, flight)
        # RFC 6582 section 4: after a timeout, no fast retransmit for data sent before it.
        if self.in_recovery:
            self._detect(now, Detection.RECOVERY_END, -1)
        self.in_recovery = False
        # RFC 6675 5.1: the scoreboard is kept (our receivers never renege), so go-back-N
        # below skips what the peer holds; retransmission marks start afresh.
        self._sack_recovery = False
        self.sb.high_rxt = self.sb.rescue_rxt = -1
        self._note_retransmit(now, SendReason.RTO_RETX)
        self.recover = (self.snd_max - 1) & MASK
        self.dupacks = 0
        self.rtt.on_timeout()
        self._timed = None                      # Karn: no sample from a retransmitted segment
        self.snd_nxt = self.snd_una             # go back N: resend from the first hole
        self._rto_pending = True
        self._transmit(now)
        self._rto_pending = False
        self._arm_rto(now)

    def _on_syn_timeout(self, now: int) -> None:
        """SYN or SYN-ACK not acknowledged in time: retry with doubled timeout (RFC 6298 5.5)."""
        if self.state == S.FIN_WAIT_1 and self.snd_una == self.iss:
            # Closed in SYN-RECEIVED (our FIN already sent): the SYN-ACK is still unanswered.
            self.retries += 1
            if self.retries > self.cfg.syn_retries:
                self._delete(now, Note.TIMEOUT)
                return
            self.rtt.on_timeout()
            self._count_retx(SendReason.SYN_RETRY)
            self._emit(self._segment(self.iss, SYN | ACK, b"", self._syn_options(now, True)),
                       SendReason.SYN_RETRY)
            self._arm(now, TimerKind.SYN, self.rtt.rto)
            return
        if self.state not in (S.SYN_SENT, S.SYN_RECEIVED):
            return
        self.retries += 1
        ut = self.cfg.user_timeout
        if self.retries > self.cfg.syn_retries or ut and now - self._una_since >= ut:
            # Retries exhausted, or the user timeout (RFC 9293 3.10.8: in any state) is up.
            self._delete(now, Note.TIMEOUT)
            return
        self.rtt.on_timeout()
        self._send_syn(now, SendReason.SYN_RETRY)

    def _on_persist(self, now: int) -> None:
        """RFC 9293 3.8.6.1: the peer's window is zero; probe it with the next byte of data.

        The byte is really sent (SND.NXT and SND.MAX move past it, as BSD's forced one-byte
        send does): when the window has reopened without our hearing of it, the peer keeps the
        byte and acknowledges it. Later probes resend the same byte (and count as
        retransmissions). The persist timer backs off like the RTO."""
        if self.snd_wnd > 0 or self.state not in CAN_SEND:
            self._persist_backoff = 0
            self._transmit(now)
            return
        self._send_probe(now)
        self._persist_backoff += 1
        self._arm_persist(now)

    def _send_probe(self, now: int) -> None:
        """Send the byte at SND.UNA beyond a zero window (a FIN alone if no data is left)."""
        off = self._off(self.snd_una)
        if off >= self.written:
            if self.fin_sent:
                self._send_data(now, self.snd_una, ACK | FIN, b"")
            return
        start = off - self._snd_off
        payload = bytes(self._snd_data[start:start + 1])
        if self.snd_una == self.snd_max:
            self._una_since = now        # the probe byte is the first data waiting
        end = (self.snd_una + 1) & MASK
        if _lt(self.snd_max, end):
            self.snd_max = end
        else:
            self._count_retx(SendReason.WINDOW_PROBE)
        if _lt(self.snd_nxt, end):
            self.snd_nxt = end
        self._emit(self._segment(self.snd_una, ACK, payload), SendReason.WINDOW_PROBE)

    def _arm_persist(self, now: int) -> None:
        base = max(self.rtt.rto, self.cfg.min_rto)
        self._arm(now, TimerKind.PERSIST, min(base << self._persist_backoff, self.cfg.max_rto),
                  self._persist_backoff)

    def _arm(self, now: int, kind: TimerKind, duration: int, backoff: int | None = None) -> None:
        deadline = now + duration
        self.deadlines[kind] = deadline
        self._armed_at[kind] = now
        self.timers_changed.add(kind)
        if self.trace is not None:
            if backoff is None:
                backoff = self.rtt.backoff if kind in (TimerKind.RTO, TimerKind.SYN) else 0
            self.trace.push((now, _TIMER_ARM, self.node, self.id, -1, int(kind), deadline,
                             duration, backoff))

    def _cancel(self, now: int, kind: TimerKind) -> None:
        deadline = self.deadlines[kind]
        if deadline is None:
            return
        self.deadlines[kind] = None
        self.timers_changed.add(kind)
        if self.trace is not None:
            self.trace.push((now, _TIMER_CANCEL, self.node, self.id, -1, int(kind), deadline, 0, 0))

    # ---------------------------------------------------------------- sending
    def _off(self, seq: int) -> int:
        """Stream offset of data sequence number ``seq`` (the first data byte, ISS+1, is 0).

        Measured from the start of the send buffer, so it stays right across wrap-around."""
        return self._snd_off + _diff(seq, (self.iss + 1 + self._snd_off) & MASK)

    def _fin_seq(self) -> int:
        return (self.iss + 1 + self.written) & MASK

    def _transmit(self, now: int) -> None:
        """Send what the windows allow: new data, retransmissions after a timeout (go-back-N)
        and finally our FIN. Sending is limited by min(SND.WND, cwnd) (RFC 5681 3.1) and by the
        sender's silly window avoidance (RFC 9293 3.8.6.2.1)."""
        if self.state not in CAN_SEND:
            return
        if self._sack_recovery:
            self._sack_transmit(now)
        else:
            self._transmit_window(now)
        if (self.deadlines[TimerKind.RTO] is None and self.snd_una != self.snd_max
                and self.deadlines[TimerKind.PERSIST] is None and self.snd_una != self.iss):
            # RFC 6298 5.1: data is outstanding, so the retransmission timer must run (this
            # also covers a probe byte still unacknowledged when the window reopens). While our
            # SYN is unacknowledged its own timer is in charge.
            self._arm_rto(now)

    def _transmit_window(self, now: int) -> None:
        """The loop of :meth:`_transmit` outside SACK recovery."""
        smss = self.smss
        sb = self.sb if self.sb.starts else None
        while True:
            nxt = self.snd_nxt
            off = self._off(nxt)
            if sb is not None and _lt(nxt, self.snd_max):
                # Go-back-N after a timeout skips what the peer has SACKed (RFC 6675 5.1).
                if sb.is_sacked(off):
                    end = sb.ends[bisect_right(sb.starts, off) - 1]
                    self.snd_nxt = (self.iss + 1 + min(end, self._off(self.snd_max))) & MASK
                    continue
            unsent = self.written - off
            flight = _diff(nxt, self.snd_una)
            wnd = min(self.snd_wnd, self.ccs.cwnd)
            usable = wnd - flight
            if unsent > 0:
                n = min(smss, unsent, usable)
                if sb is not None and _lt(nxt, self.snd_max):
                    stop = sb.next_sacked(off)
                    if stop is not None:
                        n = min(n, stop - off)
                if n <= 0:
                    if self.snd_wnd == 0 and flight == 0 and self.deadlines[TimerKind.PERSIST] is None:
                        self._arm_persist(now)
                    break
                if n < smss and n < unsent and n < self.max_snd_wnd // 2 and flight > 0:
                    break   # sender SWS avoidance: wait for a fuller segment
                if (n < smss and self.cfg.nagle and nxt == self.snd_max
                        and _lt(self.snd_una, self._snd_sml)
                        and not (self.fin_queued and n == unsent)):
                    # Nagle (RFC 9293 3.7.4) in Minshall's form, as Linux does it: a small
                    # segment waits while an earlier small one is unacknowledged.
                    break
                start = off - self._snd_off
                payload = bytes(self._snd_data[start:start + n])
                flags = ACK
                if n == unsent:
                    flags |= PSH
                    if self.fin_queued:
                        flags |= FIN
                self._send_data(now, nxt, flags, payload)
                continue
            if self.fin_queued and unsent == 0 and (not self.fin_sent or nxt != self.snd_max) \
                    and nxt == self._fin_seq():
                self._send_data(now, nxt, ACK | FIN, b"")
            break

    def _arm_rto(self, now: int) -> None:
        """(Re)start the retransmission timer with the current RTO (RFC 6298 5.1, 5.3, 5.6),
        cut short so that it expires when the user timeout does, if that comes first (the
        expiry then ends the connection: RFC 9293 3.8.3, RFC 5482)."""
        duration = self.rtt.rto
        ut = self.cfg.user_timeout
        if ut:
            duration = max(1, min(duration, self._una_since + ut - now))
        self._arm(now, TimerKind.RTO, duration)

    def _send_data(self, now: int, seq: int, flags: int, payload: bytes,
                   new_reason: SendReason = SendReason.NEW_DATA) -> None:
        n = len(payload)
        if self.snd_una == self.snd_max:
            self._una_since = now        # data starts waiting for an acknowledgment
        end = (seq + n + (1 if flags & FIN else 0)) & MASK
        retransmit = _lt(seq, self.snd_max)
        if retransmit and self._after_probe and seq == self.snd_una and not self._rto_pending:
            # The first data after a zero window starts with the probe byte the peer refused:
            # it never entered the peer's buffer, so this is the data going on, not a repair
            # (a capture reads it so too: the probe does not advance the next expected SEQ).
            retransmit = False
            new_reason = SendReason.AFTER_PROBE
        self._after_probe = False
        if retransmit:
            if self._rto_pending and seq == self.snd_una:
                reason = SendReason.RTO_RETX if n else SendReason.FIN_RETX
            else:
                reason = SendReason.GO_BACK_N if n else SendReason.FIN_RETX
            self._count_retx(reason)
        else:
            reason = new_reason if n else SendReason.FIN
            if self._timed is None and n:
                self._timed = (end, now)     # time this segment (one sample per flight, Karn)
        if flags & FIN:
            self.fin_sent = True
        if 0 < n < self.smss and not retransmit:
            self._snd_sml = end
        if n:
            self.stats["data_segments_sent"] += 1
            self.stats["bytes_sent"] += n
        self.snd_nxt = end
        if _lt(self.snd_max, end):
            self.snd_max = end
        self._emit(self._segment(seq, flags, payload), reason)

    def _count_retx(self, reason: SendReason) -> None:
        by_cause = self.stats["retransmissions"]
        by_cause[reason.name] = by_cause.get(reason.name, 0) + 1

    def _segment(self, seq: int, flags: int, payload: bytes = b"", options: tuple = ()) -> Segment:
        ack = self.rcv_nxt if flags & ACK else 0
        if flags & ACK and not flags & (SYN | RST):
            # Window and options are filled in as it leaves (_complete_headers).
            return Segment(self.local_port, self.remote_port, seq, ack, flags, 0, payload, options)
        self._update_rcv_wnd()
        wnd = min(self.rcv_wnd, MAX_WINDOW)
        self._adv_wnd = wnd
        return Segment(self.local_port, self.remote_port, seq, ack, flags, wnd, payload, options)

    def _send_ack(self, now: int, reason: SendReason) -> None:
        """Owe the peer an ACK. It goes out in :meth:`poll_output`, after the application had
        its chance to read (so it carries the freshest window) unless data or a FIN sent in
        the meantime carries it (piggybacking, RFC 9293 3.8.6.3)."""
        if self._ack_due is None or reason in _REPEATED_ACKS:
            self._ack_due = reason

    def poll_output(self, now: int) -> list[tuple[Segment, SendReason]]:
        """Take the segments to send, with an owed ACK appended, and publish the traced
        variables that changed (one VAR row per change, however many calls led to it). The
        owner calls this after every call into the connection and after the application
        handled ``notes``."""
        if self.outbox and self.state in SYNCHRONIZED and self._ack_due not in _REPEATED_ACKS:
            # Any segment leaving carries the acknowledgment (its header is completed below).
            if any(seg.flags & ACK and not seg.flags & (RST | SYN) for seg, _ in self.outbox):
                self._ack_due = None
        if self._ack_due is not None:
            reason = self._ack_due
            self._ack_due = None
            if self.state in SYNCHRONIZED:
                self._emit(self._segment(self._ack_seq(), ACK), reason)
        if self.outbox:
            self._complete_headers(now)
            if self._delack_bytes or self.deadlines[TimerKind.DELACK] is not None:
                # Nothing is owed any more: the ACK has left.
                self._delack_bytes = 0
                self._cancel(now, TimerKind.DELACK)
        self._publish(now)
        out = self.outbox
        self.outbox = []
        return out

    def _complete_headers(self, now: int) -> None:
        """Fill in what a real stack writes as a segment leaves: ACK number and window as they
        are now, and the options. Data released while an arriving segment's ACK field was
        processed (RFC 9293 3.10.7.4, fifth step) thus carries what that segment's text and FIN
        (seventh and eighth steps) did to RCV.NXT and RCV.WND. SYN segments keep the options
        and the unscaled window they were built with (RFC 7323 2.2); RSTs carry no options."""
        field = -1
        rcv_nxt = self.rcv_nxt
        sacking = self.sack_ok and self.ooo.held_bytes
        ts_opts = self._segment_options(now, 0) if self.ts_ok and not sacking else None
        for seg, _ in self.outbox:
            flags = seg.flags
            if flags & RST:
                continue
            if flags & ACK:
                self.last_ack_sent = rcv_nxt
                if flags & SYN:
                    continue
                if field < 0:
                    self._update_rcv_wnd()
                    field = min(self.rcv_wnd >> self.rcv_wscale, MAX_WINDOW)
                    self._adv_wnd = field << self.rcv_wscale
                seg.ack = rcv_nxt
                seg.window = field
            elif flags & SYN:
                continue
            if sacking:
                seg.options = self._segment_options(now, len(seg.payload))
            elif ts_opts is not None:
                seg.options = ts_opts

    def _segment_options(self, now: int, payload_len: int) -> tuple:
        """Timestamps (RFC 7323 3.2: on every segment once negotiated) and, while data is
        held out of order, SACK blocks (RFC 2018 3-4: most recently changed block first), as
        many as fit in 40 option bytes and in the MSS beside the payload."""
        opts: list[TcpOption] = []
        used = 0
        if self.ts_ok:
            cached = self._ts_opts
            tsval = (now // 1_000_000 + self.ts_offset) & MASK
            if cached is None or cached[2].value[0] != tsval or cached[2].value[1] != self.ts_recent:
                key = (tsval, self.ts_recent)
                # One tuple per (TSval, TSecr), shared by the segments that carry it.
                cached = self._ts_opts = (_NOP, _NOP, TcpOption(OPT_TIMESTAMP, key))
            if not (self.sack_ok and self.ooo.held_bytes):
                return cached
            opts = list(cached)
            used = TS_OPTION_LEN
        if self.sack_ok and self.ooo.held_bytes:
            room = min(MAX_OPTIONS, self._mss_base - payload_len) - used
            n = min(4, (room - 4) // 8)
            if n > 0:
                base = (self.rcv_nxt - self.received) & MASK
                blocks = tuple(((base + a) & MASK, (base + b) & MASK)
                               for a, b in self.ooo.sack_blocks(n))
                opts += [_NOP, _NOP, TcpOption(OPT_SACK, blocks)]
        return tuple(opts)

    def _ack_seq(self) -> int:
        """Sequence number for a segment without data (a pure ACK or an RST).

        RFC 9293 says SND.NXT, but here SND.NXT is rewound for go-back-N after a timeout and
        may lie below the peer's RCV.NXT, where a zero-length segment fails the acceptability
        test (3.10.7.4) and its ACK is ignored. SND.MAX is never below it. While the peer's
        window is zero its RCV.NXT is exactly SND.UNA (a probe byte beyond it was refused),
        and a zero window accepts nothing else."""
        return self.snd_una if self.snd_wnd == 0 else self.snd_max

    def _send_syn(self, now: int, reason: SendReason) -> None:
        """SYN (active open) or SYN,ACK (passive): sequence ISS, our MSS option (RFC 9293 3.7.1)."""
        flags = SYN | (ACK if self.state == S.SYN_RECEIVED else 0)
        self.snd_nxt = (self.iss + 1) & MASK
        self.snd_max = self.snd_nxt
        opts = self._syn_options(now)
        if reason == SendReason.SYN_RETRY:
            self._count_retx(reason)
            self._timed = None
            self._syn_lost = True
        else:
            self._una_since = now        # the SYN waits for its acknowledgment
            self._timed = (self.snd_nxt, now)   # the handshake gives the first RTT sample
        self._emit(self._segment(self.iss, flags, b"", opts), reason)
        self._arm(now, TimerKind.SYN, self.rtt.rto)

    def _syn_options(self, now: int, answering: bool | None = None) -> tuple:
        """Options of our SYN (everything we are configured to offer) or SYN-ACK (only what the
        peer's SYN offered too; RFC 7323 2.2, 3.2; RFC 2018 2), in the order Linux uses."""
        cfg = self.cfg
        if answering is None:
            answering = self.state == S.SYN_RECEIVED
        opts = [TcpOption(OPT_MSS, cfg.mss)]
        if cfg.sack and (self.sack_ok or not answering):
            opts.append(TcpOption(OPT_SACK_PERM))
        if cfg.timestamps and (self.ts_ok or not answering):
            opts.append(TcpOption(OPT_TIMESTAMP, (self._ts_now(now), self.ts_recent)))
        elif opts[-1].kind == OPT_SACK_PERM:
            opts[-1:-1] = [_NOP, _NOP]
        if cfg.window_scale and (self.ws_ok or not answering):
            opts += [_NOP, TcpOption(OPT_WSCALE, self._offered_wscale())]
        return tuple(opts)

    def _offered_wscale(self) -> int:
        """The shift we offer: the smallest that fits the receive buffer in 16 bits."""
        shift = 0
        while (self.cfg.rcv_buf >> shift) > MAX_WINDOW and shift < MAX_WSCALE:
            shift += 1
        return shift

    def _ts_now(self, now: int) -> int:
        """Our timestamp clock (RFC 7323 5.4): milliseconds plus a per-connection offset."""
        return (now // 1_000_000 + self.ts_offset) & MASK

    def _emit(self, seg: Segment, reason: SendReason) -> None:
        if seg.flags & ACK and reason not in _REPEATED_ACKS:
            self._ack_due = None        # this segment carries the acknowledgment
        self.outbox.append((seg, reason))

    def _update_rcv_wnd(self) -> None:
        """RCV.WND from the free receive-buffer space, with the receiver's silly window
        avoidance (RFC 9293 3.8.6.2.2, MUST-39): the right edge RCV.NXT+RCV.WND stays where it
        is until the space it would add reaches min(RCV.BUFF/2, MSS); and it never moves left
        (3.8.6: the window SHOULD NOT be shrunk)."""
        free = self.cfg.rcv_buf - len(self._rcv_data)
        nxt = self.rcv_nxt
        current = max(0, _diff(self._rcv_right, nxt))
        if free - current >= min(self.cfg.rcv_buf // 2, self.smss) or self.state not in SYNCHRONIZED:
            self._rcv_right = (nxt + free) & MASK
            self.rcv_wnd = free
        else:
            self.rcv_wnd = current

    # ---------------------------------------------------------------- state bookkeeping
    def _learn_peer(self, seg: Segment) -> None:
        """Record the peer's ISN (IRS) and MSS option (RFC 9293 3.7.1: send at most its MSS)."""
        self.irs = seg.seq
        self.rcv_nxt = (seg.seq + 1) & MASK
        self._rcv_right = (self.rcv_nxt + self.cfg.rcv_buf) & MASK
        self.snd_wnd = seg.window
        self.snd_wl1, self.snd_wl2 = seg.seq, seg.ack
        self.max_snd_wnd = max(self.max_snd_wnd, seg.window)
        peer_mss = seg.option(OPT_MSS)
        self._mss_base = min(self.cfg.mss,
                             peer_mss if isinstance(peer_mss, int) and peer_mss > 0 else 536)
        cfg = self.cfg
        ts = seg.option(OPT_TIMESTAMP)
        self.ts_ok = cfg.timestamps and ts is not None
        if self.ts_ok:
            self.ts_recent = ts[0]
        self.sack_ok = cfg.sack and any(o.kind == OPT_SACK_PERM for o in seg.options)
        ws = seg.option(OPT_WSCALE)
        self.ws_ok = cfg.window_scale and ws is not None
        if self.ws_ok:
            # RFC 7323 2.2/2.3: both shifts take effect only if both SYNs carried the option.
            self.snd_wscale = min(ws, MAX_WSCALE)
            self.rcv_wscale = self._offered_wscale()
        # RFC 9293 3.7.1 / RFC 6691: the option bytes every segment carries come out of the
        # data, so that header plus data still fits what the peer's MSS promised.
        self.smss = max(1, self._mss_base - (TS_OPTION_LEN if self.ts_ok else 0))
        self.ccs.smss = self.smss
        if self.trace is not None and 0 <= self.id < len(self.trace.conns):
            self.trace.conns[self.id].irs = self.irs

    def _establish(self, now: int) -> None:
        """The handshake completed. If a SYN or SYN-ACK had to be retransmitted, RFC 6298 5.7
        raises an RTO below 3 s to 3 s and RFC 5681 3.1 starts with a one-segment window."""
        self._cancel(now, TimerKind.SYN)
        self.retries = 0
        if self._syn_lost:
            self.rtt.reinit_after_syn_timeout()
        else:
            self.rtt.reset_backoff()
        self.cc.init(self.ccs, now, syn_lost=self._syn_lost)
        self._set_state(now, S.ESTABLISHED)
        self.notes.append(Note.ESTABLISHED)
        self._una_since = now
        if self.cfg.keepalive:
            self._arm(now, TimerKind.KEEPALIVE, self.cfg.keepalive_time)
        if self.fin_queued:
            self._set_state(now, S.FIN_WAIT_1)
            self._transmit(now)

    def _enter_time_wait(self, now: int) -> None:
        """TIME-WAIT: linger 2*MSL so that old duplicates die out (RFC 9293 3.4.2, 3.6)."""
        for kind in (TimerKind.RTO, TimerKind.PERSIST, TimerKind.SYN):
            self._cancel(now, kind)
        self._set_state(now, S.TIME_WAIT)
        self._arm(now, TimerKind.TIME_WAIT, 2 * self.cfg.msl)

    def _set_state(self, now: int, new: TcpState) -> None:
        old = self.state
        if old == new:
            return
        self.state = new
        if self.trace is not None:
            self.trace.emit(now, EventKind.STATE, self.node, self.id, -1, int(old), int(new),
                            self._cause)

    def _delete(self, now: int, note: str) -> None:
        """Delete the TCB (enter CLOSED): stop every timer and tell the application."""
        for kind in TimerKind:
            self._cancel(now, kind)
        self._set_state(now, S.CLOSED)
        self.notes.append(note)
        if self.on_closed is not None:
            self.on_closed(self)

    def _app_call(self, now: int, what: int) -> None:
        if what == 3:
            self._passive = True
        if self.trace is not None:
            self.trace.emit(now, EventKind.APP_CALL, self.node, self.id, -1, what)

    def _trace_ooo(self, now: int) -> None:
        if self.trace is None:
            return
        base = self.rcv_nxt
        received = self.received
        ranges = tuple(((base + s - received) & MASK, (base + e - received) & MASK)
                       for s, e in self.ooo.ranges())
        self.trace.emit(now, EventKind.OOO, self.node, self.id, self._cause, self.ooo.held_bytes,
                        len(ranges), extra=ranges)

    def traced_values(self) -> tuple:
        """Current values of the traced variables, in :class:`Var` order."""
        return (self.snd_una, self.snd_nxt, self.snd_wnd, self.rcv_nxt, self.rcv_wnd,
                self.ccs.cwnd, self.ccs.ssthresh, self.rtt.srtt if self.rtt.srtt is not None else -1,
                self.rtt.rttvar if self.rtt.rttvar is not None else -1, self.rtt.rto,
                self.snd_max)

    def _publish(self, now: int) -> None:
        """Emit a VAR event for every traced variable that changed since the last call, and
        a CC_STATE event when the congestion-control algorithm's own state did."""
        extras = self.ccs.extras
        if extras and extras != self._last_extras:
            self._last_extras = dict(extras)
            if self.trace is not None:
                self.trace.emit(now, EventKind.CC_STATE, self.node, self.id, -1,
                                extra=tuple(sorted(extras.items())))
        rtt, ccs = self.rtt, self.ccs
        srtt, rttvar = rtt.srtt, rtt.rttvar
        values = (self.snd_una, self.snd_nxt, self.snd_wnd, self.rcv_nxt, self.rcv_wnd,
                  ccs.cwnd, ccs.ssthresh, -1 if srtt is None else srtt,
                  -1 if rttvar is None else rttvar, rtt.rto, self.snd_max)   # traced_values()
        last = self._last_vars
        if values == last:
            return
        self._last_vars = values
        tr = self.trace
        if tr is None:
            return
        push = tr.push
        node, cid = self.node, self.id
        if not last:
            for i, new in enumerate(values):
                push((now, _VAR, node, cid, -1, i, -1, new, 0))
            return
        for i, new, old in zip(_VAR_INDICES, values, last):
            if new != old:
                push((now, _VAR, node, cid, -1, i, old, new, 0))

    @property
    def bytes_in_flight(self) -> int:
        return _diff(self.snd_max, self.snd_una)

    def __repr__(self) -> str:
        return (f"<Connection {self.local_port}->{self.remote_port} {self.state.name} "
                f"una={self.snd_una} nxt={self.snd_nxt} rcv_nxt={self.rcv_nxt}>")
