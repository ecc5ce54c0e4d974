"""Targeted faults: the instructor's tools.

A :class:`PacketRule` sits on one direction of a link and acts on the segments that match its
filter: drop the next SYN, drop the third data segment of connection ``web``, hold back the
segment with sequence number 1461 for 300 ms... Timed faults (cut or restore a link, crash or
restart a host, change a parameter) are plain scheduled calls on the network, see
``Network.schedule_fault``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tcplab.net.packet import ACK, FIN, RST, SYN, Packet
from tcplab.trace.events import DropReason

FLAG_BITS = {"SYN": SYN, "ACK": ACK, "FIN": FIN, "RST": RST}


def parse_flags(text: str) -> int:
    """``"SYN"``, ``"SYN|ACK"``, ``"fin"`` -> flag bits; ValueError names an unknown flag."""
    bits = 0
    for part in text.replace("+", "|").replace(",", "|").split("|"):
        name = part.strip().upper()
        if not name:
            continue
        if name not in FLAG_BITS:
            raise ValueError(f"unknown TCP flag {part.strip()!r}; use SYN, ACK, FIN, RST")
        bits |= FLAG_BITS[name]
    return bits


@dataclass
class SegmentFilter:
    """Which segments a rule is about. Unset fields match anything.

    ``ports`` is the connection as (client port, server port) in either direction; ``flags``
    must all be present (and ``only_flags`` means no others besides ACK/PSH); ``seq`` is the
    absolute sequence number; ``data`` restricts to segments that carry payload.
    """

    ports: tuple[int, int] | None = None
    flags: int = 0
    exact_flags: bool = False
    seq: int | None = None
    data: bool = False

    def matches(self, pkt: Packet) -> bool:
        seg = pkt.segment
        if self.ports is not None:
            a, b = self.ports
            if not ((seg.src_port == a and seg.dst_port == b) or (seg.src_port == b and seg.dst_port == a)):
                return False
        if self.flags:
            if seg.flags & self.flags != self.flags:
                return False
            if self.exact_flags and seg.flags & (SYN | FIN | RST) != self.flags & (SYN | FIN | RST):
                return False
        if self.seq is not None and seg.seq != self.seq:
            return False
        if self.data and not seg.payload:
            return False
        return True


@dataclass
class PacketRule:
    """Act on matching segments on one link direction.

    ``action`` is ``drop`` or ``delay`` (hold back by ``extra_delay`` ns so later packets
    overtake it). ``nth`` picks the n-th matching segment (1 = the next one); ``count`` is how
    many to act on from there; ``start`` is when the rule becomes active. ``reason`` is the
    DropReason a drop is traced with (FAULT for a scenario's fault, USER for a live action).
    """

    filt: SegmentFilter
    action: str = "drop"
    nth: int = 1
    count: int = 1
    start: int = 0
    extra_delay: int = 0
    label: str = ""
    reason: DropReason = DropReason.FAULT
    seen: int = 0
    taken: int = 0

    @property
    def done(self) -> bool:
        return self.taken >= self.count

    def take(self, pkt: Packet, now: int) -> str | None:
        """Return the action if this rule acts on ``pkt`` now, else None."""
        if now < self.start or self.done or not self.filt.matches(pkt):
            return None
        self.seen += 1
        if self.seen < self.nth:
            return None
        self.taken += 1
        return self.action
