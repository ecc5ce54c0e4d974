"""The ladder (sequence) diagram: one connection drawn the way textbooks draw TCP.

Each endpoint of the chosen connection gets a vertical lane, time running downward. Every
segment is an arrow from the sender's lane at the moment it was handed to IP (its ``SEG_SENT``
row) to the receiver's lane at the moment the receiving TCP processed it (the ``SEG_RECV`` row
with the same packet uid: routers forward a packet without changing its uid). A segment that
never arrives ends in a cross at the moment and place it was dropped (its ``DROP`` row). Labels
give the flags and the sequence and acknowledgment numbers (RFC 9293 3.1): ``SYN seq=100``,
``SYN-ACK seq=500 ack=101``, ``ACK ack=501``, ``ACK seq=101 ack=501 len=500``.

Marks for what a teacher wants to point at, each a colour and a short tag:

* retransmissions (``SendReason`` in ``tcplab.trace.ladder.RETRANSMIT``): a timeout
  (RFC 6298 5.4), a fast retransmit on the third duplicate ACK (RFC 5681 3.2), ...
* duplicate ACKs (RFC 5681 section 2: the receiver repeats its ACK for every segment that
  arrives beyond a gap; the sender counts them);
* out-of-order arrivals (data beyond RCV.NXT held for reassembly, RFC 9293 3.10.7.4) and the
  segment that fills the gap;
* copies made by a link or by the user (``ALTER`` c=0: a new uid), corrupted and held-back
  packets.

State changes (RFC 9293 3.3.2) are small notes beside the lanes; timer expiries are clock marks.
The lane headers say each endpoint's state at the shared time cursor.

Numbers can be shown three ways: absolute sequence numbers, relative ones (minus the initial
sequence number, RFC 9293 3.4.1, as Wireshark shows them), or the lesson's simple numbering:
data segments as numbered packets with the bytes they carry counted from 1 (``#2 bytes
501-1000``) and ACKs as the next byte expected (``ACK 1001``), the way the introductory
article tells the story ("packet #2 is lost ... the server retransmits packet #2").

Long idle stretches (a retransmission timeout of a second between segments 10 ms apart) are
compressed to a short break marked with how long it lasted, unless "compress idle time" is off.

The view reads the trace only. It keeps per-arrow columns that grow with each batch
(``advanced``), paints only what is in the visible time range straight from numpy arrays, and
draws labels only where they do not collide, so a bulk transfer of tens of thousands of segments
stays responsive.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QLineF, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen,
                           QPolygonF)
from PySide6.QtWidgets import (QAbstractScrollArea, QCheckBox, QComboBox, QHBoxLayout, QLabel,
                               QSizePolicy, QToolButton, QToolTip, QVBoxLayout, QWidget)

from tcplab.gui.theme import LIGHT, Theme
from tcplab.net.packet import ACK, CWR, ECE, FIN, RST, SYN, ip_str
from tcplab.sim.clock import fmt_duration
from tcplab.trace.events import (DropReason, EventKind, RecvOutcome, SendReason, TcpState,
                                 TimerKind)
from tcplab.trace.ladder import RETRANSMIT, segment_label
from tcplab.trace.narrate import Narrator

MASK = 0xFFFFFFFF
NONE = -1

_WANTED = np.array([EventKind.SEG_SENT, EventKind.SEG_RECV, EventKind.DROP, EventKind.STATE,
                    EventKind.TIMER_EXPIRE, EventKind.ALTER], dtype=np.int64)

#: Short tags for retransmissions, by the reason the sender gave.
RETX_TAG = {
    SendReason.RTO_RETX: "retransmit: timeout",          # RFC 6298 5.4
    SendReason.GO_BACK_N: "retransmit: go-back-N",       # after a timeout, in slow start
    SendReason.FAST_RETX: "fast retransmit",             # RFC 5681 3.2, third duplicate ACK
    SendReason.PARTIAL_ACK_RETX: "retransmit: partial ACK",  # RFC 6582 3.2 step 5
    SendReason.SACK_RETX: "retransmit: SACK",            # RFC 6675 NextSeg()
    SendReason.SYN_RETRY: "retry: timeout",              # RFC 6298 5.5 (SYN or SYN-ACK)
    SendReason.FIN_RETX: "FIN retry: timeout",
}
#: Tags for why a segment was sent, when the reason is worth pointing at.
SEND_TAG = {
    SendReason.DUP_ACK: "dup ACK",
    SendReason.WINDOW_PROBE: "window probe",            # RFC 9293 3.8.6.1
    SendReason.AFTER_PROBE: "resumes after probe",      # RFC 9293 3.8.6.1
    SendReason.WINDOW_UPDATE: "window update",
    SendReason.LIMITED_TRANSMIT: "limited transmit",    # RFC 3042
    SendReason.CHALLENGE_ACK: "challenge ACK",          # RFC 5961
    SendReason.KEEPALIVE: "keepalive",                  # RFC 9293 3.8.4
}
#: Tags for what the receiver made of a segment, when it was not the ordinary case.
RECV_TAG = {
    RecvOutcome.OUT_OF_ORDER: "out of order",           # RFC 9293 3.10.7.4: held for later
    RecvOutcome.FILLED_HOLE: "fills the gap",
    RecvOutcome.DUPLICATE: "duplicate data",
    RecvOutcome.OUT_OF_WINDOW: "outside window",
    RecvOutcome.BAD_ACK: "ACKs unsent data",
    RecvOutcome.RST_IGNORED: "RST ignored",
    RecvOutcome.NO_CONNECTION: "no connection",
    RecvOutcome.STALE: "stale",
    RecvOutcome.PAWS_REJECTED: "old (PAWS)",            # RFC 7323 5.3
    RecvOutcome.NO_TIMESTAMP: "no timestamp",
}
DROP_TAG = {
    DropReason.LOSS: "lost",
    DropReason.BURST_LOSS: "lost (burst)",
    DropReason.QUEUE_FULL: "lost: queue full",
    DropReason.LINK_DOWN: "lost: link down",
    DropReason.NO_ROUTE: "lost: no route",
    DropReason.TTL_EXPIRED: "lost: TTL",
    DropReason.CHECKSUM: "lost: bad checksum",
    DropReason.FAULT: "lost",
    DropReason.HOST_DOWN: "lost: host down",
    DropReason.MTU: "lost: too big",
    DropReason.NOT_FOR_US: "not for us",
    DropReason.USER: "dropped by you",
}
TIMER_NOTE = {
    TimerKind.RTO: "RTO expired",
    TimerKind.SYN: "SYN timer expired",
    TimerKind.DELACK: "delayed ACK due",
    TimerKind.PERSIST: "persist timer",
    TimerKind.KEEPALIVE: "keepalive timer",
    TimerKind.TIME_WAIT: "TIME-WAIT over",
    TimerKind.APP: "app timer",
}
#: RFC 793's own abbreviations (its state diagram), for narrow docks.
SHORT_STATE = {"ESTABLISHED": "ESTAB", "SYN-RECEIVED": "SYN-RCVD"}
NUMBERINGS = ("absolute", "relative", "numbered")
NUMBERING_TEXT = {"absolute": "absolute seq", "relative": "relative seq",
                  "numbered": "numbered (lesson)"}

#: Colours the theme does not have, per theme name: duplicate ACKs and out-of-order arrivals.
EXTRA_COLORS = {
    "light": {"dupack": "#a05a00", "ooo": "#ad1457"},
    "dark": {"dupack": "#ffca28", "ooo": "#f48fb1"},
}

# arrow colour codes (index into the palette the canvas builds from the theme)
C_SYN, C_SYNACK, C_DATA, C_ACK, C_FIN, C_RST, C_RETX, C_DUPACK = range(8)
COLOR_NAMES = ("syn", "synack", "data", "ack", "fin", "rst", "retx", "dupack")

# alteration bits
ALT_CORRUPT, ALT_DELAY = 1, 2


@dataclass(frozen=True)
class ArrowInfo:
    """One arrow as the view shows it (for tests, exports and tooltips).

    ``from_lane``/``to_lane`` are 0 (left) or 1 (right); ``t_recv`` is None for a segment that
    never arrived, ``t_drop`` is None unless it was dropped; ``color`` names the theme colour."""

    uid: int
    row: int
    label: str
    tags: tuple[str, ...]
    t_send: int
    t_recv: int | None
    t_drop: int | None
    from_lane: int
    to_lane: int
    color: str


def seq_word(flags: int) -> str:
    """The name of a segment by its control flags (RFC 9293 3.1): SYN, SYN-ACK, FIN, RST; a
    segment with only ACK (and perhaps PSH) is an ACK, whether or not it carries data."""
    words = []
    if flags & SYN:
        words.append("SYN-ACK" if flags & ACK else "SYN")
    if flags & FIN:
        words.append("FIN")
    if flags & RST:
        words.append("RST")
    if not words:
        words.append("ACK" if flags & ACK else "-")
    if flags & ECE:
        words.append("ECE")
    if flags & CWR:
        words.append("CWR")
    return "+".join(words)


# ----------------------------------------------------------------------------------------------
# The model: arrows, notes and connection pairs, built incrementally from trace rows.
# ----------------------------------------------------------------------------------------------


class LadderModel:
    """What the ladder shows, gathered from the trace batch by batch (no Qt).

    Arrows are kept in parallel Python lists (one entry per segment sent, plus one per copy a
    link made); ``arrays()`` keeps numpy columns of them up to date for painting. Connections
    are paired by their addresses and ports (the client's endpoint is the server's remote one), as
    ``Narrator.peer_conn`` does; a connection whose peer never existed (a SYN to a closed port)
    is paired with a lane for the remote address."""

    FIELDS = ("uid", "row", "t0", "sender", "owner", "seq", "ack", "length", "flags", "reason",
              "rrow", "t1", "outcome", "drow", "tdrop", "dreason", "copy_of", "alter", "pnum",
              "dupn", "newack")

    def __init__(self) -> None:
        self.reset(None)

    def reset(self, trace) -> None:
        self.trace = trace
        self.seen = 0
        self.version = 0
        for name in self.FIELDS:
            setattr(self, name, [])
        self.by_uid: dict[int, int] = {}
        self.states: dict[int, list[tuple[int, int, int, int]]] = {}   # conn -> (t, old, new, row)
        self.timers: dict[int, list[tuple[int, int, int]]] = {}         # conn -> (t, kind, row)
        self.pairs: list[list[int]] = []      # [left conn or -1, right conn or -1, first conn]
        self.pair_of: dict[int, int] = {}
        self._nconns = 0
        self._starts: dict[int, list[tuple[int, int, int]]] = {}   # sender -> (start, end, num)
        self._dups: dict[tuple[int, int], int] = {}
        self._fin_next: dict[int, int] = {}   # conn -> the ACK value that acknowledges its FIN
        self._last_ack: dict[int, int] = {}   # conn -> the last ACK value it sent
        self._np: dict[str, np.ndarray] = {name: np.zeros(0, np.int64) for name in self.FIELDS}
        self._np_len = 0
        self._dirty: set[int] = set()      # arrows changed after arrays() last copied them

    # -- connections ------------------------------------------------------------------------
    def _update_pairs(self) -> None:
        """Pair connections by their 4-tuples: in id order, each unpaired connection takes the
        first later one whose local address and port are its remote ones (ids only grow, so a
        pair's position in the list never changes)."""
        conns = self.trace.conns
        if len(conns) == self._nconns:
            return
        for info in conns[self._nconns:]:
            cid = info.id
            if cid in self.pair_of:
                continue
            mate = None
            for k, pair in enumerate(self.pairs):
                left, right = pair[0], pair[1]
                lone = left if right < 0 else right if left < 0 else None
                if lone is None or lone < 0:
                    continue
                other = conns[lone]
                if info.peer >= 0 and info.peer != lone:
                    continue
                if (other.local_ip == info.remote_ip and other.local_port == info.remote_port
                        and other.remote_ip == info.local_ip
                        and other.remote_port == info.local_port):
                    mate = k
                    break
            if mate is not None:
                pair = self.pairs[mate]
                lone = pair[0] if pair[1] < 0 else pair[1]
                # the active opener on the left; two active openers (simultaneous open) by id
                if conns[lone].role == "client" or info.role != "client":
                    pair[0], pair[1] = lone, cid
                else:
                    pair[0], pair[1] = cid, lone
                self.pair_of[cid] = mate
            else:
                self.pair_of[cid] = len(self.pairs)
                if info.role == "server":
                    self.pairs.append([NONE, cid, cid])
                else:
                    self.pairs.append([cid, NONE, cid])
        self._nconns = len(conns)

    def lane_label(self, pair: int, lane: int) -> str:
        """``node:port`` of a lane; for the missing side of an unpaired connection, the remote
        address (named after the node that owns it when a connection tells)."""
        tr = self.trace
        left, right, first = self.pairs[pair]
        conn = (left, right)[lane]
        if conn >= 0:
            return tr.conns[conn].label(tr.nodes)
        info = tr.conns[first]
        name = ip_str(info.remote_ip)
        for other in tr.conns:
            if other.local_ip == info.remote_ip:
                name = tr.nodes[other.node]
                break
        return f"{name}:{info.remote_port}"

    def pair_title(self, pair: int) -> str:
        info = self.trace.conns[self.pairs[pair][2]]
        return f"{info.app}: {self.lane_label(pair, 0)} \u21c4 {self.lane_label(pair, 1)}"

    def partner(self, conn: int) -> int:
        pair = self.pairs[self.pair_of[conn]]
        return pair[1] if pair[0] == conn else pair[0]

    def state_at(self, conn: int, t: int) -> TcpState | None:
        """The TCP state of ``conn`` at time ``t`` (after every STATE row at ``t``); before its
        first STATE row, the state that row left; None if it has none yet."""
        rows = self.states.get(conn)
        if not rows:
            return None
        k = bisect.bisect_right(rows, (t, 1 << 62))
        return TcpState(rows[k - 1][2] if k else rows[0][1])

    def isn(self, conn: int, own: bool = True) -> int | None:
        """The initial sequence number of ``conn`` (own) or of its peer (not own)."""
        if conn < 0:
            return None
        info = self.trace.conns[conn]
        return info.iss if own else info.irs

    # -- ingest -------------------------------------------------------------------------------
    def _owner_of_orphan(self, uid: int) -> int:
        """A segment sent with no connection (an RST for a closed port, RFC 9293 3.10.7.1):
        the connection it answers, found by its addresses and ports, or -1."""
        pkt = self.trace.packets[uid]
        seg = pkt.segment
        found = NONE
        for info in self.trace.conns:
            if (info.local_ip == pkt.dst and info.local_port == seg.dst_port
                    and info.remote_ip == pkt.src and info.remote_port == seg.src_port):
                found = info.id
        return found

    def _packet_number(self, sender: int, seq: int, length: int) -> int:
        """The lesson's packet number for data starting at ``seq``: new data gets the next
        number; data starting inside an earlier packet (a retransmission) gets that packet's."""
        base = self.isn(sender)
        start = (seq - base) & MASK if base is not None else seq
        starts = self._starts.setdefault(sender, [])
        k = bisect.bisect_right(starts, (start, 1 << 62, 0))
        if k and starts[k - 1][0] <= start < starts[k - 1][1]:
            return starts[k - 1][2]
        num = len(starts) + 1
        starts.insert(k, (start, start + length, num))
        return num

    def _append(self, **values) -> int:
        i = len(self.uid)
        for name in self.FIELDS:
            getattr(self, name).append(values.get(name, NONE))
        return i

    def ingest(self, end: int | None = None) -> bool:
        """Take in rows ``[seen, end)``; True if anything the ladder shows changed."""
        tr = self.trace
        if tr is None:
            return False
        end = len(tr) if end is None else end
        first = self.seen
        if end <= first:
            return False
        self.seen = end
        self._update_pairs()
        m = tr.matrix(first, end)
        sel = np.flatnonzero(np.isin(m[:, 1], _WANTED))
        if not len(sel):
            return False
        rows = m[sel].tolist()
        index = (sel + first).tolist()
        by_uid = self.by_uid
        for i, (t, kind, node, conn, pkt, a, b, c, d) in zip(index, rows):
            if kind == EventKind.SEG_SENT:
                sender = conn
                owner = conn if conn >= 0 else self._owner_of_orphan(pkt)
                flags = d & 0xFFFF
                pnum = self._packet_number(conn, a, c) if c > 0 and conn >= 0 else 0
                if flags & FIN and conn >= 0:
                    self._fin_next[conn] = (a + c + 1) & MASK
                newack = 0
                if flags & ACK and conn >= 0:
                    newack = int(self._last_ack.get(conn) != b)
                    self._last_ack[conn] = b
                by_uid[pkt] = self._append(uid=pkt, row=i, t0=t, sender=sender, owner=owner,
                                           seq=a, ack=b, length=c, flags=flags, reason=d >> 16,
                                           copy_of=NONE, alter=0, pnum=pnum, dupn=0,
                                           newack=newack)
            elif kind == EventKind.SEG_RECV:
                k = by_uid.get(pkt)
                if k is not None and self.rrow[k] < 0:
                    self._dirty.add(k)
                    self.rrow[k] = i
                    self.t1[k] = t
                    outcome = d >> 16
                    self.outcome[k] = outcome
                    if outcome == RecvOutcome.DUP_ACK:
                        key = (conn, b)
                        self._dups[key] = self._dups.get(key, 0) + 1
                        self.dupn[k] = self._dups[key]
            elif kind == EventKind.DROP:
                k = by_uid.get(pkt)
                if k is not None and self.drow[k] < 0 and self.rrow[k] < 0:
                    self._dirty.add(k)
                    self.drow[k] = i
                    self.tdrop[k] = t
                    self.dreason[k] = a
            elif kind == EventKind.STATE:
                if conn >= 0:
                    self.states.setdefault(conn, []).append((t, a, b, i))
            elif kind == EventKind.TIMER_EXPIRE:
                if conn >= 0:
                    self.timers.setdefault(conn, []).append((t, a, i))
            elif kind == EventKind.ALTER:
                if c == 0:      # a copy: a new uid travelling on from the link
                    k = by_uid.get(b)
                    if k is not None and pkt not in by_uid:
                        vals = {name: getattr(self, name)[k] for name in self.FIELDS}
                        vals.update(uid=pkt, row=i, rrow=NONE, t1=NONE, outcome=NONE,
                                    drow=NONE, tdrop=NONE, dreason=NONE, copy_of=b, dupn=0)
                        by_uid[pkt] = self._append(**vals)
                else:
                    k = by_uid.get(pkt)
                    if k is not None:
                        self._dirty.add(k)
                        self.alter[k] |= ALT_CORRUPT if c == 1 else ALT_DELAY
        self.version += 1
        return True

    def arrays(self) -> dict[str, np.ndarray]:
        """Numpy columns of every arrow, brought up to date incrementally: new arrows are
        copied in and changed ones patched (O(batch), the buffers double as they fill)."""
        n, m = len(self.uid), self._np_len
        if n > m or self._dirty:
            for name in self.FIELDS:
                arr = self._np[name]
                if n > len(arr):
                    grown = np.zeros(max(n, 2 * len(arr), 256), np.int64)
                    grown[:m] = arr[:m]
                    self._np[name] = arr = grown
                column = getattr(self, name)
                if n > m:
                    arr[m:n] = column[m:n]
                for k in self._dirty:
                    if k < m:
                        arr[k] = column[k]
            self._dirty.clear()
            self._np_len = n
        return {name: arr[:n] for name, arr in self._np.items()}

    def color_codes(self, A: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
        """:meth:`color_code` for the arrows ``idx`` at once (later rules win)."""
        flags, reason = A["flags"][idx], A["reason"][idx]
        code = np.full(len(idx), C_ACK, np.int64)
        code[A["length"][idx] > 0] = C_DATA
        code[(flags & FIN) != 0] = C_FIN
        code[(flags & SYN) != 0] = C_SYN
        code[((flags & SYN) != 0) & ((flags & ACK) != 0)] = C_SYNACK
        code[(flags & RST) != 0] = C_RST
        code[(reason == SendReason.DUP_ACK) | (A["outcome"][idx] == RecvOutcome.DUP_ACK)] = C_DUPACK
        code[np.isin(reason, [int(r) for r in RETRANSMIT])] = C_RETX
        return code

    # -- labels -------------------------------------------------------------------------------
    def label(self, k: int, numbering: str) -> str:
        """The text of arrow ``k`` in the given numbering."""
        flags, seq, ack, length = self.flags[k], self.seq[k], self.ack[k], self.length[k]
        sender, owner = self.sender[k], self.owner[k]
        own = sender if sender >= 0 else owner
        if sender >= 0:
            seq_base, ack_base = self.isn(sender), self.isn(sender, own=False)
        else:   # an orphan answers ``owner``: its sequence space is the owner's peer's
            seq_base, ack_base = self.isn(owner, own=False), self.isn(owner)
        word = seq_word(flags)
        if numbering == "numbered":
            return self._lesson_label(k, word, own, seq_base, ack_base)
        if numbering == "relative":
            if seq_base is not None:
                seq = (seq - seq_base) & MASK
            if ack_base is not None:
                ack = (ack - ack_base) & MASK
        parts = [word]
        pure_ack = not (flags & (SYN | FIN | RST)) and length == 0 and flags & ACK
        if not pure_ack:
            parts.append(f"seq={seq}")
        if flags & ACK:
            parts.append(f"ack={ack}")
        if length:
            parts.append(f"len={length}")
        return " ".join(parts)

    def _lesson_label(self, k: int, word: str, own: int, seq_base, ack_base) -> str:
        """The article's simple numbering: data as numbered packets with their bytes counted
        from 1 (the first data byte has sequence number ISN + 1, RFC 9293 3.4), an ACK as the
        next byte it expects. Data or a FIN that also acknowledges something new says so
        ("#1 bytes 1-500 · ACK 41"): the receipt rides along (piggybacking)."""
        flags, seq, ack, length = self.flags[k], self.seq[k], self.ack[k], self.length[k]
        if length > 0:
            first = (seq - seq_base) & MASK if seq_base is not None else seq
            text = f"#{self.pnum[k]} bytes {first}-{first + length - 1}"
            if flags & (SYN | FIN | RST):
                text = f"{word} {text}"
            if flags & ACK and self.newack[k]:
                acked = self._lesson_ack(own, ack, ack_base)
                if acked != "ACK":
                    text += f" \u00b7 {acked}"
            return text
        if flags & (FIN | RST) and flags & ACK and self.newack[k]:
            acked = self._lesson_ack(own, ack, ack_base)
            return word if acked == "ACK" else f"{word} \u00b7 {acked}"
        if flags & (SYN | FIN | RST) or not flags & ACK:
            return word
        return self._lesson_ack(own, ack, ack_base)

    def _lesson_ack(self, own: int, ack: int, ack_base) -> str:
        partner = self.partner(own) if own >= 0 and own in self.pair_of else NONE
        if partner >= 0 and self._fin_next.get(partner) == ack:
            return "ACK of FIN"
        nxt = (ack - ack_base) & MASK if ack_base is not None else ack
        return "ACK" if nxt == 1 else f"ACK {nxt}"

    def tags(self, k: int) -> list[tuple[str, str]]:
        """Short tags of arrow ``k`` with their colour names."""
        out = []
        reason = self.reason[k]
        if reason in RETRANSMIT:
            out.append((RETX_TAG.get(reason, "retransmission"), "retx"))
        outcome = self.outcome[k]
        if outcome == RecvOutcome.DUP_ACK:
            out.append((f"dup ACK {self.dupn[k]}", "dupack"))
        elif reason in SEND_TAG:
            out.append((SEND_TAG[reason], "dupack" if reason == SendReason.DUP_ACK else "muted"))
        if self.copy_of[k] >= 0:
            out.append(("copy", "muted"))
        if self.alter[k] & ALT_CORRUPT:
            out.append(("corrupted", "drop"))
        if self.alter[k] & ALT_DELAY:
            out.append(("held back", "muted"))
        if outcome in RECV_TAG:
            out.append((RECV_TAG[outcome], "ooo" if outcome in (RecvOutcome.OUT_OF_ORDER,
                                                               RecvOutcome.FILLED_HOLE)
                        else "muted"))
        if self.drow[k] >= 0:
            out.append((DROP_TAG.get(self.dreason[k], "lost"), "drop"))
        return out

    def color_code(self, k: int) -> int:
        flags, reason = self.flags[k], self.reason[k]
        if reason in RETRANSMIT:
            return C_RETX
        if reason == SendReason.DUP_ACK or self.outcome[k] == RecvOutcome.DUP_ACK:
            return C_DUPACK
        if flags & RST:
            return C_RST
        if flags & SYN:
            return C_SYNACK if flags & ACK else C_SYN
        if flags & FIN:
            return C_FIN
        return C_DATA if self.length[k] else C_ACK


# ----------------------------------------------------------------------------------------------
# The time axis: linear, with long idle stretches compressed into short breaks.
# ----------------------------------------------------------------------------------------------


class TimeAxis:
    """Maps simulated time (ns) to a y coordinate (px) and back, piecewise linearly: ``scale``
    px per ns everywhere except in compressed gaps, each drawn ``gap_px`` high."""

    def __init__(self) -> None:
        self.scale = 4e-6          # px per ns: 4 px per ms
        self.kt = np.zeros(1)      # knot times
        self.ky = np.zeros(1)      # knot y
        self.gaps: list[tuple[int, int, float, float, int]] = []   # t0, t1, y0, y1, idle ns

    def build(self, starts: np.ndarray, ends: np.ndarray, compress: bool, gap_px: float,
              pad_px: float) -> None:
        """Knots for busy intervals ``[starts[i], ends[i]]`` (anything drawn: arrows in flight,
        notes). An idle stretch between them longer than ``gap_px + 2 pad_px`` at this scale
        keeps ``pad_px`` of linear time at each end and shrinks to ``gap_px`` in between."""
        self.gaps = []
        if not compress or len(starts) < 2:
            self.kt = np.zeros(1)
            self.ky = np.zeros(1)
            return
        order = np.argsort(starts, kind="stable")
        s = starts[order].astype(np.float64)
        e = np.maximum.accumulate(ends[order].astype(np.float64))
        pad_t = pad_px / self.scale
        idle = s[1:] - e[:-1]
        cand = np.flatnonzero(idle * self.scale > gap_px * 1.5 + 2 * pad_px)
        kt = [0.0]
        ky = [0.0]
        for j in cand.tolist():
            g0 = e[j] + pad_t
            g1 = s[j + 1] - pad_t
            y0 = ky[-1] + (g0 - kt[-1]) * self.scale
            kt += [g0, g1]
            ky += [y0, y0 + gap_px]
            self.gaps.append((int(g0), int(g1), y0, y0 + gap_px, int(idle[j])))
        self.kt = np.asarray(kt)
        self.ky = np.asarray(ky)

    def y(self, t):
        """y of time ``t`` (a number or an array)."""
        kt, ky = self.kt, self.ky
        tt = np.asarray(t, dtype=np.float64)
        out = np.interp(tt, kt, ky)
        after = tt > kt[-1]
        if np.any(after):
            out = np.where(after, ky[-1] + (tt - kt[-1]) * self.scale, out)
        before = tt < kt[0]
        if np.any(before):
            out = np.where(before, ky[0] + (tt - kt[0]) * self.scale, out)
        return float(out) if out.ndim == 0 else out

    def t(self, y: float) -> float:
        """The time at ``y`` (inverse of :meth:`y`; inside a gap, interpolated)."""
        kt, ky = self.kt, self.ky
        if y >= ky[-1]:
            return kt[-1] + (y - ky[-1]) / self.scale
        if y <= ky[0]:
            return kt[0] + (y - ky[0]) / self.scale
        return float(np.interp(y, ky, kt))

    def segments(self, t0: float, t1: float) -> list[tuple[float, float]]:
        """The linear (uncompressed) stretches of ``[t0, t1]``."""
        out = []
        start = t0
        for g0, g1, *_ in self.gaps:
            if g1 <= start:
                continue
            if g0 >= t1:
                break
            if g0 > start:
                out.append((start, g0))
            start = max(start, g1)
        if start < t1:
            out.append((start, t1))
        return out


# ----------------------------------------------------------------------------------------------
# Painting helpers
# ----------------------------------------------------------------------------------------------


def _luminance(c: QColor) -> float:
    return 0.2126 * c.redF() + 0.7152 * c.greenF() + 0.0722 * c.blueF()


def _rects_collide(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> bool:
    """Whether two rectangles, possibly rotated (corner lists in order), overlap: the
    separating-axis test, with the two edge directions of each as the axes."""
    for poly in (a, b):
        for k in (0, 1):
            (x1, y1), (x2, y2) = poly[k], poly[k + 1]
            nx, ny = y2 - y1, x1 - x2
            pa = [nx * x + ny * y for x, y in a]
            pb = [nx * x + ny * y for x, y in b]
            if max(pa) <= min(pb) or max(pb) <= min(pa):
                return False
    return True


@dataclass
class _Painted:
    """What the last paint drew, for hit testing and for tests."""

    idx: np.ndarray            # arrow indices
    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    labels: list               # (arrow index, corner list)
    crosses: list              # (arrow index, QPointF)
    notes: list                # (text, QRectF)
    scroll: float


class LadderCanvas(QAbstractScrollArea):
    """The scrolling drawing of lanes, arrows and notes (its viewport is painted directly)."""

    arrowClicked = Signal(int)          # arrow index
    timeClicked = Signal(int)           # ns
    zoomed = Signal()

    TOP_PAD = 14

    def __init__(self, view: "LadderView") -> None:
        super().__init__(view)
        self.view = view
        self.model = view.model
        self.axis = TimeAxis()
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOn)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setFrameShape(QAbstractScrollArea.NoFrame)
        self.viewport().setMouseTracking(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self.painted: _Painted | None = None
        self._pair_cache: tuple | None = None
        self._auto_scale = True
        self._auto_width = -1
        self._follow = True
        self._programmatic = False
        self._dragging = False
        self._axis_key = None
        self.short_notes = False
        self.verticalScrollBar().valueChanged.connect(self._on_scroll)

    # -- geometry -----------------------------------------------------------------------------
    def fonts(self) -> tuple[QFont, QFont, QFont]:
        """Label font, bold font and tag font, all from the view's font (at least 9 pt)."""
        f = QFont(self.view.font())
        if f.pointSizeF() > 0 and f.pointSizeF() < 9:
            f.setPointSizeF(9)
        bold = QFont(f)
        bold.setBold(True)
        tag = QFont(f)
        tag.setBold(True)
        return f, bold, tag

    def line_h(self) -> float:
        return QFontMetricsF(self.fonts()[0]).height()

    def lanes_x(self, width: float | None = None) -> tuple[float, float, float]:
        """(gutter width, left lane x, right lane x) for a viewport ``width`` px wide."""
        w = self.viewport().width() if width is None else width
        fm = QFontMetricsF(self.fonts()[0])
        gutter = fm.horizontalAdvance("00.0000 s") + 14
        full = fm.horizontalAdvance("SYN-RECEIVED") + 22
        # a narrow dock: state notes use RFC 793's short names (ESTAB, SYN-RCVD)
        self.short_notes = w * 0.17 < full
        if self.short_notes:
            note = fm.horizontalAdvance("CLOSE-WAIT") + 22
        else:
            note = min(w * 0.17, 190.0)
        left = gutter + note
        right = w - note - 6
        if right - left < 120:       # very narrow: keep a minimum arrow span
            note = max(40.0, (w - gutter - 126) / 2)
            left, right = gutter + note, w - note - 6
        return gutter, left, right

    # -- the selected pair's data -------------------------------------------------------------
    def pair_data(self) -> dict | None:
        """Sorted arrow data of the shown pair (cached per model version and pair)."""
        view, model = self.view, self.model
        pair = view.pair
        if model.trace is None or pair is None or pair >= len(model.pairs):
            return None
        left, right, _ = model.pairs[pair]
        key = (model.version, pair, left, right, model.seen)
        if self._pair_cache is not None and self._pair_cache[0] == key:
            return self._pair_cache[1]
        A = model.arrays()
        members = [c for c in (left, right) if c >= 0]
        if len(A["owner"]):
            idx = np.flatnonzero(np.isin(A["owner"], members))
        else:
            idx = np.zeros(0, dtype=np.int64)
        t0 = A["t0"][idx]
        order = np.argsort(t0, kind="stable")
        idx = idx[order]
        t0 = t0[order]
        sender = A["sender"][idx]
        owner = A["owner"][idx]
        # lane of the sender: the owner's lane when the owner sent it, else the other one
        owner_lane = np.where(owner == left, 0, 1)
        from_lane = np.where(sender == owner, owner_lane, 1 - owner_lane)
        t1 = A["t1"][idx]
        tdrop = A["tdrop"][idx]
        transit = {}
        for lane in (0, 1):
            ok = (from_lane == lane) & (t1 >= 0)
            transit[lane] = float(np.median(t1[ok] - t0[ok])) if np.any(ok) else None
        known = [v for v in transit.values() if v]
        for lane in (0, 1):
            if not transit[lane]:
                transit[lane] = known[0] if known else None
        end = np.where(t1 >= 0, t1, np.where(tdrop >= 0, tdrop, -1))
        colors = model.color_codes(A, idx)
        notes = []   # (t, lane, kind, text, row)
        for lane, conn in enumerate((left, right)):
            if conn < 0:
                continue
            for t, old, new, row in model.states.get(conn, ()):
                notes.append((t, lane, "state", TcpState(new).label, row))
            for t, kind, row in model.timers.get(conn, ()):
                notes.append((t, lane, "timer", TIMER_NOTE.get(kind, "timer"), row))
        notes.sort(key=lambda n: (n[0], n[4]))
        data = {"idx": idx, "t0": t0, "t1": t1, "tdrop": tdrop, "end": end,
                "from_lane": from_lane, "transit": transit, "colors": colors, "notes": notes,
                "outcome": A["outcome"][idx], "copy_of": A["copy_of"][idx],
                "note_t": np.array([n[0] for n in notes], dtype=np.int64)}
        self._pair_cache = (key, data)
        return data

    def end_time(self) -> int:
        ctx = self.view.context
        t = max(ctx.end_time(), ctx.cursor) if ctx.trace is not None else 0
        data = self.pair_data()
        if data is not None and len(data["end"]):
            t = max(t, int(data["end"].max()))
        return t

    def _flight_end(self, data: dict, now: int) -> np.ndarray:
        """End time of every arrow as drawn: arrival, drop, or ``now`` while still in flight."""
        return np.where(data["end"] >= 0, data["end"], np.maximum(now, data["t0"]))

    # -- axis ---------------------------------------------------------------------------------
    def sync(self, force: bool = False) -> None:
        """Rebuild the time axis and the scroll range after data, size, zoom or option changes."""
        data = self.pair_data()
        if self._auto_scale and data is not None:
            transit = data["transit"][0]
            w = self.viewport().width()
            if transit and (self._auto_width != w or force or self._axis_key is None):
                _, left, right = self.lanes_x()
                self.axis.scale = self._clamp_scale(0.17 * (right - left) / transit)
                self._auto_width = w
        now = self.end_time()
        key = (self._pair_cache[0] if data is not None else None, self.axis.scale,
               self.view.compress, now, self.line_h())
        if key != self._axis_key or force:
            self._axis_key = key
            if data is not None:
                starts = np.concatenate([[0], data["t0"], data["note_t"], [now]])
                ends = np.concatenate([[0], self._flight_end(data, now), data["note_t"], [now]])
            else:
                starts = ends = np.zeros(1)
            lh = self.line_h()
            self.axis.build(starts, ends, self.view.compress, gap_px=2.6 * lh, pad_px=2.2 * lh)
        total = self.axis.y(now) + self.TOP_PAD + 3 * self.line_h()
        vsb = self.verticalScrollBar()
        h = self.viewport().height()
        self._programmatic = True
        vsb.setRange(0, max(0, int(total - h)))
        vsb.setPageStep(max(1, h))
        vsb.setSingleStep(max(1, int(self.line_h() * 2)))
        self._programmatic = False

    def _clamp_scale(self, scale: float) -> float:
        end = max(1, self.end_time())
        hi = min(0.05, 1.5e9 / end)          # at most 50 px per us, and a scroll range Qt holds
        lo = 20.0 / end                      # the whole run at least 20 px tall
        return float(min(max(scale, min(lo, hi)), hi))

    def y_of(self, t) -> float:
        """Viewport y of time ``t``."""
        return self.axis.y(t) - self.verticalScrollBar().value() + self.TOP_PAD

    def t_of(self, y: float) -> int:
        return int(round(self.axis.t(y + self.verticalScrollBar().value() - self.TOP_PAD)))

    def set_scale(self, scale: float, anchor_y: float | None = None) -> None:
        """Zoom to ``scale`` px/ns keeping the time at viewport ``anchor_y`` in place."""
        if anchor_y is None:
            anchor_y = self.viewport().height() / 2
        t_anchor = self.t_of(anchor_y)
        self._auto_scale = False
        self.axis.scale = self._clamp_scale(scale)
        self.sync(force=True)
        self._scroll_to(self.axis.y(t_anchor) + self.TOP_PAD - anchor_y)
        self.viewport().update()
        self.zoomed.emit()

    def zoom(self, factor: float, anchor_y: float | None = None) -> None:
        self.set_scale(self.axis.scale * factor, anchor_y)

    def fit(self) -> None:
        """Scale so that the whole run fits the viewport height (searching the scale, since
        compressed gaps do not grow with it)."""
        now = self.end_time()
        avail = self.viewport().height() - self.TOP_PAD - 3 * self.line_h()
        if now <= 0 or avail <= 10:
            return
        self._auto_scale = False
        lo, hi = math.log(self._clamp_scale(1e-12)), math.log(self._clamp_scale(1.0))
        for _ in range(24):
            mid = (lo + hi) / 2
            self.axis.scale = math.exp(mid)
            self.sync(force=True)
            if self.axis.y(now) > avail:
                hi = mid
            else:
                lo = mid
        self.axis.scale = math.exp(lo)
        self.sync(force=True)
        self._scroll_to(0)
        self._follow = True
        self.viewport().update()
        self.zoomed.emit()

    def _scroll_to(self, value: float) -> None:
        vsb = self.verticalScrollBar()
        self._programmatic = True
        vsb.setValue(int(round(max(0, min(vsb.maximum(), value)))))
        self._programmatic = False
        self._follow = vsb.value() >= vsb.maximum() - 2

    def _on_scroll(self, value: int) -> None:
        if not self._programmatic:
            vsb = self.verticalScrollBar()
            self._follow = value >= vsb.maximum() - 2
        self.viewport().update()

    def ensure_visible(self, t0: int, t1: int | None = None, center: bool = True) -> None:
        """Scroll so that times ``t0``..``t1`` are in view."""
        t1 = t0 if t1 is None else t1
        h = self.viewport().height()
        y0, y1 = self.y_of(t0), self.y_of(t1)
        margin = 2 * self.line_h()
        if y0 >= margin and y1 <= h - margin:
            return
        v = self.verticalScrollBar().value()
        if center:
            self._scroll_to(v + (y0 + y1) / 2 - h / 2)
        elif y1 > h - margin:
            self._scroll_to(v + y1 - h + margin)
        else:
            self._scroll_to(v + y0 - margin)

    def follow_now(self) -> None:
        """Live: keep the newest moment in view (unless the user scrolled away)."""
        if self._follow:
            self._scroll_to(self.verticalScrollBar().maximum())

    # -- events -------------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.sync()
        if self.view.context.live:
            self.follow_now()

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.ControlModifier:
            steps = event.angleDelta().y() / 120.0
            if steps:
                self.zoom(1.25 ** steps, event.position().y())
            event.accept()
            return
        super().wheelEvent(event)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key in (Qt.Key_Plus, Qt.Key_Equal):
            self.zoom(1.25)
        elif key == Qt.Key_Minus:
            self.zoom(0.8)
        elif key == Qt.Key_0:
            self.fit()
        else:
            super().keyPressEvent(event)

    def arrow_at(self, pos: QPointF) -> int | None:
        """The arrow (model index) under viewport position ``pos``: its label, or its line
        within a few pixels."""
        p = self.painted
        if p is None or abs(p.scroll - self.verticalScrollBar().value()) > 0.5:
            self._paint_to_nothing()
            p = self.painted
        if p is None:
            return None
        x, y = pos.x(), pos.y()
        for k, corners in reversed(p.labels):
            poly = QPolygonF([QPointF(a, b) for a, b in corners])
            if poly.containsPoint(QPointF(x, y), Qt.OddEvenFill):
                return k
        if not len(p.idx):
            return None
        dx, dy = p.x1 - p.x0, p.y1 - p.y0
        ll = dx * dx + dy * dy
        u = np.clip(((x - p.x0) * dx + (y - p.y0) * dy) / np.where(ll > 0, ll, 1), 0, 1)
        dist = np.hypot(p.x0 + u * dx - x, p.y0 + u * dy - y)
        j = int(np.argmin(dist))
        return int(p.idx[j]) if dist[j] <= 6 else None

    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.LeftButton:
            return super().mousePressEvent(event)
        k = self.arrow_at(event.position())
        if k is not None:
            self.arrowClicked.emit(k)
        else:
            self._dragging = True
            self.timeClicked.emit(self.t_of(event.position().y()))
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        if self._dragging:
            self.timeClicked.emit(self.t_of(event.position().y()))
            event.accept()
            return
        over = self.arrow_at(event.position()) is not None
        self.viewport().setCursor(Qt.PointingHandCursor if over else Qt.ArrowCursor)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        self._dragging = False
        super().mouseReleaseEvent(event)

    def viewportEvent(self, event) -> bool:
        if event.type() == QEvent.ToolTip:
            k = self.arrow_at(QPointF(event.pos()))
            if k is not None:
                QToolTip.showText(event.globalPos(), self.view.tooltip(k), self.viewport())
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().viewportEvent(event)

    # -- painting -----------------------------------------------------------------------------
    def _paint_to_nothing(self) -> None:
        """Lay out without drawing (hit tests before the first paint)."""
        from PySide6.QtGui import QImage
        img = QImage(max(1, self.viewport().width()), max(1, self.viewport().height()),
                     QImage.Format_ARGB32_Premultiplied)
        painter = QPainter(img)
        self.draw(painter)
        painter.end()

    def paintEvent(self, event) -> None:
        painter = QPainter(self.viewport())
        self.draw(painter)
        painter.end()

    def draw(self, p: QPainter) -> None:
        view = self.view
        theme = view.theme
        w, h = self.viewport().width(), self.viewport().height()
        p.setRenderHint(QPainter.Antialiasing, True)
        p.fillRect(QRectF(0, 0, w, h), theme.color("canvas"))
        font, bold, tagfont = self.fonts()
        fm = QFontMetricsF(font)
        lh = fm.height()
        gutter, xl, xr = self.lanes_x(w)
        scroll = self.verticalScrollBar().value()
        self.painted = _Painted(np.zeros(0, np.int64), *(np.zeros(0),) * 4, [], [], [], scroll)
        data = self.pair_data()
        ctx = view.context
        if data is None:
            p.setPen(theme.color("muted"))
            p.setFont(font)
            p.drawText(QRectF(0, 0, w, h), Qt.AlignCenter | Qt.TextWordWrap,
                       "No connection yet.\nRun the scenario: its segments appear here.")
            return
        now = self.end_time()
        cursor = ctx.cursor
        live = ctx.live
        ta = self.axis.t(scroll - self.TOP_PAD - lh)
        tb = self.axis.t(scroll + h - self.TOP_PAD + lh)

        # gaps, ticks and lanes ------------------------------------------------------------
        self._draw_axis(p, data, ta, tb, gutter, xl, xr, w, h, font)

        # arrows -------------------------------------------------------------------------------
        t0 = data["t0"]
        fend = self._flight_end(data, now)
        lo = int(np.searchsorted(t0, ta - (fend - t0).max(initial=0), side="left"))
        hi = int(np.searchsorted(t0, tb, side="right"))
        cand = np.arange(lo, hi)
        cand = cand[fend[cand] >= ta]
        idx = data["idx"][cand]
        from_lane = data["from_lane"][cand]
        xs = np.where(from_lane == 0, xl, xr)
        xe_full = np.where(from_lane == 0, xr, xl)
        ys = self.y_of(t0[cand]) if len(cand) else np.zeros(0)
        t1 = data["t1"][cand]
        tdrop = data["tdrop"][cand]
        transit = np.array([data["transit"][int(f)] or 0.0 for f in from_lane.tolist()]) \
            if len(cand) else np.zeros(0)
        # the fraction of the way across: 1 when it arrived; when dropped or still in flight,
        # the time it travelled over the typical time to cross in that direction
        travelled = np.where(tdrop >= 0, tdrop, fend[cand]) - t0[cand]
        frac = np.where(transit > 0, travelled / np.where(transit > 0, transit, 1), 0.5)
        lost = (t1 < 0) & (tdrop >= 0)
        flying = (t1 < 0) & (tdrop < 0)
        frac = np.where(lost, np.clip(frac, 0.12, 0.88),
                        np.where(flying, np.clip(frac, 0.04, 0.96), 1.0))
        xe = xs + (xe_full - xs) * frac
        ye = self.y_of(fend[cand]) if len(cand) else np.zeros(0)
        self.painted.idx, self.painted.x0, self.painted.y0 = idx, xs, ys
        self.painted.x1, self.painted.y1 = xe, ye

        palette = view.palette_colors()
        colors = data["colors"][cand]
        future = (t0[cand] > cursor) if not live else np.zeros(len(cand), bool)
        dense = len(cand) > 2500
        pen_w = 1.4 if dense else max(1.8, lh / 11)
        sel = view.selected_index
        # acknowledgments first and retransmissions last, so that where lines pile up (zoomed
        # far out) the data and the repairs stay visible
        for code in (C_ACK, C_DATA, C_DUPACK, C_SYN, C_SYNACK, C_FIN, C_RST, C_RETX):
            for fut in (False, True):
                mask = (colors == code) & (future == fut)
                if not np.any(mask):
                    continue
                c = QColor(palette[COLOR_NAMES[code]])
                if fut:
                    c.setAlphaF(0.28)
                copies = mask & (data["copy_of"][cand] >= 0)
                for dashed, m in ((False, mask & ~copies), (True, copies)):
                    if not np.any(m):
                        continue
                    pen = QPen(c, pen_w)
                    if dashed:
                        pen.setStyle(Qt.DashLine)
                    p.setPen(pen)
                    p.drawLines([QLineF(*line) for line in
                                 zip(xs[m].tolist(), ys[m].tolist(), xe[m].tolist(),
                                     ye[m].tolist())])
                    if not dense:
                        heads = m & ~lost & ~flying
                        self._draw_heads(p, c, xs[heads], ys[heads], xe[heads], ye[heads], lh)
        # the selected arrow: a halo under a redrawn line
        if sel is not None:
            where = np.flatnonzero(idx == sel)
            if len(where):
                j = int(where[0])
                halo = theme.color("link_selected")
                halo.setAlphaF(0.35)
                p.setPen(QPen(halo, 10, Qt.SolidLine, Qt.RoundCap))
                p.drawLine(QPointF(xs[j], ys[j]), QPointF(xe[j], ye[j]))
                p.setPen(QPen(QColor(palette[COLOR_NAMES[colors[j]]]), 2.6))
                p.drawLine(QPointF(xs[j], ys[j]), QPointF(xe[j], ye[j]))

        # in flight at the cursor (replay): the part of the arrow after the cursor is faded
        dots: list[tuple[float, float, int]] = []
        if not live and len(cand):
            mid = (t0[cand] <= cursor) & (fend[cand] > cursor)
            if np.any(mid):
                yc = self.y_of(cursor)
                bg = theme.color("canvas")
                bg.setAlphaF(0.72)
                for j in np.flatnonzero(mid).tolist():
                    f = (yc - ys[j]) / (ye[j] - ys[j]) if ye[j] != ys[j] else 1.0
                    xc = xs[j] + (xe[j] - xs[j]) * f
                    p.setPen(QPen(bg, pen_w + 1.2))
                    p.drawLine(QPointF(xc, yc), QPointF(xe[j], ye[j]))
                    dots.append((xc, yc, j))
        # in flight now (live): a dot where the segment is
        if np.any(flying):
            dots += [(xe[j], ye[j], j) for j in np.flatnonzero(flying).tolist()]
        # marks drawn over the labels; labels keep clear of the crosses
        s = max(5.0, lh * 0.36)
        obstacles = [[(xe[j] - s, ye[j] - s), (xe[j] + s, ye[j] - s), (xe[j] + s, ye[j] + s),
                      (xe[j] - s, ye[j] + s)] for j in np.flatnonzero(lost).tolist()]
        # labels ---------------------------------------------------------------------------
        self._draw_labels(p, data, cand, idx, xs, ys, xe, ye, lost, future, font, tagfont,
                          xl, xr, sel, obstacles)
        # crosses where segments were lost
        drop_c = theme.color("drop")
        late = (fend[cand] > cursor) if not live else np.zeros(len(cand), bool)
        for j in np.flatnonzero(lost).tolist():
            c = QColor(drop_c)
            if late[j]:
                c.setAlphaF(0.3)
            p.setPen(QPen(c, 2.6, Qt.SolidLine, Qt.RoundCap))
            x, y = xe[j], ye[j]
            p.drawLine(QPointF(x - s, y - s), QPointF(x + s, y + s))
            p.drawLine(QPointF(x - s, y + s), QPointF(x + s, y - s))
            self.painted.crosses.append((int(idx[j]), QPointF(x, y)))
        # out-of-order arrivals and gap fillers: a ring where they reach the receiver
        outcome = data["outcome"][cand]
        ring = (outcome == RecvOutcome.OUT_OF_ORDER) | (outcome == RecvOutcome.FILLED_HOLE)
        if np.any(ring):
            p.setBrush(Qt.NoBrush)
            for j in np.flatnonzero(ring).tolist():
                c = QColor(palette["ooo"])
                if late[j]:
                    c.setAlphaF(0.3)
                p.setPen(QPen(c, 2.2))
                p.drawEllipse(QPointF(xe[j], ye[j]), s * 0.9, s * 0.9)
        for x, y, j in dots:
            p.setPen(QPen(theme.color("canvas"), 1.2))
            p.setBrush(QColor(palette[COLOR_NAMES[colors[j]]]))
            p.drawEllipse(QPointF(x, y), 4.0, 4.0)
        # notes ----------------------------------------------------------------------------
        self._draw_notes(p, data, ta, tb, xl, xr, gutter, font, cursor, live)
        # cursor ---------------------------------------------------------------------------
        self._draw_cursor(p, cursor, w, h, gutter, font)

    def _draw_heads(self, p, color, xs, ys, xe, ye, lh) -> None:
        if not len(xs):
            return
        size = max(7.0, lh * 0.55)
        dx, dy = xe - xs, ye - ys
        n = np.hypot(dx, dy)
        n = np.where(n > 0, n, 1)
        ux, uy = dx / n, dy / n
        path = QPainterPath()
        for x, y, a, b in zip(xe.tolist(), ye.tolist(), ux.tolist(), uy.tolist()):
            bx, by = x - a * size, y - b * size
            path.addPolygon(QPolygonF([QPointF(x, y),
                                       QPointF(bx - b * size * 0.42, by + a * size * 0.42),
                                       QPointF(bx + b * size * 0.42, by - a * size * 0.42)]))
            path.closeSubpath()
        p.setPen(Qt.NoPen)
        p.fillPath(path, QBrush(color))

    def _draw_axis(self, p, data, ta, tb, gutter, xl, xr, w, h, font) -> None:
        theme = self.view.theme
        fm = QFontMetricsF(font)
        lh = fm.height()
        # compressed gaps: a band with a break mark and how long nothing happened
        for g0, g1, y0, y1, idle in self.axis.gaps:
            if g1 < ta or g0 > tb:
                continue
            top = y0 - self.verticalScrollBar().value() + self.TOP_PAD
            band = QRectF(0, top, w, y1 - y0)
            p.fillRect(band, theme.color("grid"))
            p.setPen(QPen(theme.color("muted"), 1, Qt.DashLine))
            p.drawLine(QPointF(0, band.top()), QPointF(w, band.top()))
            p.drawLine(QPointF(0, band.bottom()), QPointF(w, band.bottom()))
            p.setPen(theme.color("muted"))
            p.setFont(font)
            p.drawText(QRectF(xl, band.top(), xr - xl, band.height()), Qt.AlignCenter,
                       f"\u22ee  {fmt_duration(idle)} with nothing sent  \u22ee")
        # time ticks in the gutter, per linear stretch
        step = self._tick_step(3.2 * lh / self.axis.scale)
        p.setFont(font)
        grid = theme.color("grid")
        for s0, s1 in self.axis.segments(max(0.0, ta), tb):
            k0 = math.ceil(s0 / step)
            k1 = math.floor(s1 / step)
            for k in range(k0, k1 + 1):
                t = k * step
                y = self.y_of(t)
                p.setPen(QPen(grid, 1))
                p.drawLine(QPointF(gutter - 4, y), QPointF(w, y))
                p.setPen(theme.color("muted"))
                p.drawText(QRectF(2, y - lh / 2, gutter - 10, lh), Qt.AlignRight | Qt.AlignVCenter,
                           self._fmt_tick(t, step))
        # lanes
        pen = QPen(theme.color("text"), 2.0)
        p.setPen(pen)
        for x in (xl, xr):
            p.drawLine(QPointF(x, 0), QPointF(x, h))
        # break marks on the lanes inside gaps
        for g0, g1, y0, y1, idle in self.axis.gaps:
            if g1 < ta or g0 > tb:
                continue
            top = y0 - self.verticalScrollBar().value() + self.TOP_PAD
            for x in (xl, xr):
                p.fillRect(QRectF(x - 3, top + 4, 6, y1 - y0 - 8), theme.color("grid"))
                p.setPen(QPen(theme.color("text"), 1.6))
                for yy in (top + 4, top + y1 - y0 - 4):
                    p.drawLine(QPointF(x - 7, yy + 3), QPointF(x + 7, yy - 3))

    @staticmethod
    def _tick_step(min_ns: float) -> float:
        """The smallest 1-2-5 step of at least ``min_ns``."""
        if min_ns <= 1:
            return 1.0
        exp = 10 ** math.floor(math.log10(min_ns))
        for m in (1, 2, 5, 10):
            if m * exp >= min_ns:
                return float(m * exp)
        return float(10 * exp)

    @staticmethod
    def _fmt_tick(t: float, step: float) -> str:
        if t >= 1e9 or step >= 1e9:
            dec = max(0, min(6, -math.floor(math.log10(step / 1e9) + 1e-9)))
            return f"{t / 1e9:.{dec}f} s"
        dec = max(0, min(3, -math.floor(math.log10(step / 1e6) + 1e-9)))
        return f"{t / 1e6:.{dec}f} ms"

    def _draw_labels(self, p, data, cand, idx, xs, ys, xe, ye, lost, future, font, tagfont,
                     xl, xr, sel, obstacles) -> None:
        view, model, theme = self.view, self.model, self.view.theme
        fm = QFontMetricsF(font)
        tfm = QFontMetricsF(tagfont)
        lh = fm.height()
        palette = view.palette_colors()
        order = list(range(len(cand)))
        if sel is not None:
            where = np.flatnonzero(idx == sel)
            if len(where):
                order.remove(int(where[0]))
                order.insert(0, int(where[0]))
        placed: list[tuple[tuple, list]] = []   # ((xmin, xmax, ymin, ymax), corners)
        marks = [((min(x for x, _ in c), max(x for x, _ in c), min(y for _, y in c),
                   max(y for _, y in c)), c) for c in obstacles]
        # more arrows than lines of text fit: labels would only hide the arrows; label the
        # selected one alone (zoom in to read the others)
        if len(order) > 3 * self.viewport().height() / lh:
            order = order[:1] if sel is not None and sel in idx[order[:1]].tolist() else []
        budget = 300
        label_bg = theme.color("canvas")
        label_bg.setAlphaF(0.86)
        for j in order:
            budget -= 1
            if budget < 0:
                break
            k = int(idx[j])
            x0, y0, x1, y1 = xs[j], ys[j], xe[j], ye[j]
            length = math.hypot(x1 - x0, y1 - y0)
            if length < 40:
                continue
            # reading direction: left to right
            if x1 < x0:
                ax, ay, bx, by = x1, y1, x0, y0
            else:
                ax, ay, bx, by = x0, y0, x1, y1
            angle = math.degrees(math.atan2(by - ay, bx - ax))
            horizontal = abs(angle) > 55
            if horizontal:
                angle = 0.0
            text = model.label(k, view.numbering)
            tags = model.tags(k)
            avail = (length - 28) if not horizontal else (xr - xl - 20)
            tw = fm.horizontalAdvance(text)
            if tw > avail:
                if k != sel and avail < fm.horizontalAdvance("ACK 00"):
                    continue
                text = fm.elidedText(text, Qt.ElideRight, avail)
                tw = fm.horizontalAdvance(text)
            badges = []
            total = tw
            for tag, cname in tags:
                bw = tfm.horizontalAdvance(tag) + 10
                if total + 6 + bw > avail:
                    break
                badges.append((tag, cname, bw))
                total += 6 + bw
            rad = math.radians(angle)
            ca, sa = math.cos(rad), math.sin(rad)
            bh = lh + 2
            # where along the line the label may sit (inside it, clear of the arrowhead), and on
            # which side: the middle above first, then below, then further along
            half = (total / 2 + 14) / length if not horizontal else 0.0
            chosen = None
            for f, side in ((0.5, 1), (0.5, -1), (0.3, 1), (0.7, 1), (0.3, -1), (0.7, -1),
                            (0.18, 1), (0.82, 1)):
                f = min(max(f, half), 1 - half) if half < 0.5 else 0.5
                cx, cy = ax + (bx - ax) * f, ay + (by - ay) * f
                if horizontal:
                    top = -bh / 2
                else:
                    top = -3.0 - bh if side > 0 else 3.0
                local = [(-total / 2 - 3, top), (total / 2 + 3, top),
                         (total / 2 + 3, top + bh), (-total / 2 - 3, top + bh)]
                corners = [(cx + u * ca - v * sa, cy + u * sa + v * ca) for u, v in local]
                xs_ = [c[0] for c in corners]
                ys_ = [c[1] for c in corners]
                box = (min(xs_), max(xs_), min(ys_), max(ys_))
                clash = False
                for other, pc in marks + placed[-40:]:
                    if (other[3] < box[2] or other[2] > box[3] or other[1] < box[0]
                            or other[0] > box[1]):
                        continue
                    if _rects_collide(corners, pc):
                        clash = True
                        break
                if not clash or k == sel:
                    chosen = (cx, cy, top, corners, box)
                    break
            if chosen is None:
                continue
            cx, cy, top, corners, box = chosen
            placed.append((box, corners))
            self.painted.labels.append((k, corners))
            fut = bool(future[j])
            p.save()
            p.translate(cx, cy)
            p.rotate(angle)
            box = QRectF(-total / 2 - 3, top, total + 6, bh)
            bg = QColor(label_bg)
            if k == sel:
                bg = theme.color("link_selected")
                bg.setAlphaF(0.22)
            p.setPen(Qt.NoPen)
            p.setBrush(bg)
            p.drawRoundedRect(box, 3, 3)
            tc = theme.color("text")
            if fut:
                tc.setAlphaF(0.35)
            p.setPen(tc)
            p.setFont(font)
            x = -total / 2
            p.drawText(QRectF(x, box.top() + 1, tw + 1, lh), Qt.AlignLeft | Qt.AlignVCenter, text)
            x += tw + 6
            p.setFont(tagfont)
            for tag, cname, bw in badges:
                c = QColor(palette.get(cname, theme.muted))
                if fut:
                    c.setAlphaF(0.35)
                p.setPen(Qt.NoPen)
                p.setBrush(c)
                r = QRectF(x, box.top() + 1, bw, bh - 2)
                p.drawRoundedRect(r, (bh - 2) / 2, (bh - 2) / 2)
                dark = _luminance(QColor(palette.get(cname, theme.muted))) < 0.55
                fg = QColor("#ffffff") if dark else QColor("#1b1f23")
                p.setPen(fg)
                p.drawText(r, Qt.AlignCenter, tag)
                x += bw + 6
            p.restore()

    def _draw_notes(self, p, data, ta, tb, xl, xr, gutter, font, cursor, live) -> None:
        theme = self.view.theme
        notes = data["notes"]
        if not notes:
            return
        fm = QFontMetricsF(font)
        lh = fm.height()
        nt = data["note_t"]
        lo = int(np.searchsorted(nt, ta - 1, side="left"))
        hi = int(np.searchsorted(nt, tb + 1, side="right"))
        last_bottom = {0: -1e9, 1: -1e9}
        room = {0: xl - gutter - 12, 1: self.viewport().width() - xr - 14}
        for t, lane, kind, text, row in notes[lo:hi]:
            if self.short_notes:
                text = SHORT_STATE.get(text, text)
            y = self.y_of(t)
            fut = (not live) and t > cursor
            wtext = min(fm.horizontalAdvance(text), room[lane] - 10)
            if wtext <= 10:
                continue
            text = fm.elidedText(text, Qt.ElideRight, wtext + 1)
            bw, bh = wtext + 10, lh + 2
            top = max(y - bh / 2, last_bottom[lane] + 2)
            if top - (y - bh / 2) > 3 * bh:
                continue          # too crowded here: skip rather than drift away
            last_bottom[lane] = top + bh
            x = xl - 10 - bw if lane == 0 else xr + 10
            lane_x = xl if lane == 0 else xr
            rect = QRectF(x, top, bw, bh)
            self.painted.notes.append((text, rect))
            alpha = 0.35 if fut else 1.0
            if kind == "state":
                edge = theme.color("link_selected")
                edge.setAlphaF(alpha)
                p.setPen(QPen(edge, 1.2))
                p.drawLine(QPointF(lane_x, y), QPointF(x + bw if lane == 0 else x, top + bh / 2))
                fill = theme.color("base")
                fill.setAlphaF(alpha)
                p.setBrush(fill)
                p.drawRoundedRect(rect, 4, 4)
                tc = theme.color("text")
            else:
                c = theme.color("retx")
                c.setAlphaF(alpha)
                p.setPen(QPen(c, 1.6))
                p.setBrush(theme.color("canvas"))
                r = max(5.0, lh * 0.33)
                p.drawEllipse(QPointF(lane_x, y), r, r)
                p.drawLine(QPointF(lane_x, y), QPointF(lane_x, y - r * 0.7))
                p.drawLine(QPointF(lane_x, y), QPointF(lane_x + r * 0.55, y))
                tc = theme.color("retx")
            tc.setAlphaF(alpha)
            p.setPen(tc)
            p.setFont(font)
            p.drawText(rect, Qt.AlignCenter, text)

    def _draw_cursor(self, p, cursor, w, h, gutter, font) -> None:
        theme = self.view.theme
        y = self.y_of(cursor)
        if y < -2 or y > h + 2:
            return
        c = theme.color("link_selected")
        p.setPen(QPen(c, 1.6))
        p.drawLine(QPointF(gutter - 4, y), QPointF(w, y))
        fm = QFontMetricsF(font)
        text = self._fmt_tick(cursor, 1e3 if cursor < 1e9 else 1e3)
        tw = fm.horizontalAdvance(text) + 8
        r = QRectF(2, y - fm.height() / 2 - 1, max(tw, gutter - 6), fm.height() + 2)
        p.setPen(Qt.NoPen)
        p.setBrush(c)
        p.drawRoundedRect(r, 3, 3)
        p.setPen(QColor("#ffffff") if _luminance(c) < 0.55 else QColor("#1b1f23"))
        p.setFont(font)
        p.drawText(r, Qt.AlignCenter, text)


class LaneHeader(QWidget):
    """Above the lanes: each endpoint's ``node:port`` and its TCP state at the cursor."""

    def __init__(self, view: "LadderView") -> None:
        super().__init__(view)
        self.view = view
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)

    def sizeHint(self) -> QSize:
        lh = QFontMetricsF(self.view.canvas.fonts()[0]).height()
        return QSize(200, int(lh * 2.9 + 8))

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, event) -> None:
        view = self.view
        theme = view.theme
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing, True)
        p.fillRect(self.rect(), theme.color("canvas"))
        font, bold, _ = view.canvas.fonts()
        fm = QFontMetricsF(font)
        lh = fm.height()
        _, xl, xr = view.canvas.lanes_x(view.canvas.viewport().width())
        for lane, x in enumerate((xl, xr)):
            name, state = view.lane_text(lane)
            p.setFont(bold)
            p.setPen(theme.color("text"))
            bfm = QFontMetricsF(bold)
            nw = bfm.horizontalAdvance(name) + 8
            p.drawText(QRectF(x - nw / 2, 3, nw, lh), Qt.AlignCenter, name)
            sw = fm.horizontalAdvance(state) + 16
            r = QRectF(x - sw / 2, lh + 6, sw, lh + 2)
            edge = theme.color("link_selected")
            p.setPen(QPen(edge, 1.2))
            p.setBrush(theme.color("base"))
            p.drawRoundedRect(r, r.height() / 2, r.height() / 2)
            p.setFont(font)
            p.setPen(theme.color("text") if state != "\u2014" else theme.color("muted"))
            p.drawText(r, Qt.AlignCenter, state)
        p.setPen(QPen(theme.color("grid"), 1))
        p.drawLine(0, self.height() - 1, self.width(), self.height() - 1)
        p.end()


