"""Compact, append-only storage for trace events.

Every event is nine 64-bit integers ``(t, kind, node, conn, pkt, a, b, c, d)`` appended to one
``array('q')`` in a single C call (72 bytes an event, amortised doubling growth, no per-event
Python object kept). ``trace.t``, ``trace.kind``... are light column views for indexed access;
``columns()`` hands numpy arrays (copies, so the store may keep growing) to views and plots.
Packets are kept once each (by uid) for the inspector and the pcap writer; rare events that need
more than four integers keep the rest in ``extra``.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

import numpy as np

from tcplab.trace.events import EventKind

COLUMNS = ("t", "kind", "node", "conn", "pkt", "a", "b", "c", "d")
NCOL = len(COLUMNS)


class _Column:
    """Indexed access to one field of every event: ``trace.t[i]``, ``trace.kind[a:b]``."""

    __slots__ = ("_data", "_k")

    def __init__(self, data: array, k: int) -> None:
        self._data = data
        self._k = k

    def __len__(self) -> int:
        return len(self._data) // NCOL

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            return self._data[start * NCOL + self._k:stop * NCOL:step * NCOL]
        if i < 0:
            i += len(self)
        return self._data[i * NCOL + self._k]

    def __iter__(self):
        return iter(self._data[self._k::NCOL])


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


@dataclass(frozen=True)
class TraceMark:
    """A moment of a trace (:meth:`Trace.mark`): its row and packet counts and the mutable
    fields of its connections."""

    rows: int
    packets: int
    conns: tuple[tuple[int | None, int | None, int], ...]


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
        self._data = array("q")
        #: Hot-path append of one complete row tuple (no index returned, no extra).
        self.push = self._data.extend
        for k, name in enumerate(COLUMNS):
            object.__setattr__(self, name, _Column(self._data, k))

    # -- writing ---------------------------------------------------------------------------
    def emit(self, t: int, kind: int, node: int = -1, conn: int = -1, pkt: int = -1,
             a: int = 0, b: int = 0, c: int = 0, d: int = 0, extra: Any = None) -> int:
        """Append one event and return its index."""
        data = self._data
        i = len(data) // NCOL
        data.extend((t, kind, node, conn, pkt, a, b, c, d))
        if extra is not None:
            self.extra[i] = extra
        return i

    def set_d(self, i: int, value: int) -> None:
        """Rewrite field ``d`` of event ``i`` (a segment's outcome, known after processing)."""
        self._data[i * NCOL + 8] = value

    def add_packet(self, packet: Any) -> int:
        """Give ``packet`` the next uid and keep it; returns the uid."""
        uid = len(self.packets)
        packet.uid = uid
        self.packets.append(packet)
        return uid

    def add_conn(self, info: ConnInfo) -> ConnInfo:
        """Register a connection endpoint. Its ``peer`` is the newest earlier endpoint with the
        mirrored addresses and ports that has no peer yet (the other end of the same connection),
        and that one's ``peer`` becomes this id."""
        info.id = len(self.conns)
        for other in reversed(self.conns):
            if (other.peer < 0 and other.local_ip == info.remote_ip
                    and other.local_port == info.remote_port and other.remote_ip == info.local_ip
                    and other.remote_port == info.local_port):
                other.peer = info.id
                info.peer = other.id
                break
        self.conns.append(info)
        return info

    # -- rewinding --------------------------------------------------------------------------
    def mark(self) -> "TraceMark":
        """Where the trace stands now, for :meth:`prefix` (engine snapshots: rewinding a run
        re-executes it from a snapshot, and its trace must return to that moment too)."""
        return TraceMark(len(self), len(self.packets),
                         tuple((c.iss, c.irs, c.peer) for c in self.conns))

    def prefix(self, mark: "TraceMark") -> "Trace":
        """A new trace holding this one's record up to ``mark``: its rows, packets and
        connections then, the connections' ISS, IRS and peer as they were then. Rewinding a
        run re-attaches the engine to such a trace (``tcplab.session.rewind``); this one is
        left as it is, so views and caches that hold it see no change, and a fork can keep it
        to compare. Rows before a mark never change after their event (``set_d`` rewrites
        the row of the segment being processed)."""
        if mark.rows > len(self) or mark.packets > len(self.packets) \
                or len(mark.conns) > len(self.conns):
            raise ValueError(f"a trace of {len(self)} rows has no mark at row {mark.rows}")
        twin = Trace(list(self.nodes), list(self.node_kinds), list(self.links),
                     [replace(c) for c in self.conns[:len(mark.conns)]],
                     self.packets[:mark.packets],
                     {i: v for i, v in self.extra.items() if i < mark.rows}, dict(self.meta))
        twin._data.extend(self._data[:mark.rows * NCOL])
        for info, (iss, irs, peer) in zip(twin.conns, mark.conns):
            info.iss, info.irs, info.peer = iss, irs, peer
        return twin

    def take_rows_from(self, other: "Trace") -> None:
        """Append the rows ``other`` has beyond this trace's end, with their extras, and the
        packets and connections it has beyond this one's; the connections both have take
        ``other``'s ISS, IRS and peer. For a trace that ``other`` repeats row for row (the same
        run, re-executed from a snapshot): the views keep reading this one while the engine
        writes the other."""
        n, m = len(self), len(other)
        if m > n:
            self._data.extend(other._data[n * NCOL:m * NCOL])
            new = []                        # extras are added in row order: read from the end
            for i in reversed(other.extra):
                if i < n:
                    break
                new.append(i)
            for i in reversed(new):
                self.extra[i] = other.extra[i]
        if len(other.packets) > len(self.packets):
            self.packets.extend(other.packets[len(self.packets):])
        if len(other.conns) > len(self.conns):
            self.conns.extend(replace(c) for c in other.conns[len(self.conns):])
        for mine, theirs in zip(self.conns, other.conns):
            mine.iss, mine.irs, mine.peer = theirs.iss, theirs.irs, theirs.peer

    def copy(self) -> "Trace":
        """An independent copy of the record so far (packets are shared: they never change
        once traced), e.g. to keep one run for comparison while the engine rewinds."""
        return self.prefix(self.mark())

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._data) // NCOL

    def matrix(self, start: int = 0, end: int | None = None) -> np.ndarray:
        """A copy of rows ``[start, end)`` as an (n, 9) int64 array, columns in COLUMNS order."""
        end = len(self) if end is None else end
        chunk = self._data[start * NCOL:end * NCOL]
        return np.frombuffer(chunk, dtype=np.int64).reshape(-1, NCOL)

    def columns(self, start: int = 0, end: int | None = None) -> dict[str, np.ndarray]:
        """Numpy arrays of each column for rows ``[start, end)``: safe to keep while the run goes
        on (a GUI pulls each new batch this way)."""
        m = self.matrix(start, end)
        return {name: np.ascontiguousarray(m[:, k]) for k, name in enumerate(COLUMNS)}

    def row(self, i: int) -> tuple[int, ...]:
        return tuple(self._data[i * NCOL:(i + 1) * NCOL])

    def rows(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, ...]]:
        end = len(self) if end is None else end
        data = self._data
        for i in range(start, end):
            yield tuple(data[i * NCOL:(i + 1) * NCOL])

    def event(self, i: int):
        """The typed event at index ``i`` (see ``tcplab.trace.typed``)."""
        from tcplab.trace.typed import make_event
        return make_event(self, i)

    def events(self, start: int = 0, end: int | None = None, kinds: set[int] | None = None):
        from tcplab.trace.typed import make_event
        end = len(self) if end is None else end
        kind = self.kind
        for i in range(start, end):
            if kinds is None or kind[i] in kinds:
                yield make_event(self, i)

    def indices(self, kind: EventKind) -> np.ndarray:
        """Indices of every event of ``kind``, in order."""
        kinds = np.frombuffer(self._data[1::NCOL], dtype=np.int64)
        return np.flatnonzero(kinds == int(kind))

    def nbytes(self) -> int:
        """Memory held by the event columns (excluding packets and extras)."""
        return self._data.buffer_info()[1] * self._data.itemsize

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
        h.update(self._data.tobytes())
        h.update(repr(sorted((k, repr(v)) for k, v in self.extra.items())).encode())
        return h.hexdigest()
