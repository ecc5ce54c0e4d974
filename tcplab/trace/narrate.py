"""Plain-language narration: one line per trace event saying what happened and which rule
decided it. Used by the terminal ladder, the GUI's narration log and exports.

Byte positions are given as people count them: the first data byte of a stream is byte 1, which
has sequence number ISN + 1.
"""

from __future__ import annotations

from bisect import bisect_right, insort

import numpy as np

from tcplab.net.packet import (FIN, OPT_SACK_PERM, OPT_TIMESTAMP, OPT_WSCALE, RST, SYN,
                               flags_str)
from tcplab.sim.clock import fmt_duration, fmt_time
from tcplab.trace import typed as T
from tcplab.trace.events import (TIME_VARS, Detection, DropReason, EventKind, RecvOutcome, SendReason, TcpState,
                                 TimerKind, UserOp)

MASK = 0xFFFFFFFF
_SEG_SENT = int(EventKind.SEG_SENT)

STATE_MEANING = {
    TcpState.CLOSED: "no connection",
    TcpState.LISTEN: "waiting for a SYN from any client",
    TcpState.SYN_SENT: "SYN sent, waiting for the SYN-ACK",
    TcpState.SYN_RECEIVED: "SYN received and answered, waiting for the final ACK",
    TcpState.ESTABLISHED: "open: data may flow both ways",
    TcpState.FIN_WAIT_1: "we sent FIN, waiting for its ACK",
    TcpState.FIN_WAIT_2: "our FIN is acknowledged; waiting for the peer's FIN",
    TcpState.CLOSE_WAIT: "the peer finished sending; waiting for our application to close",
    TcpState.CLOSING: "both sides sent FIN at once; waiting for the ACK of ours",
    TcpState.LAST_ACK: "we sent our FIN after the peer's; waiting for its ACK",
    TcpState.TIME_WAIT: "waiting 2*MSL so that stray old segments die out (RFC 9293 3.6)",
}

DROP_MEANING = {
    DropReason.LOSS: "lost at random on the link",
    DropReason.BURST_LOSS: "lost in a loss burst (Gilbert-Elliott bad state)",
    DropReason.QUEUE_FULL: "the link's transmit queue was full (drop-tail)",
    DropReason.LINK_DOWN: "the link is down",
    DropReason.NO_ROUTE: "no route to the destination",
    DropReason.TTL_EXPIRED: "its TTL ran out (RFC 791)",
    DropReason.CHECKSUM: "it arrived corrupted and failed the checksum check (RFC 9293 3.1)",
    DropReason.FAULT: "dropped on purpose by an instructor's rule",
    DropReason.HOST_DOWN: "the receiving host is down",
    DropReason.MTU: "larger than the link MTU with Don't Fragment set",
    DropReason.NOT_FOR_US: "addressed to another host",
    DropReason.USER: "you dropped it",
}

TIMER_NAME = {
    TimerKind.RTO: "retransmission timer",
    TimerKind.SYN: "connection (SYN) retry timer",
    TimerKind.DELACK: "delayed-ACK timer",
    TimerKind.PERSIST: "persist timer",
    TimerKind.KEEPALIVE: "keepalive timer",
    TimerKind.TIME_WAIT: "TIME-WAIT timer",
    TimerKind.APP: "application timer",
}

TIMER_ON_EXPIRY = {
    TimerKind.RTO: "retransmit the earliest unacknowledged segment (RFC 6298 5.4)",
    TimerKind.SYN: "send the SYN again with a doubled timeout (RFC 6298 5.5)",
    TimerKind.DELACK: "send the ACK it was holding back",
    TimerKind.PERSIST: "probe the zero window with one byte (RFC 9293 3.8.6.1)",
    TimerKind.KEEPALIVE: "send a keepalive probe (RFC 9293 3.8.4)",
    TimerKind.TIME_WAIT: "delete the connection (CLOSED)",
    TimerKind.APP: "let the application act",
}


