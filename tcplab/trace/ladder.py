"""A text ladder (sequence diagram) of a run, for the terminal.

Clients are drawn on the left, servers on the right; each segment is an arrow labelled with its
flags, sequence and acknowledgment numbers, and the narration explains it underneath. Drops,
state changes, timer expiries, faults and the user's live actions appear where they happen
(``verbose`` adds every other row: hops, arrivals, queueing, variables...).
"""

from __future__ import annotations

from typing import Iterator

from tcplab.net.packet import (OPT_MSS, OPT_SACK, OPT_SACK_PERM, OPT_TIMESTAMP, OPT_WSCALE,
                               flags_str)
from tcplab.trace.events import EventKind, RecvOutcome, SendReason
from tcplab.trace.narrate import Narrator

SHOWN = frozenset({EventKind.SEG_SENT, EventKind.SEG_RECV, EventKind.DROP, EventKind.STATE,
                   EventKind.TIMER_EXPIRE, EventKind.OOO, EventKind.LINK_SET, EventKind.NODE,
                   EventKind.APP_CALL, EventKind.DETECT, EventKind.USER})
#: Receipts worth a line of their own (the ordinary ones are implied by the arrows).
NOTABLE_RECEIPTS = frozenset({RecvOutcome.OUT_OF_ORDER, RecvOutcome.FILLED_HOLE,
                              RecvOutcome.DUPLICATE, RecvOutcome.OUT_OF_WINDOW,
                              RecvOutcome.RST_ACCEPTED, RecvOutcome.RST_IGNORED,
                              RecvOutcome.NO_CONNECTION, RecvOutcome.BAD_ACK})
ARROW = 58
RETRANSMIT = frozenset({SendReason.RTO_RETX, SendReason.GO_BACK_N, SendReason.FAST_RETX,
                        SendReason.PARTIAL_ACK_RETX, SendReason.SYN_RETRY, SendReason.FIN_RETX,
                        SendReason.SACK_RETX})


def segment_label(trace, uid: int) -> str:
    seg = trace.packets[uid].segment
    parts = [flags_str(seg.flags), f"seq={seg.seq}"]
    if seg.flags & 0x10:
        parts.append(f"ack={seg.ack}")
    if seg.payload:
        parts.append(f"len={len(seg.payload)}")
    parts.append(f"win={seg.window}")
    opts = []
    for kind, value in seg.options:
        if kind == OPT_MSS:
            opts.append(f"MSS {value}")
        elif kind == OPT_SACK_PERM:
            opts.append("SACK_PERM")
        elif kind == OPT_WSCALE:
            opts.append(f"WS {value}")
        elif kind == OPT_TIMESTAMP:
            opts.append(f"TS {value[0]}/{value[1]}")
        elif kind == OPT_SACK:
            opts.append("SACK " + " ".join(f"{a}-{b}" for a, b in value))
    if opts:
        parts.append(f"<{', '.join(opts)}>")
    return " ".join(parts)


class Ladder:
    """Renders a trace as lines of text."""

    def __init__(self, trace, verbose: bool = False, narrate: bool = True) -> None:
        self.trace = trace
        self.narrator = Narrator(trace)
        self.verbose = verbose
        self.narrate = narrate
        clients = sorted({c.node for c in trace.conns if c.role == "client"})
        servers = sorted({c.node for c in trace.conns if c.role == "server"} - set(clients))
        self.left = clients or [0]
        self.right = servers
        self._by_ip = {c.local_ip: trace.nodes[c.node] for c in trace.conns}
        self.lane_w = max([len(trace.nodes[n]) for n in self.left + self.right] + [6])

    def header(self) -> list[str]:
        left = "/".join(self.trace.nodes[n] for n in self.left)
        right = "/".join(self.trace.nodes[n] for n in self.right) or "server"
        return [f"{'time (s)':>11}  {left:<{self.lane_w}}  {'':{ARROW}}  {right}",
                f"{'':>11}  {'-' * self.lane_w}  {'':{ARROW}}  {'-' * max(6, len(right))}"]

    def _arrow(self, label: str, rightward: bool, lost: bool = False) -> str:
        """An arrow of ARROW characters (longer if the label needs it) with the label inside."""
        body = f" {label} "
        fill = max(4, ARROW - len(body) - 3)
        left = fill // 2
        right = fill - left
        if rightward:
            tail = "-X " if lost else "-->"
            return "-" * left + body + "-" * right + tail
        head = " X-" if lost else "<--"
        return head + "-" * left + body + "-" * right

    def _ends(self, node: int, conn: int, uid: int, rightward: bool) -> tuple[str, str]:
        """Names at the left and right end of a segment's arrow."""
        tr = self.trace
        me = tr.nodes[node]
        peer = self.narrator.peer_conn(conn) if conn >= 0 else -1
        if peer >= 0:
            other = tr.nodes[tr.conns[peer].node]
        else:   # e.g. an RST from a host with no connection: name the packet's destination
            other = self._by_ip.get(tr.packets[uid].dst, "?")
        return (me, other) if rightward else (other, me)

    def lines(self, start: int = 0, end: int | None = None) -> Iterator[str]:
        tr = self.trace
        end = len(tr) if end is None else end
        lost = set(int(tr.pkt[i]) for i in tr.indices(EventKind.DROP))
        right_nodes = set(self.right)
        for i in range(start, end):
            kind = tr.kind[i]
            if not self.verbose and kind not in SHOWN:
                continue
            if (kind == EventKind.SEG_RECV and not self.verbose
                    and RecvOutcome(tr.d[i] >> 16) not in NOTABLE_RECEIPTS):
                continue
            t = tr.t[i]
            stamp = f"{t / 1e9:11.6f}"
            node = tr.node[i]
            if kind == EventKind.SEG_SENT:
                uid = tr.pkt[i]
                label = segment_label(tr, uid)
                reason = SendReason(tr.d[i] >> 16)
                if reason in RETRANSMIT:
                    label += " [retransmission]"
                rightward = node not in right_nodes
                conn = tr.conn[i]
                lname, rname = self._ends(node, conn, uid, rightward)
                yield (f"{stamp}  {lname:<{self.lane_w}}  "
                       f"{self._arrow(label, rightward, uid in lost)}  {rname}")
            elif kind == EventKind.DROP:
                yield f"{stamp}  {'':<{self.lane_w}}  {'X  ' + self.narrator.explain(i)}"
                continue
            elif kind == EventKind.USER:
                yield f"{stamp}  {'you':<{self.lane_w}}  >> {self.narrator.explain(i)}"
                continue
            else:
                who = tr.nodes[node] if node >= 0 else ""
                yield f"{stamp}  {who:<{self.lane_w}}  [{self.narrator.explain(i)}]"
                continue
            if self.narrate:
                yield f"{'':11}  {'':<{self.lane_w}}    {self.narrator.explain(i)}"
