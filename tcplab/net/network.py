"""The network as a whole: nodes, links, routing tables, and the run's scheduler and trace.

Routing tables are computed once from the topology graph (networkx, shortest path by
propagation delay, ties broken by hop count), as a network with static routes would have them:
cutting a link does not reroute, so packets toward it are dropped with the reason ``link down``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

from tcplab.net.link import ChannelParams, Link
from tcplab.net.node import Host, Node, Router
from tcplab.net.packet import Packet
from tcplab.net.wire import corrupt, encode_packet
from tcplab.sim import Handle, RandomStreams, Scheduler
from tcplab.trace.events import DropReason, EventKind
from tcplab.trace.store import LinkInfo, Trace


if TYPE_CHECKING:
    from tcplab.net.link import Channel

_HOP = int(EventKind.HOP)


class TopologyError(ValueError):
    """The topology is not usable; the message says which element and why."""


class Network:
    """Owns the scheduler, the random streams, the trace and every node and link of a run."""

    def __init__(self, seed: int = 1, trace: Trace | None = None) -> None:
        self.sched = Scheduler()
        self.rng = RandomStreams(seed)
        self.trace = trace if trace is not None else Trace()
        self.trace.meta.setdefault("seed", seed)
        self.nodes: dict[str, Node] = {}
        self.links: dict[str, Link] = {}
        self.conns: list = []
        self.by_ip: dict[int, Host] = {}
        # Start times of packets on links, for in_flight(): filled from the trace's HOP rows
        # when asked (never on the hot path), pruned to the packets still in flight.
        self._hop_scanned = 0
        self._hop_start: dict[tuple[int, int], int] = {}

    # -- building ----------------------------------------------------------------------------
    def add_host(self, name: str, ip: int, isn: int | None = None) -> Host:
        self._check_new_name(name)
        if ip in self.by_ip:
            raise TopologyError(f"host {name}: address already used by {self.by_ip[ip].name}")
        host = Host(len(self.nodes), name, self, ip, isn)
        self._add_node(host)
        self.by_ip[ip] = host
        return host

    def add_router(self, name: str) -> Router:
        self._check_new_name(name)
        router = Router(len(self.nodes), name, self)
        self._add_node(router)
        return router

    def _check_new_name(self, name: str) -> None:
        if not name or not (name[0].isalpha() and all(c.isalnum() or c == "_" for c in name)):
            raise TopologyError(f"node name {name!r}: use letters, digits and _ (starting with a letter)")
        if name in self.nodes:
            raise TopologyError(f"duplicate node name {name!r}")

    def _add_node(self, node: Node) -> None:
        self.nodes[node.name] = node
        self.trace.nodes.append(node.name)
        self.trace.node_kinds.append(node.kind)

    def add_link(self, a: str, b: str, ab: ChannelParams, ba: ChannelParams | None = None) -> Link:
        for end in (a, b):
            if end not in self.nodes:
                raise TopologyError(f"link {a}-{b}: unknown node {end!r}")
        if a == b:
            raise TopologyError(f"link {a}-{b}: a link needs two different nodes")
        if f"{a}-{b}" in self.links or f"{b}-{a}" in self.links:
            raise TopologyError(f"duplicate link {a}-{b}")
        ba = ba if ba is not None else ChannelParams(**ab.__dict__)
        for params, label in ((ab, f"{a}->{b}"), (ba, f"{b}->{a}")):
            try:
                params.check()
            except ValueError as e:
                raise TopologyError(f"link {a}-{b} ({label}): {e}") from None
        link = Link(len(self.links), self.nodes[a], self.nodes[b], ab, ba, self)
        self.links[link.name] = link
        self.nodes[a].channels.append(link.channels[0])
        self.nodes[b].channels.append(link.channels[1])
        self.trace.links.append(LinkInfo(link.id, link.name, link.a.id, link.b.id))
        return link

    def link(self, name: str) -> Link:
        """Find a link by ``a-b`` or ``b-a``."""
        if name in self.links:
            return self.links[name]
        a, _, b = name.partition("-")
        rev = f"{b}-{a}"
        if rev in self.links:
            return self.links[rev]
        raise TopologyError(f"unknown link {name!r}; links: {', '.join(self.links)}")

    def graph(self) -> nx.Graph:
        g = nx.Graph()
        for name, node in self.nodes.items():
            g.add_node(name, kind=node.kind)
        for link in self.links.values():
            g.add_edge(link.a.name, link.b.name, weight=link.channels[0].p.delay + 1, link=link.name)
        return g

    def compute_routes(self) -> None:
        """Fill every node's table: for each host address, the channel of the first hop on a
        shortest path (weight = propagation delay + 1 ns per hop). Raises TopologyError when a
        host cannot reach another host."""
        g = self.graph()
        hosts = [n for n in self.nodes.values() if isinstance(n, Host)]
        for dst in hosts:
            dist, paths = nx.single_source_dijkstra(g, dst.name, weight="weight")
            for src in hosts:
                if src is not dst and src.name not in paths:
                    a, b = sorted((src.name, dst.name))
                    raise TopologyError(f"no path between hosts {a} and {b}")
            for name, path in paths.items():
                if len(path) < 2:
                    continue
                node = self.nodes[name]
                nxt = self.nodes[path[-2]]
                link = self.links.get(f"{node.name}-{nxt.name}") or self.links[f"{nxt.name}-{node.name}"]
                node.routes[dst.ip] = link.channel_from(node)

    # -- packet helpers used by links and nodes --------------------------------------------
    def drop(self, pkt: Packet, node: int, reason: DropReason, link: int, detail: int, direction: int) -> None:
        self.trace.emit(self.sched.now, EventKind.DROP, node, -1, pkt.uid, int(reason), link, detail,
                        direction)

    def duplicate(self, pkt: Packet, ch) -> Packet:
        copy = Packet(-1, pkt.src, pkt.dst, pkt.segment, pkt.ttl, pkt.ident, pkt.tos, pkt.df)
        copy.wire = pkt.wire
        self.trace.add_packet(copy)
        copy.dup_of = pkt.uid
        self.trace.emit(self.sched.now, EventKind.ALTER, ch.src.id, -1, copy.uid, ch.link.id, pkt.uid, 0,
                        ch.direction)
        return copy

    def corrupted_copy(self, pkt: Packet, rng, ch) -> Packet:
        """The packet as it will arrive: same uid, its bytes with one random bit flipped."""
        data = pkt.wire if pkt.wire is not None else encode_packet(pkt)
        bit = rng.randrange(len(data) * 8)
        copy = Packet(pkt.uid, pkt.src, pkt.dst, pkt.segment, pkt.ttl, pkt.ident, pkt.tos, pkt.df)
        copy.wire = corrupt(data, bit)
        copy.dup_of = pkt.dup_of
        self.trace.emit(self.sched.now, EventKind.ALTER, ch.src.id, -1, pkt.uid, ch.link.id, pkt.uid, 1,
                        ch.direction, extra=copy.wire)
        return copy

    def forwarded_copy(self, pkt: Packet) -> Packet:
        """The packet with TTL decremented (RFC 791), leaving the traced original untouched."""
        copy = pkt.with_ttl(pkt.ttl - 1)
        if pkt.wire is not None:
            from tcplab.net.wire import set_ttl
            copy.wire = set_ttl(pkt.wire, pkt.ttl - 1)
        return copy

    # -- packets on links: queries and live actions (not on the hot path) ---------------------
    def pending_arrivals(self) -> list[tuple[Handle, Packet, "Channel"]]:
        """(handle, packet, channel) of every packet whose arrival at the far end of a link is
        scheduled now (being serialised or propagating), in arrival order. A packet whose fate
        is already sealed (lost on the link, its DROP pending) is not among them. Scans the
        scheduler's heap: costs O(pending events) per call."""
        found = []
        for _, _, h in self.sched._heap:
            if h.cancelled:
                continue
            cb = h.callback
            if getattr(cb, "__name__", None) == "receive" and isinstance(getattr(cb, "__self__", None), Node):
                found.append(h)
        found.sort(key=lambda h: (h.time, h.seq))
        return [(h, h.args[0], h.args[1]) for h in found]

    def arrival_of(self, uid: int) -> tuple[Handle, Packet, "Channel"] | None:
        """The pending arrival of packet ``uid`` on a link, or None if it is on none now."""
        for entry in self.pending_arrivals():
            if entry[1].uid == uid:
                return entry
        return None

    def in_flight(self) -> list[tuple[int, int, int, int, int]]:
        """``(uid, link id, direction, start ns, arrival ns)`` of every packet on a link now, in
        arrival order; start is the time of its HOP row on that link."""
        tr = self.trace
        n = len(tr)
        if n > self._hop_scanned:
            m = tr.matrix(self._hop_scanned, n)
            hops = m[m[:, 1] == _HOP]
            starts = self._hop_start
            for t, uid, link in zip(hops[:, 0].tolist(), hops[:, 4].tolist(), hops[:, 5].tolist()):
                starts[(uid, link)] = t
            self._hop_scanned = n
        starts = self._hop_start
        keep: dict[tuple[int, int], int] = {}
        out = []
        for h, pkt, ch in self.pending_arrivals():
            key = (pkt.uid, ch.link.id)
            start = starts.get(key, -1)
            keep[key] = start
            out.append((pkt.uid, ch.link.id, ch.direction, start, h.time))
        self._hop_start = keep
        return out

    def drop_in_flight(self, handle: Handle, pkt: Packet, ch: "Channel") -> None:
        """Take a packet off its link now (its arrival never happens): DROP, reason USER."""
        handle.cancel()
        self.drop(pkt, -1, DropReason.USER, ch.link.id, 0, ch.direction)

    def duplicate_in_flight(self, handle: Handle, pkt: Packet, ch: "Channel") -> Packet:
        """Copy a packet on its link, as the link's ``dup`` impairment does: the copy (new uid,
        ALTER c=0, then its HOP row at this instant) arrives 1 ns after the original."""
        copy = self.duplicate(pkt, ch)
        arrival = handle.time + 1
        self.trace.push((self.sched.now, _HOP, ch.src.id, -1, copy.uid, ch.link.id, arrival,
                         copy.ttl, ch.direction))
        self.sched.schedule_at(arrival, handle.callback, copy, ch)
        return copy

    def delay_in_flight(self, handle: Handle, pkt: Packet, ch: "Channel", delay: int) -> int:
        """Hold a packet on its link ``delay`` ns longer (later packets may overtake it); traced
        as ALTER c=2 with the new arrival time in ``Trace.extra``. Returns that time."""
        arrival = handle.time + delay
        callback, args = handle.callback, handle.args
        handle.cancel()
        self.sched.schedule_at(arrival, callback, *args)
        self.trace.emit(self.sched.now, EventKind.ALTER, ch.src.id, -1, pkt.uid, ch.link.id,
                        pkt.uid, 2, ch.direction, extra=arrival)
        return arrival

    # -- running -----------------------------------------------------------------------------
    def run(self, until: int | None = None, max_events: int | None = None) -> int:
        return self.sched.run(until=until, max_events=max_events)

    def hosts(self) -> list[Host]:
        return [n for n in self.nodes.values() if isinstance(n, Host)]
