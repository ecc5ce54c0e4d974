"""Columnar, append-only storage for trace events.

Each column is an ``array.array`` of fixed-width integers: appending is a C-level operation with
amortised doubling growth, an event costs 55 bytes, and ``columns()`` hands numpy arrays to views
without per-event Python objects. Packets are kept once each (by uid) for the inspector and the
pcap writer; rare events that need more than four integers keep the rest in ``extra``.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from tcplab.trace.events import EventKind

COLUMNS = ("t", "kind", "node", "conn", "pkt", "a", "b", "c", "d")
_TYPECODES = {"t": "q", "kind": "B", "node": "h", "conn": "i", "pkt": "q",
              "a": "q", "b": "q", "c": "q", "d": "q"}


@dataclass
class ConnInfo:
    """Who a connection id belongs to. ``role`` is ``client`` (active open) or ``server``.

    ``iss``/``irs`` (initial send/receive sequence numbers, RFC 9293 3.4.1) are filled in as
    the handshake learns them, so views can show relative sequence numbers.
    """

    id: int
    node: int
    local_ip: int
    local_port: int
    remote_ip: int
    remote_port: int
    app: str
    role: str
    iss: int | None = None
    irs: int | None = None
    peer: int = -1          # connection id of the other endpoint, once known

    def label(self, nodes: list[str]) -> str:
        return f"{nodes[self.node]}:{self.local_port}"


@dataclass
class LinkInfo:
    """A link of the topology as the trace names it: ``a-b``; direction 0 is a->b."""

    id: int
    name: str
    a: int
    b: int


@dataclass
class Trace:
    """The record of one run. Append with :meth:`emit`; read with :meth:`columns`, :meth:`event`."""

    nodes: list[str] = field(default_factory=list)
    node_kinds: list[str] = field(default_factory=list)
    links: list[LinkInfo] = field(default_factory=list)
    conns: list[ConnInfo] = field(default_factory=list)
    packets: list[Any] = field(default_factory=list)
    extra: dict[int, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.t = array("q")
        self.kind = array("B")
        self.node = array("h")
        self.conn = array("i")
        self.pkt = array("q")
        self.a = array("q")
        self.b = array("q")
        self.c = array("q")
        self.d = array("q")
        self.listeners: list[Any] = []

    # -- writing ---------------------------------------------------------------------------
    def emit(self, t: int, kind: int, node: int = -1, conn: int = -1, pkt: int = -1,
             a: int = 0, b: int = 0, c: int = 0, d: int = 0, extra: Any = None) -> int:
        """Append one event and return its index."""
        i = len(self.t)
        self.t.append(t)
        self.kind.append(kind)
        self.node.append(node)
        self.conn.append(conn)
        self.pkt.append(pkt)
        self.a.append(a)
        self.b.append(b)
        self.c.append(c)
        self.d.append(d)
        if extra is not None:
            self.extra[i] = extra
        return i

    def add_packet(self, packet: Any) -> int:
        """Give ``packet`` the next uid and keep it; returns the uid."""
        uid = len(self.packets)
        packet.uid = uid
        self.packets.append(packet)
        return uid

    def add_conn(self, info: ConnInfo) -> ConnInfo:
        info.id = len(self.conns)
        self.conns.append(info)
        return info

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.t)

    def columns(self, start: int = 0, end: int | None = None) -> dict[str, np.ndarray]:
        """Numpy copies of the columns for rows ``[start, end)``: safe to keep while the run
        goes on (a GUI pulls each new batch this way)."""
        end = len(self.t) if end is None else end
        return {name: np.frombuffer(getattr(self, name)[start:end], dtype=np.dtype(_TYPECODES[name]))
                for name in COLUMNS}

    def row(self, i: int) -> tuple[int, ...]:
        return (self.t[i], self.kind[i], self.node[i], self.conn[i], self.pkt[i],
                self.a[i], self.b[i], self.c[i], self.d[i])

    def rows(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, ...]]:
        end = len(self.t) if end is None else end
        return zip(self.t[start:end], self.kind[start:end], self.node[start:end],
                   self.conn[start:end], self.pkt[start:end], self.a[start:end],
                   self.b[start:end], self.c[start:end], self.d[start:end])

    def event(self, i: int):
        """The typed event at index ``i`` (see ``tcplab.trace.typed``)."""
        from tcplab.trace.typed import make_event
        return make_event(self, i)

    def events(self, start: int = 0, end: int | None = None, kinds: set[int] | None = None):
        from tcplab.trace.typed import make_event
        end = len(self.t) if end is None else end
        kind = self.kind
        for i in range(start, end):
            if kinds is None or kind[i] in kinds:
                yield make_event(self, i)

    def indices(self, kind: EventKind) -> np.ndarray:
        return np.flatnonzero(np.frombuffer(self.kind, dtype=np.uint8) == int(kind))

    def nbytes(self) -> int:
        """Memory held by the event columns (excluding packets and extras)."""
        return sum(getattr(self, name).buffer_info()[1] * getattr(self, name).itemsize
                   for name in COLUMNS)

    def node_id(self, name: str) -> int:
        return self.nodes.index(name)

    def link_id(self, name: str) -> int:
        for link in self.links:
            if link.name == name:
                return link.id
        raise KeyError(name)

    def fingerprint(self) -> str:
        """A digest of every event column, for "same seed, same trace" checks."""
        import hashlib
        h = hashlib.sha256()
        for name in COLUMNS:
            h.update(getattr(self, name).tobytes())
        h.update(repr(sorted((k, repr(v)) for k, v in self.extra.items())).encode())
        return h.hexdigest()