# ----------------------------------------------------------------------------------------------
# The dock widget
# ----------------------------------------------------------------------------------------------


class LadderView(QWidget):
    """Ladder diagram dock. Public API:

    ``pairs()`` titles of the connections (one per pair of endpoints); ``pair`` / ``set_pair(i)``
    the one shown; ``numbering`` / ``set_numbering("absolute"|"relative"|"numbered")`` and
    ``set_relative(bool)``; ``compress`` / ``set_compress(bool)``; ``zoom_in()``,
    ``zoom_out()``, ``fit()``; ``arrows()`` the shown arrows as :class:`ArrowInfo`;
    ``lane_text(lane)`` a lane's name and state at the cursor; ``set_theme(theme)``.
    """

    title = "Ladder"
    SOURCE = "ladder"

    def __init__(self, context, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.theme: Theme = LIGHT
        self.model = LadderModel()
        self.narrator: Narrator | None = None
        self.pair: int | None = None
        self.numbering = "absolute"
        self._numbering_chosen = False
        self.compress = True
        self.selected_index: int | None = None
        self._palette: dict[str, str] = {}

        self.conn_box = QComboBox()
        self.conn_box.setToolTip("Which connection to draw")
        self.conn_box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.conn_box.setMinimumContentsLength(14)
        self.conn_box.currentIndexChanged.connect(self._on_pair_box)
        self.conn_label = QLabel()
        self.conn_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.num_box = QComboBox()
        for mode in NUMBERINGS:
            self.num_box.addItem(NUMBERING_TEXT[mode], mode)
        self.num_box.setToolTip("Absolute sequence numbers, relative to the initial sequence "
                                "number (ISN), or the lesson's numbered packets and bytes")
        self.num_box.currentIndexChanged.connect(
            lambda i: self.set_numbering(self.num_box.itemData(i), chosen=True))
        self.compress_box = QCheckBox("compress idle")
        self.compress_box.setChecked(True)
        self.compress_box.setToolTip("Draw long stretches where nothing is sent as a short break")
        self.compress_box.toggled.connect(self.set_compress)
        self.zoom_out_btn = QToolButton(text="\u2212",
                                        toolTip="Zoom out the time axis (Ctrl+wheel, -)")
        self.zoom_in_btn = QToolButton(text="+", toolTip="Zoom in the time axis (Ctrl+wheel, +)")
        self.fit_btn = QToolButton(text="Fit", toolTip="Fit the whole run into view")
        self.zoom_out_btn.clicked.connect(self.zoom_out)
        self.zoom_in_btn.clicked.connect(self.zoom_in)
        self.fit_btn.clicked.connect(self.fit)

        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.setSpacing(6)
        bar.addWidget(self.conn_box, 1)
        bar.addWidget(self.conn_label, 1)
        bar.addWidget(self.num_box)
        bar.addWidget(self.compress_box)
        bar.addWidget(self.zoom_out_btn)
        bar.addWidget(self.zoom_in_btn)
        bar.addWidget(self.fit_btn)

        self.canvas = LadderCanvas(self)
        self.header = LaneHeader(self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(bar)
        lay.addWidget(self.header)
        lay.addWidget(self.canvas, 1)

        self.canvas.arrowClicked.connect(self._on_arrow_clicked)
        self.canvas.timeClicked.connect(self._on_time_clicked)
        self.canvas.zoomed.connect(self.header.update)
        context.follow(self)
        self.set_theme(LIGHT)
        self._on_reset()

    # -- public -------------------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        extra = EXTRA_COLORS.get(theme.name, EXTRA_COLORS["light"])
        self._palette = {name: getattr(theme, name) for name in
                         ("syn", "synack", "data", "ack", "fin", "rst", "retx", "drop", "muted")}
        self._palette.update(extra)
        self.canvas.viewport().update()
        self.header.update()

    def palette_colors(self) -> dict[str, str]:
        return self._palette

    def pairs(self) -> list[str]:
        return [self.model.pair_title(k) for k in range(len(self.model.pairs))]

    def set_pair(self, index: int) -> None:
        if index == self.pair or not 0 <= index < len(self.model.pairs):
            return
        self.pair = index
        if self.conn_box.currentIndex() != index:
            self.conn_box.blockSignals(True)
            self.conn_box.setCurrentIndex(index)
            self.conn_box.blockSignals(False)
        self._default_numbering()
        self.canvas._auto_scale = True
        self.canvas.sync(force=True)
        if self.context.live:
            self.canvas._follow = True
            self.canvas.follow_now()
        else:
            self.canvas.ensure_visible(self.context.cursor)
        self._refresh()

    def set_numbering(self, mode: str, chosen: bool = True) -> None:
        """``absolute``, ``relative`` (minus the ISN) or ``numbered`` (the lesson's packets and
        bytes)."""
        if mode not in NUMBERINGS:
            raise ValueError(f"numbering is one of {', '.join(NUMBERINGS)}, not {mode!r}")
        self._numbering_chosen = self._numbering_chosen or chosen
        self.numbering = mode
        i = NUMBERINGS.index(mode)
        if self.num_box.currentIndex() != i:
            self.num_box.blockSignals(True)
            self.num_box.setCurrentIndex(i)
            self.num_box.blockSignals(False)
        self.canvas.viewport().update()

    def set_relative(self, relative: bool) -> None:
        """The window's "relative sequence numbers" switch (keeps the lesson numbering if on)."""
        if self.numbering == "numbered":
            return
        self.set_numbering("relative" if relative else "absolute")

    def set_compress(self, on: bool) -> None:
        self.compress = bool(on)
        if self.compress_box.isChecked() != self.compress:
            self.compress_box.setChecked(self.compress)
        self.canvas.sync(force=True)
        self.canvas.ensure_visible(self.context.cursor)
        self.canvas.viewport().update()

    def zoom_in(self) -> None:
        self.canvas.zoom(1.5)

    def zoom_out(self) -> None:
        self.canvas.zoom(1 / 1.5)

    def fit(self) -> None:
        self.canvas.fit()

    def lane_text(self, lane: int) -> tuple[str, str]:
        """A lane's ``node:port`` and its TCP state at the cursor ("\u2014" when unknown)."""
        model = self.model
        if self.pair is None or model.trace is None:
            return ("client" if lane == 0 else "server", "\u2014")
        conn = model.pairs[self.pair][lane]
        name = model.lane_label(self.pair, lane)
        state = model.state_at(conn, self.context.cursor) if conn >= 0 else None
        return name, state.label if state is not None else "\u2014"

    def arrows(self) -> list[ArrowInfo]:
        """Every arrow of the shown connection, in order of sending."""
        data = self.canvas.pair_data()
        if data is None:
            return []
        m = self.model
        out = []
        for j, k in enumerate(data["idx"].tolist()):
            fl = int(data["from_lane"][j])
            out.append(ArrowInfo(m.uid[k], m.row[k], m.label(k, self.numbering),
                                 tuple(t for t, _ in m.tags(k)), m.t0[k],
                                 m.t1[k] if m.t1[k] >= 0 else None,
                                 m.tdrop[k] if m.tdrop[k] >= 0 else None, fl, 1 - fl,
                                 COLOR_NAMES[m.color_code(k)]))
        return out

    def tooltip(self, k: int) -> str:
        """Full details of arrow ``k``: the segment as on the wire, times and what happened."""
        m, tr = self.model, self.model.trace
        uid = m.uid[k]
        lines = [f"packet #{uid}: {segment_label(tr, uid)}",
                 f"sent at {m.t0[k] / 1e6:.3f} ms"]
        if m.t1[k] >= 0:
            lines.append(f"received at {m.t1[k] / 1e6:.3f} ms "
                         f"({fmt_duration(m.t1[k] - m.t0[k])} later)")
        if m.drow[k] >= 0:
            lines.append(f"dropped at {m.tdrop[k] / 1e6:.3f} ms")
        if self.narrator is not None:
            lines.append(self.narrator.explain(m.row[k]))
            for row in (m.rrow[k], m.drow[k]):
                if row >= 0:
                    lines.append(self.narrator.explain(row))
        return "\n".join(lines)

    # -- context ------------------------------------------------------------------------------
    def _on_reset(self) -> None:
        trace = self.context.trace
        self.model.reset(trace)
        self.narrator = Narrator(trace) if trace is not None else None
        self.pair = None
        self.selected_index = None
        self.canvas._pair_cache = None
        self.canvas._axis_key = None
        self.canvas._auto_scale = True
        self.canvas._follow = True
        self.conn_box.blockSignals(True)
        self.conn_box.clear()
        self.conn_box.blockSignals(False)
        if trace is not None and len(trace):
            self.model.ingest()
        self._update_pairs()
        self.canvas.sync(force=True)
        if not self.context.live:
            self.canvas.ensure_visible(self.context.cursor)
        self._refresh()

    def _on_advanced(self, first: int, end: int) -> None:
        if self.model.trace is None:
            return
        changed = self.model.ingest(end)
        if changed:
            self._update_pairs()
        self.canvas.sync()
        if self.context.live:
            self.canvas.follow_now()
        if changed:
            self._refresh()

    def _on_cursor(self, t: int) -> None:
        self.canvas.sync()
        if self.context.live:
            self.canvas.follow_now()
        elif not self.canvas._dragging:
            self.canvas.ensure_visible(t)
        self._refresh()

    def _on_selection(self, sel) -> None:
        if sel.source == self.SOURCE or self.model.trace is None:
            return
        k = self.model.by_uid.get(sel.packet) if sel.packet is not None else None
        if k is not None:
            owner = self.model.owner[k]
            pair = self.model.pair_of.get(owner) if owner >= 0 else None
            if pair is not None and pair != self.pair:
                self.set_pair(pair)
            self.selected_index = k
            end = self.model.t1[k] if self.model.t1[k] >= 0 else self.model.tdrop[k]
            self.canvas.ensure_visible(self.model.t0[k], max(end, self.model.t0[k]))
        else:
            self.selected_index = None
            conn = sel.conn
            if conn is not None and conn in self.model.pair_of:
                self.set_pair(self.model.pair_of[conn])
            if sel.event is not None and 0 <= sel.event < len(self.model.trace):
                self.canvas.ensure_visible(self.model.trace.t[sel.event])
        self._refresh()

    # -- internals ----------------------------------------------------------------------------
    def _update_pairs(self) -> None:
        model = self.model
        titles = self.pairs()
        box = self.conn_box
        box.blockSignals(True)
        for k, title in enumerate(titles):
            if k < box.count():
                if box.itemText(k) != title:
                    box.setItemText(k, title)
            else:
                box.addItem(title, k)
        box.blockSignals(False)
        several = len(titles) > 1
        box.setVisible(several)
        self.conn_label.setVisible(not several)
        self.conn_label.setText(titles[0] if titles else "no connection yet")
        if self.pair is None and model.pairs:
            self.set_pair(0)
        elif self.pair is not None:
            self._default_numbering()

    def _default_numbering(self) -> None:
        """Until the user picks: absolute numbers when the ISNs are small (set by a lesson, like
        100 and 500), relative ones when they are random 32-bit numbers."""
        if self._numbering_chosen or self.pair is None:
            return
        isns = []
        for conn in self.model.pairs[self.pair][:2]:
            if conn >= 0:
                info = self.model.trace.conns[conn]
                isns += [v for v in (info.iss, info.irs) if v is not None]
        mode = "relative" if any(v >= 1 << 20 for v in isns) else "absolute"
        if mode != self.numbering:
            self.set_numbering(mode, chosen=False)

    def _on_pair_box(self, index: int) -> None:
        if index >= 0:
            self.set_pair(index)

    def _on_arrow_clicked(self, k: int) -> None:
        self.selected_index = k
        m = self.model
        self.context.select(packet=m.uid[k], event=m.row[k], source=self.SOURCE)
        self._refresh()

    def _on_time_clicked(self, t: int) -> None:
        self.context.set_cursor(max(0, t))

    def _refresh(self) -> None:
        self.canvas.viewport().update()
        self.header.update()
