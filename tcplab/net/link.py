"""Full-duplex links. Each direction is a :class:`Channel` with its own parameters and queue.

A packet handed to a channel waits in a drop-tail queue (traced as QUEUE), is serialised at the channel's bandwidth
(one packet at a time), then propagates for ``delay`` (+ jitter). On the way the impairments
decide its fate, each drawing from the channel's own named random stream: random loss,
Gilbert-Elliott burst loss, duplication, reordering (an extra delay that lets later packets
overtake) and corruption (a flipped bit that the receiver's checksum check catches). A lost
packet is traced as dropped half-way along the link, where a view draws its cross.

Every parameter may change at any time; a change applies to the next packet that needs it (the
one being serialised finishes at the old rate, as on a real interface).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from tcplab.net.packet import Packet
from tcplab.trace.events import DropReason, EventKind

if TYPE_CHECKING:
    from tcplab.net.faults import PacketRule
    from tcplab.net.network import Network
    from tcplab.net.node import Node


@dataclass
class ChannelParams:
    """Parameters of one direction of a link. Units: bits/s, ns, probabilities in [0, 1]."""

    #: Serialisation rate in bits per second; 0 means infinitely fast.
    bandwidth: int = 0
    #: One-way propagation delay.
    delay: int = 0
    #: Extra delay drawn uniformly from [0, jitter] per packet (FIFO order is kept: a packet
    #: never arrives before the one ahead of it).
    jitter: int = 0
    #: Probability that a packet is lost.
    loss: float = 0.0
    #: Gilbert-Elliott burst loss: P(good -> bad) and P(bad -> good) per packet, and the loss
    #: probability while bad. ``ge_p = 0`` switches the model off.
    ge_p: float = 0.0
    ge_r: float = 0.5
    ge_loss: float = 1.0
    #: Probability that a packet is duplicated (the copy arrives right behind it).
    dup: float = 0.0
    #: Probability that a packet is held back by ``reorder_delay`` and overtaken.
    reorder: float = 0.0
    reorder_delay: int = 0
    #: Probability that one bit of the packet is flipped.
    corrupt: float = 0.0
    #: Transmit queue capacity in packets (drop-tail); the packet being sent is not counted.
    queue: int = 100
    #: Largest IPv4 datagram in bytes; larger ones (DF is always set) are dropped.
    mtu: int = 1500
    #: Whether the link carries anything at all.
    up: bool = True

    def check(self) -> None:
        """Raise ValueError naming the parameter and the problem."""
        for name in ("loss", "ge_p", "ge_r", "ge_loss", "dup", "reorder", "corrupt"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} {v!r} is outside [0, 1]")
        for name in ("bandwidth", "delay", "jitter", "reorder_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.queue < 0:
            raise ValueError("queue must not be negative")
        if not 68 <= self.mtu <= 65535:
            raise ValueError(f"mtu {self.mtu} is outside 68..65535 bytes")


_HOP = int(EventKind.HOP)
_QUEUE = int(EventKind.QUEUE)
PARAM_NAMES = tuple(f.name for f in fields(ChannelParams))


class Channel:
    """One direction of a link: ``src`` sends to ``dst``. Direction 0 is a->b, 1 is b->a."""

    __slots__ = ("link", "direction", "src", "dst", "p", "queue", "busy_until", "net", "rng",
                 "ge_bad", "last_arrival", "rules", "tx_packets", "tx_bytes", "_done",
                 "_push", "_src_id", "_link_id")

    def __init__(self, link: "Link", direction: int, src: "Node", dst: "Node",
                 params: ChannelParams, net: "Network") -> None:
        self.link = link
        self.direction = direction
        self.src = src
        self.dst = dst
        self.p = params
        self.queue: deque[Packet] = deque()
        self.busy_until = 0       # the transmitter is serialising a packet until then
        self._done: object | None = None   # scheduled end of transmission, only when a queue waits
        self.net = net
        self.rng = net.rng.stream(f"link:{link.name}:{direction}")
        self.ge_bad = False
        self.last_arrival = 0
        self.rules: list[PacketRule] = []
        self.tx_packets = 0
        self.tx_bytes = 0
        self._push = net.trace.push      # hot path: the QUEUE row
        self._src_id = src.id
        self._link_id = link.id

    def send(self, pkt: Packet) -> None:
        """Offer a packet to this direction: queue it or drop it (link down, MTU, queue full)."""
        p = self.p
        net = self.net
        if not p.up:
            net.drop(pkt, self.src.id, DropReason.LINK_DOWN, self.link.id, 0, self.direction)
            return
        size = pkt.total_length
        if size > p.mtu:
            net.drop(pkt, self.src.id, DropReason.MTU, self.link.id, size, self.direction)
            return
        queue = self.queue
        sched = net.sched
        now = sched.now
        if queue or now < self.busy_until:
            n = len(queue)
            if n >= p.queue:
                net.drop(pkt, self.src.id, DropReason.QUEUE_FULL, self.link.id, n, self.direction)
                return
            queue.append(pkt)
            self._push((now, _QUEUE, self._src_id, -1, pkt.uid, self._link_id, n + 1, 0,
                        self.direction))
            if self._done is None:
                self._done = sched.schedule_at(self.busy_until, self._tx_done)
            return
        self._start(pkt, size)

    def _start(self, pkt: Packet, size: int) -> None:
        """Serialise ``pkt`` now; decide its fate; schedule its arrival and the next packet."""
        net = self.net
        sched = net.sched
        now = sched.now
        p = self.p
        tx = (size * 8_000_000_000) // p.bandwidth if p.bandwidth else 0
        self.busy_until = now + tx
        self.tx_packets += 1
        self.tx_bytes += size
        if not p.up:   # went down while this packet waited
            net.drop(pkt, self.src.id, DropReason.LINK_DOWN, self.link.id, 0, self.direction)
            return
        rng = self.rng
        arrival = now + tx + p.delay
        if p.jitter:
            arrival += int(rng.random() * p.jitter)
        if arrival < self.last_arrival + tx:
            # Jitter never reorders: the link is FIFO, and a packet cannot finish arriving
            # before the one ahead of it plus its own serialisation time.
            arrival = self.last_arrival + tx
        fate = None
        extra = 0
        if self.rules:
            fate, extra = self._apply_rules(pkt)
        if fate is None:
            if p.ge_p:
                if self.ge_bad:
                    if rng.random() < p.ge_r:
                        self.ge_bad = False
                elif rng.random() < p.ge_p:
                    self.ge_bad = True
                if self.ge_bad and rng.random() < p.ge_loss:
                    fate = DropReason.BURST_LOSS
            if fate is None and p.loss and rng.random() < p.loss:
                fate = DropReason.LOSS
        trace = net.trace
        link_id = self.link.id
        d = self.direction
        trace.push((now, _HOP, self.src.id, -1, pkt.uid, link_id, arrival, pkt.ttl, d))
        if fate is not None:
            mid = now + tx + p.delay // 2
            sched.schedule_at(mid, net.drop, pkt, -1, fate, link_id, 0, d)
            return
        if extra or (p.reorder and rng.random() < p.reorder):
            hold = extra or p.reorder_delay
            trace.emit(now, EventKind.ALTER, self.src.id, -1, pkt.uid, link_id, pkt.uid, 2, d,
                       extra=arrival + hold)
            sched.schedule_at(arrival + hold, self.dst.receive, pkt, self)
        else:
            self.last_arrival = arrival
            if p.corrupt and rng.random() < p.corrupt:
                pkt = net.corrupted_copy(pkt, rng, self)
            sched.schedule_at(arrival, self.dst.receive, pkt, self)
        if p.dup and rng.random() < p.dup:
            copy = net.duplicate(pkt, self)
            trace.emit(now, EventKind.HOP, self.src.id, -1, copy.uid, link_id, arrival + 1,
                       copy.ttl, d)
            sched.schedule_at(arrival + 1, self.dst.receive, copy, self)

    def _apply_rules(self, pkt: Packet) -> tuple[DropReason | None, int]:
        """Instructor rules on this direction: the first that takes the packet decides."""
        for rule in self.rules:
            action = rule.take(pkt, self.net.sched.now)
            if action is None:
                continue
            if rule.done:
                for ch in self.link.channels:   # a rule may be shared by both directions
                    if rule in ch.rules:
                        ch.rules.remove(rule)
            if action == "drop":
                return rule.reason, 0
            if action == "delay":
                return None, rule.extra_delay
        return None, 0

    @property
    def busy(self) -> bool:
        """Whether a packet is being serialised right now."""
        return self.net.sched.now < self.busy_until

    def _tx_done(self) -> None:
        """The transmitter is free and packets wait: start the next one (the end of its
        serialisation is only scheduled while more are queued behind it)."""
        self._done = None
        if self.queue:
            pkt = self.queue.popleft()
            self._start(pkt, pkt.total_length)
            if self.queue:
                self._done = self.net.sched.schedule_at(self.busy_until, self._tx_done)

    def flush(self, reason: DropReason = DropReason.LINK_DOWN) -> None:
        """Drop everything queued (the link went down, or the sending host crashed)."""
        if self._done is not None:
            self._done.cancel()
            self._done = None
        while self.queue:
            pkt = self.queue.popleft()
            self.net.drop(pkt, self.src.id, reason, self.link.id, 0, self.direction)


class Link:
    """A full-duplex link between nodes ``a`` and ``b`` named ``a-b``."""

    def __init__(self, link_id: int, a: "Node", b: "Node", ab: ChannelParams, ba: ChannelParams,
                 net: "Network") -> None:
        self.id = link_id
        self.a = a
        self.b = b
        self.name = f"{a.name}-{b.name}"
        self.channels = (Channel(self, 0, a, b, ab, net), Channel(self, 1, b, a, ba, net))
        self.net = net

    def channel_from(self, node: "Node") -> Channel:
        """The direction in which ``node`` sends."""
        if node is self.a:
            return self.channels[0]
        if node is self.b:
            return self.channels[1]
        raise ValueError(f"{node.name} is not an end of link {self.name}")

    def other(self, node: "Node") -> "Node":
        return self.b if node is self.a else self.a

    def check(self, name: str, value, direction: int | None = None) -> None:
        """Raise ValueError (naming the link and the problem) if :meth:`set` would refuse."""
        if name not in PARAM_NAMES:
            raise ValueError(f"link {self.name}: unknown parameter {name!r}; "
                             f"known: {', '.join(PARAM_NAMES)}")
        if direction not in (None, 0, 1) or isinstance(direction, bool):
            raise ValueError(f"link {self.name}: direction {direction!r} is not None, 0 or 1")
        chans = self.channels if direction is None else (self.channels[direction],)
        for ch in chans:
            trial = ChannelParams(**{**ch.p.__dict__, name: value})
            try:
                trial.check()
            except ValueError as e:
                raise ValueError(f"link {self.name}: {e}") from None

    def set(self, name: str, value, direction: int | None = None) -> None:
        """Change a parameter at once, on one direction or both; traced as LINK_SET.

        Validation happens before anything changes, so a bad value leaves the link as it was.
        """
        self.check(name, value, direction)
        chans = self.channels if direction is None else (self.channels[direction],)
        now = self.net.sched.now
        for ch in chans:
            old = getattr(ch.p, name)
            setattr(ch.p, name, value)
            self.net.trace.emit(now, EventKind.LINK_SET, -1, -1, -1, self.id, 0, 0, ch.direction,
                                extra=(name, old, value))
            if name == "up" and not value:
                ch.flush()
            if name == "up" and value and ch.queue and ch._done is None:
                ch._done = self.net.sched.schedule_at(max(now, ch.busy_until), ch._tx_done)