class Narrator:
    """Renders trace events of one run as sentences."""

    def __init__(self, trace) -> None:
        self.trace = trace
        # Peers that no later connection can change (see peer_conn), and the others with the
        # number of connections they were looked up among.
        self._peers: dict[int, int] = {}
        self._peers_among: dict[int, tuple[int, int]] = {}
        # The FINs sent so far per connection, (time, sequence number after the FIN), from the
        # SEG_SENT rows before ``_fins_len``. Sent rows are final when written (only a receipt's
        # outcome is rewritten later), so the scan only ever extends over new rows.
        self._fins: dict[int, list[tuple[int, int]]] = {}
        self._fins_len = 0
        # When each connection first appears (its first row), and per node the sorted first
        # rows of its connections, over the rows scanned so far (see _conns_at).
        self._first_rows: dict[int, int] = {}
        self._node_firsts: dict[int, list[int]] = {}
        self._scanned = 0
        self._row = -1                  # the row being explained

    def peer_conn(self, conn: int) -> int:
        """Connection id of the other endpoint of ``conn`` (-1 if it does not exist, yet).

        A client pairs with the first matching endpoint created after it, a server with the
        earliest one created before it; failing that, the last match. Only an answer that more
        connections cannot change is kept for good: one asked before the other endpoint existed
        is looked up again once there are more connections."""
        found = self._peers.get(conn)
        if found is not None:
            return found
        conns = self.trace.conns
        n = len(conns)
        asked = self._peers_among.get(conn)
        if asked is not None and asked[0] == n:
            return asked[1]
        info = conns[conn]
        found = -1
        for other in conns:
            if (other.local_port == info.remote_port and other.remote_port == info.local_port
                    and other.local_ip == info.remote_ip and other.remote_ip == info.local_ip):
                found = other.id
                if other.id > conn if info.role == "client" else other.id < conn:
                    # Later connections get higher ids: they cannot come before this match.
                    self._peers[conn] = found
                    self._peers_among.pop(conn, None)
                    return found
        self._peers_among[conn] = (n, found)
        return found

    def _acks_fin(self, conn: int, ack: int, t: int) -> bool:
        """Whether ``ack`` (sent by ``conn`` at time ``t``) acknowledges the peer's FIN."""
        peer = self.peer_conn(conn)
        if peer < 0:
            return False
        self._scan_fins()
        return any(when <= t and end == ack for when, end in self._fins.get(peer, ()))

    def _scan_fins(self) -> None:
        """Take the FINs of the rows appended since the last call (numpy over the new rows)."""
        tr = self.trace
        n = len(tr)
        start = self._fins_len
        if start == n:
            return
        if start > n:       # not the trace it was (the store only grows): start over
            self._fins, start = {}, 0
        m = tr.matrix(start, n)
        rows = np.flatnonzero((m[:, 1] == _SEG_SENT) & ((m[:, 8] & FIN) != 0))
        fins = self._fins
        for t, conn, seq, length in m[rows][:, (0, 3, 5, 7)].tolist():
            fins.setdefault(conn, []).append((t, (seq + length + 1) & MASK))
        self._fins_len = n

    # helpers ---------------------------------------------------------------------------------
    def who(self, conn: int, node: int = -1) -> str:
        tr = self.trace
        if conn >= 0:
            info = tr.conns[conn]
            name = tr.nodes[info.node]
            if self._conns_at(info.node) > 1:
                return f"{name}:{info.local_port}"
            return name
        return tr.nodes[node] if node >= 0 else "network"

    def _conns_at(self, node: int) -> int:
        """How many connections node ``node`` has as of the row being explained: those whose
        first row is at or before it. A row's text is therefore the same whenever it is
        composed (while the run goes on, in a replay, in an export): "client" while the client
        has one connection, "client:49152" for the rows after a second one appeared."""
        upto = self._row if self._row >= 0 else len(self.trace) - 1
        if upto >= self._scanned:
            end = upto + 1
            col = np.frombuffer(self.trace.conn[self._scanned:end], dtype=np.int64)
            ids, first = np.unique(col, return_index=True)
            for cid, row in zip(ids.tolist(), (first + self._scanned).tolist()):
                if cid >= 0 and cid not in self._first_rows:
                    self._first_rows[cid] = row
                    info = self.trace.conns[cid]
                    insort(self._node_firsts.setdefault(info.node, []), row)
            self._scanned = end
        return bisect_right(self._node_firsts.get(node, ()), upto)

    def peer(self, conn: int) -> str:
        peer = self.peer_conn(conn)
        return self.trace.nodes[self.trace.conns[peer].node] if peer >= 0 else "the peer"

    def _byte(self, conn: int, seq: int, own: bool = True) -> int | None:
        """Data byte number (1 = first) of ``seq`` in the sender's stream."""
        info = self.trace.conns[conn]
        base = info.iss if own else info.irs
        if base is None:
            return None
        return (seq - base) & MASK

    def _range(self, conn: int, seq: int, length: int) -> str:
        first = self._byte(conn, seq)
        if first is None or length <= 0:
            return f"seq {seq}"
        if length == 1:
            return f"byte {first} (seq {seq})"
        return f"bytes {first}-{first + length - 1} (seq {seq}..{(seq + length - 1) & MASK})"

    def packet_label(self, uid: int) -> str:
        tr = self.trace
        if not 0 <= uid < len(tr.packets):
            return f"packet #{uid}"
        seg = tr.packets[uid].segment
        extra = f" len={len(seg.payload)}" if seg.payload else ""
        return f"{flags_str(seg.flags)} seq={seg.seq} ack={seg.ack}{extra}"

    # the sentences ---------------------------------------------------------------------------
    def explain(self, i: int) -> str:
        ev = self.trace.event(i)
        method = getattr(self, "_" + type(ev).__name__, None)
        self._row = i
        try:
            return method(ev) if method else type(ev).__name__
        finally:
            self._row = -1

    def _offers(self, uid: int, verb: str) -> str:
        """What a SYN's options propose, in words (empty when it carries only MSS)."""
        if uid < 0:
            return ""
        seg = self.trace.packets[uid].segment
        what = []
        if seg.option(OPT_SACK_PERM):
            what.append("selective acknowledgments (RFC 2018)")
        if seg.option(OPT_TIMESTAMP):
            what.append("timestamps (RFC 7323)")
        shift = seg.option(OPT_WSCALE)
        if shift is not None:
            what.append(f"window scaling with a shift of {shift} (RFC 7323)")
        return f"; it {verb} " + ", ".join(what) if what else ""

    def _SegmentSent(self, ev: T.SegmentSent) -> str:
        if ev.conn < 0:
            return (f"{self.who(-1, ev.node)} has no connection for that segment and answers with "
                    f"RST seq={ev.seq} ack={ev.ack} (RFC 9293 3.10.7.1)")
        me, peer = self.who(ev.conn), self.peer(ev.conn)
        r = ev.reason
        info = self.trace.conns[ev.conn]
        if r == SendReason.SYN:
            return (f"{me} asks to open a connection: SYN with its initial sequence number "
                    f"{ev.seq} (RFC 9293 3.5){self._offers(ev.pkt, 'offers')}")
        if r == SendReason.SYN_ACK:
            return (f"{me} accepts: SYN-ACK with its own initial sequence number {ev.seq} and "
                    f"ACK {ev.ack} = {peer}'s {(ev.ack - 1) & MASK} + 1, because a SYN uses one "
                    f"sequence number (RFC 9293 3.5){self._offers(ev.pkt, 'agrees to')}")
        if r == SendReason.SYN_RETRY:
            return f"{me} sends its {flags_str(ev.flags)} again: no answer came before the timer ran out"
        if r in (SendReason.ACK, SendReason.WINDOW_UPDATE) and info.irs is not None \
                and ev.ack == (info.irs + 1) & MASK and info.role == "client" and ev.length == 0:
            return (f"{me} acknowledges {peer}'s SYN with ACK {ev.ack}: the three-way handshake "
                    f"is complete (RFC 9293 3.5)")
        if r == SendReason.NEW_DATA:
            text = f"{me} sends {self._range(ev.conn, ev.seq, ev.length)}: every byte has its own sequence number (RFC 9293 3.4)"
            if ev.flags & FIN:
                text += "; FIN rides along: it has nothing more to send"
            return text
        if r == SendReason.ACK and self._acks_fin(ev.conn, ev.ack, ev.t):
            return (f"{me} acknowledges {peer}'s FIN with ACK {ev.ack}: the FIN, like a SYN, "
                    f"takes one sequence number (RFC 9293 3.6)")
        if r == SendReason.ACK:
            got = self._byte(ev.conn, ev.ack, own=False)
            upto = f" (all bytes up to {got - 1} arrived)" if got and got > 1 else ""
            return f"{me} acknowledges with ACK {ev.ack}: the next byte it expects{upto} (cumulative ACK, RFC 9293 3.4)"
        if r == SendReason.DUP_ACK:
            return (f"{me} repeats ACK {ev.ack} at once: what arrived was out of order (or a "
                    f"duplicate) and it is still missing seq {ev.ack} (RFC 9293 3.10.7.4, RFC 5681 4.2)")
        if r == SendReason.WINDOW_UPDATE:
            return f"{me} tells {peer} its window reopened: {ev.ack} onward, room for more data (RFC 9293 3.8.6.2.2)"
        if r == SendReason.RTO_RETX:
            return (f"{me} retransmits {self._range(ev.conn, ev.seq, ev.length)}: the earliest "
                    f"unacknowledged data, after its retransmission timer expired (RFC 6298 5.4)")
        if r == SendReason.GO_BACK_N:
            return (f"{me} resends {self._range(ev.conn, ev.seq, ev.length)}, sent before the timeout "
                    f"and still unacknowledged; after a timeout it starts again from one segment "
                    f"(slow start, RFC 5681 3.1)")
        if r == SendReason.FAST_RETX:
            return (f"{me} retransmits {self._range(ev.conn, ev.seq, ev.length)} at once after three "
                    f"duplicate ACKs, without waiting for the timer, and halves its window "
                    f"(fast retransmit and fast recovery, RFC 5681 3.2)")
        if r == SendReason.DELAYED_ACK:
            return (f"{me}'s delayed-ACK timer ran out with no reply to ride on: it sends ACK "
                    f"{ev.ack} on its own (RFC 9293 3.8.6.3)")
        if r == SendReason.LIMITED_TRANSMIT:
            return (f"{me} sends new data, {self._range(ev.conn, ev.seq, ev.length)}, on a "
                    f"duplicate ACK: a segment has left the network, so one may enter "
                    f"(limited transmit, RFC 3042)")
        if r == SendReason.PARTIAL_ACK_RETX:
            return (f"{me} retransmits {self._range(ev.conn, ev.seq, ev.length)}: the ACK moved "
                    f"forward but not past everything sent before the loss, so this is the next "
                    f"hole (NewReno partial ACK, RFC 6582 3.2)")
        if r == SendReason.SACK_RETX:
            return (f"{me} retransmits {self._range(ev.conn, ev.seq, ev.length)}: its SACK "
                    f"scoreboard shows the peer is missing these bytes while holding later ones, "
                    f"and the pipe estimate leaves room for a segment (RFC 6675 NextSeg)")
        if r == SendReason.KEEPALIVE:
            return (f"{me} has heard nothing for a long time and sends a keep-alive probe with "
                    f"seq={ev.seq}, one below what the peer expects, so that a live peer must "
                    f"answer with an ACK (RFC 9293 3.8.4)")
        if r == SendReason.FIN:
            return f"{me} has nothing more to send: FIN seq={ev.seq} (RFC 9293 3.6)"
        if r == SendReason.FIN_RETX:
            return f"{me} sends its FIN again: it was not acknowledged in time"
        if r == SendReason.RST_ABORT:
            return f"{me} aborts the connection: RST seq={ev.seq}; no goodbye, buffers are discarded (RFC 9293 3.10.5)"
        if r == SendReason.RST_BAD_ACK:
            return f"{me} answers an acknowledgment for data it never sent with RST seq={ev.seq} (RFC 9293 3.10.7)"
        if r == SendReason.AFTER_PROBE:
            return (f"{me} sends {self._range(ev.conn, ev.seq, ev.length)} now that {peer}'s "
                    f"window has reopened, starting with the byte its last window probe carried: "
                    f"{peer} had refused it, so the data simply goes on from there (RFC 9293 "
                    f"3.8.6.1)")
        if r == SendReason.WINDOW_PROBE:
            return f"{me} probes {peer}'s zero window with one byte (persist timer, RFC 9293 3.8.6.1)"
        if r == SendReason.CHALLENGE_ACK:
            return f"{me} answers a suspicious RST or SYN with a challenge ACK {ev.ack} (RFC 5961)"
        if r == SendReason.TIME_WAIT_ACK:
            return f"{me} is in TIME-WAIT: it acknowledges the repeated FIN again and restarts the 2*MSL wait (RFC 9293 3.6)"
        return f"{me} sends {flags_str(ev.flags)} seq={ev.seq} ack={ev.ack} ({r.name.lower()})"

    def _SegmentReceived(self, ev: T.SegmentReceived) -> str:
        o = ev.outcome
        if ev.conn < 0:
            who = self.who(-1, ev.node)
            if ev.flags & RST:
                return f"{who} receives an RST for a connection it does not have and ignores it"
            port = self.trace.packets[ev.pkt].segment.dst_port if ev.pkt >= 0 else "?"
            return f"{who} receives {flags_str(ev.flags)} for port {port}, where it has no connection"
        me = self.who(ev.conn)
        what = f"{flags_str(ev.flags)} seq={ev.seq}" + (f" len={ev.length}" if ev.length else "")
        if o == RecvOutcome.IN_ORDER:
            return f"{me} receives {what}: exactly the next bytes it expected"
        if o == RecvOutcome.OUT_OF_ORDER:
            return f"{me} receives {what} ahead of a gap: it holds the data until the gap is filled (RFC 9293 3.10.7.4)"
        if o == RecvOutcome.FILLED_HOLE:
            return f"{me} receives {what}: it fills the gap, and the held data behind it becomes in order"
        if o == RecvOutcome.DUPLICATE:
            return f"{me} receives {what}, which it already has"
        if o == RecvOutcome.OUT_OF_WINDOW:
            return f"{me} receives {what} outside its receive window and does not accept it (RFC 9293 3.10.7.4)"
        if o == RecvOutcome.DUP_ACK:
            return f"{me} receives a duplicate ACK {ev.ack}: the peer is still waiting for that byte (RFC 5681 2)"
        if o == RecvOutcome.RST_ACCEPTED:
            return f"{me} receives RST seq={ev.seq}: the connection is reset (RFC 9293 3.10.7.4, RFC 5961)"
        if o == RecvOutcome.RST_IGNORED:
            return f"{me} receives RST seq={ev.seq} that does not match RCV.NXT and ignores it (RFC 5961 3.2)"
        if o == RecvOutcome.SYN_ACCEPTED:
            return f"{me} receives {what}"
        if o == RecvOutcome.PAWS_REJECTED:
            return (f"{me} receives {what} with a timestamp older than the last one it accepted: an "
                    f"old duplicate, dropped and answered with an ACK (PAWS, RFC 7323 5.3)")
        if o == RecvOutcome.NO_TIMESTAMP:
            return (f"{me} receives {what} without the timestamps option both ends agreed on, "
                    f"and drops it silently (RFC 7323 3.2)")
        if o == RecvOutcome.BAD_ACK:
            return f"{me} receives ACK {ev.ack} for something it never sent"
        if ev.flags & SYN:
            return f"{me} receives {what}"
        return f"{me} receives {what}" + (f" ack={ev.ack}" if ev.flags else "")

    def _PacketDropped(self, ev: T.PacketDropped) -> str:
        tr = self.trace
        where = tr.links[ev.link].name if ev.link >= 0 else (tr.nodes[ev.node] if ev.node >= 0 else "?")
        why = DROP_MEANING.get(ev.reason, ev.reason.name)
        if ev.reason == DropReason.QUEUE_FULL:
            why += f", {ev.detail} packets waiting"
        return f"{self.packet_label(ev.pkt)} is dropped at {where}: {why}"

    def _Delivered(self, ev: T.Delivered) -> str:
        me = self.who(ev.conn)
        return (f"{me}'s TCP has bytes {ev.offset + 1}-{ev.offset + ev.nbytes} in order and hands "
                f"them to the application's receive buffer ({ev.waiting} bytes waiting to be read)")

    def _StateChanged(self, ev: T.StateChanged) -> str:
        return f"{self.who(ev.conn)}: {ev.old.label} -> {ev.new.label}, {STATE_MEANING[ev.new]}"

    def _TimerArmed(self, ev: T.TimerArmed) -> str:
        name = TIMER_NAME[ev.timer]
        backoff = f", backed off {ev.backoff}x" if ev.backoff else ""
        return (f"{self.who(ev.conn)} starts its {name}: {fmt_duration(ev.duration)}{backoff}; "
                f"on expiry it will {TIMER_ON_EXPIRY[ev.timer]}")

    def _TimerCancelled(self, ev: T.TimerCancelled) -> str:
        return f"{self.who(ev.conn)} stops its {TIMER_NAME[ev.timer]}: no longer needed"

    def _TimerExpired(self, ev: T.TimerExpired) -> str:
        me = self.who(ev.conn)
        waited = fmt_duration(ev.ran)
        if ev.timer == TimerKind.RTO:
            una = self._byte(ev.conn, ev.snd_una)
            nxt = self._byte(ev.conn, ev.snd_nxt)
            pending = (f"bytes {una}-{nxt - 1} (seq {ev.snd_una}..) were unacknowledged"
                       if una is not None and nxt is not None and nxt > una else
                       f"seq {ev.snd_una} was unacknowledged")
            return (f"{me}'s retransmission timer expired after {waited}: {pending}. RFC 6298 5.4 "
                    f"retransmits the earliest unacknowledged segment and 5.5 doubles the timeout")
        if ev.timer == TimerKind.TIME_WAIT:
            return f"{me} waited {waited} in TIME-WAIT (2*MSL): the connection is deleted"
        return f"{me}'s {TIMER_NAME[ev.timer]} expired after {waited}: it will {TIMER_ON_EXPIRY[ev.timer]}"

    def _VarChanged(self, ev: T.VarChanged) -> str:
        v = ev.var
        if v in TIME_VARS:
            old = "unset" if ev.old < 0 else fmt_duration(ev.old)
            return f"{self.who(ev.conn)}: {v.label} {old} -> {fmt_duration(ev.new)} (RFC 6298)"
        return f"{self.who(ev.conn)}: {v.label} {ev.old} -> {ev.new}"

    def _OutOfOrderChanged(self, ev: T.OutOfOrderChanged) -> str:
        me = self.who(ev.conn)
        if not ev.ranges:
            return f"{me}'s out-of-order queue is empty: everything received is in order"
        parts = ", ".join(f"seq {s}..{(e - 1) & MASK}" for s, e in ev.ranges)
        return f"{me} holds {ev.held_bytes} bytes out of order ({parts}) until the gap before them is filled"

    def _AppWrote(self, ev: T.AppWrote) -> str:
        me = self.who(ev.conn)
        if ev.nbytes < ev.asked:
            return f"{me}'s application writes {ev.asked} bytes; the send buffer takes {ev.nbytes}"
        return f"{me}'s application writes {ev.nbytes} bytes into the send buffer"

    def _AppRead(self, ev: T.AppRead) -> str:
        return f"{self.who(ev.conn)}'s application reads {ev.nbytes} bytes ({ev.total} so far)"

    def _Hop(self, ev: T.Hop) -> str:
        tr = self.trace
        if 0 <= ev.pkt < len(tr.packets) and getattr(tr.packets[ev.pkt], "dup_of", -1) >= 0:
            return (f"a copy of {self.packet_label(ev.pkt)} travels on link "
                    f"{tr.links[ev.link].name} from {tr.nodes[ev.node]}, arriving in "
                    f"{fmt_duration(ev.arrival - ev.t)}")
        return (f"{self.packet_label(ev.pkt)} leaves {tr.nodes[ev.node]} on link "
                f"{tr.links[ev.link].name}, arriving in {fmt_duration(ev.arrival - ev.t)}")

    def _Queued(self, ev: T.Queued) -> str:
        tr = self.trace
        waiting = "1 packet" if ev.length == 1 else f"{ev.length} packets"
        return (f"{self.packet_label(ev.pkt)} waits in {tr.nodes[ev.node]}'s transmit queue for "
                f"link {tr.links[ev.link].name} while the link is busy sending ({waiting} "
                f"waiting, drop-tail)")

    def _direction(self, link: int, direction: int) -> str:
        tr = self.trace
        info = tr.links[link]
        a, b = tr.nodes[info.a], tr.nodes[info.b]
        return "both directions" if direction < 0 else (f"{a}->{b}" if direction == 0 else f"{b}->{a}")

    def _UserAction(self, ev: T.UserAction) -> str:
        tr = self.trace
        act = ev.action
        name = tr.links[ev.link].name if ev.link >= 0 else str(act.get("link", "?"))
        way = self._direction(ev.link, ev.direction) if ev.link >= 0 else "?"
        if ev.op == UserOp.SET_LINK:
            param, value = act.get("param"), act.get("value")
            if param == "up":
                return f"You {'restore' if value else 'cut'} link {name} ({way})"
            return f"You set {param} of link {name} ({way}) to {value}"
        if ev.op == UserOp.DROP_NEXT:
            which = "in either direction" if ev.direction < 0 else way
            return f"You ask link {name} to drop the next segment that starts onto it ({which})"
        label = self.packet_label(ev.pkt)
        if ev.op == UserOp.DROP:
            return (f"You dropped segment {label} on link {name} ({way}): it never arrives; "
                    f"if it carried data, the sender has to notice the loss and send it again")
        if ev.op == UserOp.DUPLICATE:
            return (f"You duplicated segment {label} on link {name} ({way}): a copy, packet "
                    f"#{ev.detail}, arrives right behind it")
        if ev.op == UserOp.DELAY:
            delay = act.get("delay")
            held = fmt_duration(delay) if isinstance(delay, int) else str(delay)
            return (f"You held back segment {label} on link {name} ({way}) by {held}: it now "
                    f"arrives at {fmt_time(ev.detail)}, and packets sent after it may overtake it")
        return f"You acted: {act}"

    def _Arrived(self, ev: T.Arrived) -> str:
        return f"{self.packet_label(ev.pkt)} arrives at {self.trace.nodes[ev.node]}"

    def _LinkChanged(self, ev: T.LinkChanged) -> str:
        tr = self.trace
        link = tr.links[ev.link]
        a, b = tr.nodes[link.a], tr.nodes[link.b]
        direction = f"{a}->{b}" if ev.direction == 0 else f"{b}->{a}"
        if ev.param == "up":
            return f"link {link.name} ({direction}) is {'restored' if ev.new else 'cut'}"
        return f"link {link.name} ({direction}): {ev.param} {ev.old} -> {ev.new}"

    def _NodeChanged(self, ev: T.NodeChanged) -> str:
        name = self.trace.nodes[ev.node]
        if ev.restarted:
            return f"{name} restarts with empty connection tables"
        return f"{name} crashes: its connections vanish without FIN or RST"

    def _PacketAltered(self, ev: T.PacketAltered) -> str:
        tr = self.trace
        link = tr.links[ev.link].name
        prev = ev.index - 1
        asked = (" as you asked" if prev >= 0 and tr.kind[prev] == EventKind.USER
                 and tr.pkt[prev] == ev.original else "")
        if ev.what == "duplicate":
            return f"link {link} duplicates {self.packet_label(ev.original)}{asked}"
        if ev.what == "corrupt":
            return f"link {link} flips a bit in {self.packet_label(ev.original)}"
        until = f" until {fmt_time(ev.arrival)}" if ev.arrival is not None else ""
        return (f"link {link} holds back {self.packet_label(ev.original)}{until}{asked}: later "
                f"packets overtake it")

    def _AppCall(self, ev: T.AppCall) -> str:
        if ev.conn < 0:
            port = self.trace.b[ev.index]
            return (f"{self.who(-1, ev.node)}'s application listens on port {port} (passive "
                    f"OPEN): each SYN for it will get a connection in LISTEN")
        me = self.who(ev.conn)
        return {"close": f"{me}'s application closes: no more data from it (CLOSE, RFC 9293 3.10.4)",
                "abort": f"{me}'s application aborts the connection (ABORT, RFC 9293 3.10.5)",
                "open": f"{me}'s application opens a connection (active OPEN)",
                "listen": f"a SYN reaches {me}, where the application listens (passive OPEN): "
                          f"a connection is created in LISTEN for it"}[ev.call]

    def _Detected(self, ev: T.Detected) -> str:
        me = self.who(ev.conn)
        w = ev.what
        if w == Detection.SPURIOUS_RETX:
            how = "timeout" if ev.c == SendReason.RTO_RETX else "fast retransmit"
            return (f"{me} learns that its retransmission of seq {ev.b} ({how}) was not needed: the "
                    f"ACK echoes a timestamp {ev.d} ms older than the retransmission's, so the "
                    f"original got through (Eifel detection, RFC 3522)")
        if w == Detection.GENUINE_RETX:
            return (f"{me}'s retransmission of seq {ev.b} was needed: the ACK echoes the "
                    f"retransmission's own timestamp (RFC 3522)")
        if w == Detection.RECOVERY_START:
            how = ("SACK-based recovery, RFC 6675" if ev.c == 1 else
                   "fast recovery, RFC 5681 3.2 and RFC 6582")
            return (f"{me} starts loss recovery ({how}) with {ev.d} bytes in flight; it lasts "
                    f"until everything up to seq {ev.b} is acknowledged")
        if w == Detection.RECOVERY_END:
            if ev.b < 0:
                return f"{me} abandons loss recovery: the retransmission timer expired (RFC 6582 4)"
            return f"{me} ends loss recovery: ACK {ev.b} covers everything sent when it began"
        if w == Detection.PEER_DEAD:
            return f"{me} gives up on a silent peer and aborts the connection (RFC 9293 3.8.3, 3.8.4)"
        return f"{me}: {w.name}"

    def _CongestionStateChanged(self, ev: T.CongestionStateChanged) -> str:
        parts = ", ".join(f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}"
                          for name, value in ev.values)
        return f"{self.who(ev.conn)}'s congestion control state: {parts}"

    def _ScoreboardChanged(self, ev: T.ScoreboardChanged) -> str:
        me = self.who(ev.conn)
        if not ev.ranges:
            return f"{me}'s SACK scoreboard is empty: nothing above SND.UNA is selectively acknowledged"
        parts = ", ".join(f"seq {s}..{(e - 1) & MASK}" for s, e in ev.ranges)
        return (f"{me} knows from SACK blocks that the peer holds {ev.sacked_bytes} bytes above "
                f"SND.UNA ({parts}); it will not resend them (RFC 2018, RFC 6675)")


def explain(trace, i: int) -> str:
    return Narrator(trace).explain(i)
