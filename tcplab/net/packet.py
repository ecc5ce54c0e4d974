"""IPv4 datagrams carrying TCP segments, as objects the engine passes around.

The engine handles these objects, not bytes, on its hot path; ``tcplab.net.wire`` turns them into
the exact bytes a real stack would put on the wire (and back), for captures, the packet inspector
and corruption. Field names follow RFC 9293 section 3.1 and RFC 791.
"""

from __future__ import annotations

from typing import Any, NamedTuple

# TCP header flags (RFC 9293 3.1; ECE/CWR from RFC 3168).
FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20
ECE = 0x40
CWR = 0x80

FLAG_NAMES = ((SYN, "SYN"), (FIN, "FIN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"),
              (URG, "URG"), (ECE, "ECE"), (CWR, "CWR"))

# TCP option kinds (IANA registry; RFC 9293 3.2, RFC 7323, RFC 2018).
OPT_EOL = 0
OPT_NOP = 1
OPT_MSS = 2
OPT_WSCALE = 3
OPT_SACK_PERM = 4
OPT_SACK = 5
OPT_TIMESTAMP = 8

IPPROTO_TCP = 6
IP_HEADER_LEN = 20
TCP_HEADER_LEN = 20


class TcpOption(NamedTuple):
    """One TCP option in wire order.

    ``value`` by kind: MSS -> int; WSCALE -> int (shift count); SACK_PERM, NOP, EOL -> None;
    SACK -> tuple of (left, right) sequence-number pairs; TIMESTAMP -> (tsval, tsecr);
    any other kind -> the option's raw data bytes.
    """

    kind: int
    value: Any = None


def flags_str(flags: int) -> str:
    """``SYN|ACK`` style rendering; ``-`` for no flags."""
    names = [name for bit, name in FLAG_NAMES if flags & bit]
    return "|".join(names) if names else "-"


class Segment:
    """A TCP segment: header fields, options and payload (RFC 9293 3.1)."""

    __slots__ = ("src_port", "dst_port", "seq", "ack", "flags", "window", "urg_ptr",
                 "options", "payload")

    def __init__(self, src_port: int, dst_port: int, seq: int, ack: int, flags: int,
                 window: int, payload: bytes = b"", options: tuple = (), urg_ptr: int = 0) -> None:
        self.src_port = src_port
        self.dst_port = dst_port
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.urg_ptr = urg_ptr
        self.options = options
        self.payload = payload

    @property
    def data_len(self) -> int:
        """Bytes of user data carried."""
        return len(self.payload)

    @property
    def seg_len(self) -> int:
        """SEG.LEN: sequence space occupied, counting SYN and FIN as one each (RFC 9293 3.4)."""
        return len(self.payload) + (1 if self.flags & SYN else 0) + (1 if self.flags & FIN else 0)

    def option(self, kind: int) -> Any:
        """Value of the first option of ``kind``, or None when absent."""
        for opt in self.options:
            if opt.kind == kind:
                return opt.value if opt.value is not None else True
        return None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Segment):
            return NotImplemented
        return all(getattr(self, s) == getattr(other, s) for s in Segment.__slots__)

    def __repr__(self) -> str:
        return (f"<Segment {self.src_port}->{self.dst_port} {flags_str(self.flags)} "
                f"seq={self.seq} ack={self.ack} win={self.window} len={len(self.payload)}>")


class Packet:
    """An IPv4 datagram (RFC 791) carrying one TCP segment through the simulated network.

    ``uid`` is unique per transmission within a run (a duplicate made by a link gets a new uid
    and records the original in ``dup_of``). ``wire`` is None for an intact packet; a link that
    corrupts a packet stores the damaged datagram bytes there, and the receiver's checksum check
    on those bytes decides its fate.
    """

    __slots__ = ("uid", "src", "dst", "ttl", "ident", "tos", "df", "segment", "wire", "dup_of",
                 "total_length")

    def __init__(self, uid: int, src: int, dst: int, segment: Segment, ttl: int = 64,
                 ident: int = 0, tos: int = 0, df: bool = True) -> None:
        self.uid = uid
        self.src = src
        self.dst = dst
        self.ttl = ttl
        self.ident = ident
        self.tos = tos
        self.df = df
        self.segment = segment
        self.wire: bytes | None = None
        self.dup_of = -1
        #: IPv4 total length: IP header + TCP header with options + payload.
        self.total_length = IP_HEADER_LEN + (tcp_header_len(segment.options) if segment.options
                                             else TCP_HEADER_LEN) + len(segment.payload)

    def with_ttl(self, ttl: int) -> "Packet":
        """The same datagram with another TTL (a router's forwarded copy)."""
        c = Packet.__new__(Packet)
        c.uid, c.src, c.dst, c.ident, c.tos, c.df = self.uid, self.src, self.dst, self.ident, self.tos, self.df
        c.segment, c.wire, c.dup_of, c.total_length = self.segment, self.wire, self.dup_of, self.total_length
        c.ttl = ttl
        return c

    def __repr__(self) -> str:
        return f"<Packet #{self.uid} {ip_str(self.src)}->{ip_str(self.dst)} ttl={self.ttl} {self.segment!r}>"


def options_len(options: tuple) -> int:
    """Bytes the options take on the wire, padded to a multiple of 4 (RFC 9293 3.1)."""
    if (len(options) == 3 and options[2].kind == OPT_TIMESTAMP and options[0].kind == OPT_NOP
            and options[1].kind == OPT_NOP):
        return 12                # NOP, NOP, timestamps: what most segments carry
    n = 0
    for opt in options:
        k = opt.kind
        if k == OPT_EOL or k == OPT_NOP:
            n += 1
        elif k == OPT_MSS:
            n += 4
        elif k == OPT_WSCALE:
            n += 3
        elif k == OPT_SACK_PERM:
            n += 2
        elif k == OPT_SACK:
            n += 2 + 8 * len(opt.value)
        elif k == OPT_TIMESTAMP:
            n += 10
        else:
            n += 2 + len(opt.value)
    return (n + 3) & ~3


def tcp_header_len(options: tuple) -> int:
    return TCP_HEADER_LEN + (options_len(options) if options else 0)


def ip_str(addr: int) -> str:
    """Dotted-quad text of an IPv4 address held as an int."""
    return f"{(addr >> 24) & 255}.{(addr >> 16) & 255}.{(addr >> 8) & 255}.{addr & 255}"


def ip_from_str(text: str) -> int:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
        raise ValueError(f"not an IPv4 address: {text!r}")
    a, b, c, d = (int(p) for p in parts)
    return (a << 24) | (b << 16) | (c << 8) | d
