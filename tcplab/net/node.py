"""Nodes of the topology: routers forward, hosts run TCP and applications.

A host glues I/O-free :class:`~tcplab.tcp.connection.Connection` objects to the simulation: it
demultiplexes arriving segments (RFC 9293 3.10.7: an RST answers a segment for no connection),
turns each connection's queued segments into IPv4 packets, keeps one cancellable scheduler
handle per armed timer of each connection (moved lazily: a deadline that only moves later keeps
its handle, which re-arms itself when it fires early), and hands the connection's
notifications to the application that owns it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tcplab.net.packet import ACK, RST, SYN, Packet, Segment, ip_str
from tcplab.net.wire import WireError, decode_packet, verify
from tcplab.tcp.config import TcpConfig
from tcplab.tcp.connection import Connection, Note
from tcplab.trace.events import DropReason, EventKind, RecvOutcome, SendReason, TcpState, TimerKind
from tcplab.trace.store import ConnInfo

if TYPE_CHECKING:
    from tcplab.net.link import Channel
    from tcplab.net.network import Network

DEFAULT_TTL = 64
_ARRIVE = int(EventKind.ARRIVE)
_SEG_SENT = int(EventKind.SEG_SENT)
EPHEMERAL_FIRST = 49152   # RFC 6335 dynamic port range


class Node:
    """Something links attach to. ``routes`` maps a destination address to an outgoing channel."""

    kind = "node"

    def __init__(self, node_id: int, name: str, net: "Network") -> None:
        self.id = node_id
        self.name = name
        self.net = net
        self.channels: list[Channel] = []
        self.routes: dict[int, Channel] = {}
        self.up = True

    def receive(self, pkt: Packet, ch: "Channel") -> None:
        """A packet arrives from ``ch``. Subclasses decide what to do with it."""
        raise NotImplementedError

    def _arrive(self, pkt: Packet, ch: "Channel") -> bool:
        """Common arrival checks: trace the arrival; drop if the link was cut while the packet
        was on it, if this node is down, or if the IP header checksum fails."""
        net = self.net
        now = net.sched.now
        if not ch.p.up:
            net.drop(pkt, -1, DropReason.LINK_DOWN, ch.link.id, 1, ch.direction)
            return False
        net.trace.push((now, _ARRIVE, self.id, -1, pkt.uid, ch.link.id, pkt.ttl, 0, ch.direction))
        if not self.up:
            net.drop(pkt, self.id, DropReason.HOST_DOWN, -1, 0, -1)
            return False
        return True

    def route(self, pkt: Packet) -> "Channel | None":
        return self.routes.get(pkt.dst)


class Router(Node):
    """Forwards by destination address (RFC 1812 5.2: check header, decrement TTL, forward)."""

    kind = "router"

    def receive(self, pkt: Packet, ch: "Channel") -> None:
        if not self._arrive(pkt, ch):
            return
        net = self.net
        if pkt.wire is not None:
            ip_ok, _ = verify(pkt.wire)
            if not ip_ok:
                net.drop(pkt, self.id, DropReason.CHECKSUM, -1, 0, -1)
                return
        if pkt.ttl <= 1:
            net.drop(pkt, self.id, DropReason.TTL_EXPIRED, -1, pkt.ttl, -1)
            return
        out = self.routes.get(pkt.dst)
        if out is None:
            net.drop(pkt, self.id, DropReason.NO_ROUTE, -1, 0, -1)
            return
        out.send(net.forwarded_copy(pkt))


class Listener:
    """A passive open on ``port``: every SYN spawns a connection owned by a new app handler."""

    def __init__(self, port: int, cfg: TcpConfig, factory) -> None:
        self.port = port
        self.cfg = cfg
        self.factory = factory   # called with (host, conn) -> handler object


class Host(Node):
    """An end system with one TCP implementation and its applications."""

    kind = "host"

    def __init__(self, node_id: int, name: str, net: "Network", ip: int, isn: int | None = None) -> None:
        super().__init__(node_id, name, net)
        self.ip = ip
        self.isn = isn
        self.conns: dict[tuple[int, int, int], Connection] = {}
        self.listeners: dict[int, Listener] = {}
        self.handlers: dict[int, Any] = {}           # conn id -> application handler
        self.timer_handles: dict[int, list] = {}     # conn id -> handle per TimerKind
        self.next_port = EPHEMERAL_FIRST
        self.ident = 0
        self.isn_rng = net.rng.stream(f"isn:{name}")
        #: Per-connection timestamp clock offsets (RFC 7323 5.4 / 7.1: not guessable).
        self.ts_rng = net.rng.stream(f"tsoffset:{name}")
        self.all_conns: list[Connection] = []        # every connection this host ever had
        self.stats = {"rst_sent_closed_port": 0, "segments_for_no_connection": 0}
        self.restart_hooks: list = []

    # -- application interface -------------------------------------------------------------
    def allocate_port(self) -> int:
        port = self.next_port
        self.next_port += 1
        return port

    def connect(self, local_port: int, remote_ip: int, remote_port: int, cfg: TcpConfig,
                factory, app: str = "") -> Connection:
        """Active open from ``local_port`` to ``remote_ip:remote_port``; ``factory(host, conn)``
        makes the application handler that receives the connection's notifications."""
        conn = self._new_conn(cfg, local_port, remote_ip, remote_port, app, "client")
        self.handlers[conn.id] = factory(self, conn)
        conn.open_active(self.net.sched.now)
        self.service(conn)
        return conn

    def listen(self, port: int, cfg: TcpConfig, factory, app: str = "") -> None:
        """Passive open on ``port``; ``factory(host, conn)`` makes a handler per connection."""
        lst = Listener(port, cfg, factory)
        lst.app = app
        self.listeners[port] = lst
        net = self.net
        net.trace.emit(net.sched.now, EventKind.APP_CALL, self.id, -1, -1, 3, port)

    def _new_conn(self, cfg: TcpConfig, local_port: int, remote_ip: int, remote_port: int,
                  app: str, role: str) -> Connection:
        iss = cfg.isn if cfg.isn is not None else self.isn
        if iss is None:
            iss = self.isn_rng.getrandbits(32)
        net = self.net
        info = net.trace.add_conn(ConnInfo(-1, self.id, self.ip, local_port, remote_ip,
                                           remote_port, app, role, iss=iss))
        conn = Connection(cfg, self.ip, local_port, remote_ip, remote_port, iss, net.trace, info.id,
                          self.id, ts_offset=self.ts_rng.getrandbits(32))
        conn.on_closed = self._forget
        self.conns[(local_port, remote_ip, remote_port)] = conn
        self.all_conns.append(conn)
        net.conns.append(conn)
        return conn

    def _forget(self, conn: Connection) -> None:
        key = (conn.local_port, conn.remote_ip, conn.remote_port)
        if self.conns.get(key) is conn:
            del self.conns[key]

    # -- glue --------------------------------------------------------------------------------
    def service(self, conn: Connection) -> None:
        """After any call into ``conn``: deliver its notes to the application, send what it
        queued and bring its scheduler handles in line with its deadlines. Repeats while the
        application's reactions produce more."""
        now = self.net.sched.now
        handler = self.handlers.get(conn.id)
        for _ in range(10_000):
            if conn.notes:
                notes = conn.notes
                conn.notes = []
                if handler is not None:
                    for note in notes:
                        handler.on_note(now, conn, note)
                continue
            out = conn.poll_output(now)
            for seg, reason in out:
                self.send_segment(conn.id, seg, reason, conn.remote_ip)
            if conn.timers_changed:
                self._sync_timers(conn)
            if not conn.notes and not conn.outbox and conn._ack_due is None:
                break

    def _sync_timers(self, conn: Connection) -> None:
        handles = self.timer_handles.get(conn.id)
        if handles is None:
            handles = self.timer_handles[conn.id] = [None] * len(TimerKind)
        sched = self.net.sched
        for kind in conn.timers_changed:
            old = handles[kind]
            deadline = conn.deadlines[kind]
            if old is not None and not old.cancelled:
                if deadline is not None and deadline >= old.time:
                    # Moved later (the RTO restarted by an ACK): keep the handle; when it
                    # fires early it re-arms itself for the deadline then in force.
                    continue
                old.cancel()
            handles[kind] = (sched.schedule_at(deadline, self._on_timer, conn, kind)
                             if deadline is not None else None)
        conn.timers_changed.clear()

    def _on_timer(self, conn: Connection, kind: TimerKind) -> None:
        handles = self.timer_handles[conn.id]
        handles[kind] = None
        if not self.up:
            return
        sched = self.net.sched
        deadline = conn.deadlines[kind]
        if deadline is not None and deadline > sched.now:
            handles[kind] = sched.schedule_at(deadline, self._on_timer, conn, kind)
            return
        conn.on_timer(sched.now, kind)
        self.service(conn)

    def send_segment(self, conn_id: int, seg: Segment, reason: SendReason, dst: int) -> None:
        """Wrap a segment in an IPv4 packet, trace it and hand it to the route toward ``dst``."""
        net = self.net
        self.ident = (self.ident + 1) & 0xFFFF
        pkt = Packet(-1, self.ip, dst, seg, DEFAULT_TTL, self.ident)
        net.trace.add_packet(pkt)
        net.trace.push((net.sched.now, _SEG_SENT, self.id, conn_id, pkt.uid, seg.seq, seg.ack,
                        len(seg.payload), seg.flags | (reason << 16)))
        out = self.routes.get(dst)
        if out is None:
            net.drop(pkt, self.id, DropReason.NO_ROUTE, -1, 0, -1)
            return
        out.send(pkt)

    def receive(self, pkt: Packet, ch: "Channel") -> None:
        if not self._arrive(pkt, ch):
            return
        net = self.net
        if pkt.wire is not None:
            try:
                ip_ok, tcp_ok = verify(pkt.wire)
                if ip_ok and tcp_ok:
                    pkt = decode_packet(pkt.wire, pkt.uid)
                else:
                    net.drop(pkt, self.id, DropReason.CHECKSUM, -1, 0 if ip_ok else 1, -1)
                    return
            except WireError:
                net.drop(pkt, self.id, DropReason.CHECKSUM, -1, 2, -1)
                return
        if pkt.dst != self.ip:
            net.drop(pkt, self.id, DropReason.NOT_FOR_US, -1, 0, -1)
            return
        seg = pkt.segment
        key = (seg.dst_port, pkt.src, seg.src_port)
        conn = self.conns.get(key)
        now = net.sched.now
        if conn is None:
            lst = self.listeners.get(seg.dst_port)
            if lst is not None and seg.flags & (SYN | ACK | RST) == SYN:
                conn = self._new_conn(lst.cfg, seg.dst_port, pkt.src, seg.src_port, lst.app, "server")
                self.handlers[conn.id] = lst.factory(self, conn)
                conn.open_passive(now)
            else:
                # No connection: RST (RFC 9293 3.10.7.1; in LISTEN 3.10.7.2 too for an ACK);
                # a listener silently drops anything else that has neither SYN nor ACK.
                self._no_connection(pkt, answer=lst is None or bool(seg.flags & ACK))
                return
        conn.on_segment(now, seg, pkt.uid)
        self.service(conn)

    def _no_connection(self, pkt: Packet, answer: bool = True) -> None:
        """RFC 9293 3.10.7.1 (CLOSED) and 3.10.7.2 (LISTEN with an ACK): answer with RST.

        If the segment has ACK, the RST takes its sequence number from SEG.ACK; otherwise
        it has sequence 0 and acknowledges SEG.SEQ + SEG.LEN. An RST is never answered."""
        seg = pkt.segment
        net = self.net
        self.stats["segments_for_no_connection"] += 1
        net.trace.emit(net.sched.now, EventKind.SEG_RECV, self.id, -1, pkt.uid, seg.seq, seg.ack,
                       len(seg.payload), seg.flags | (int(RecvOutcome.NO_CONNECTION) << 16))
        if seg.flags & RST or not answer:
            return
        if seg.flags & ACK:
            rst = Segment(seg.dst_port, seg.src_port, seg.ack, 0, RST, 0)
        else:
            rst = Segment(seg.dst_port, seg.src_port, 0, (seg.seq + seg.seg_len) & 0xFFFFFFFF,
                          RST | ACK, 0)
        self.stats["rst_sent_closed_port"] += 1
        self.send_segment(-1, rst, SendReason.RST_CLOSED, pkt.src)

    # -- faults ------------------------------------------------------------------------------
    def crash(self) -> None:
        """Power off: every connection vanishes without a word to the peer (no FIN, no RST),
        timers stop, listeners close. The peer finds out only when it next sends something."""
        if not self.up:
            return
        net = self.net
        self.up = False
        net.trace.emit(net.sched.now, EventKind.NODE, self.id, -1, -1, 0)
        for handles in self.timer_handles.values():
            for h in handles:
                if h is not None:
                    h.cancel()
        self.timer_handles.clear()
        for conn in list(self.conns.values()):
            conn.on_closed = None
            conn.state_at_crash = conn.state
            if conn.state != TcpState.CLOSED:
                conn._set_state(net.sched.now, TcpState.CLOSED)
            handler = self.handlers.get(conn.id)
            if handler is not None:
                handler.on_note(net.sched.now, conn, Note.CRASHED)
        self.conns.clear()
        self.handlers.clear()
        self.listeners.clear()
        for ch in self.channels:
            ch.flush(DropReason.HOST_DOWN)

    def restart(self) -> None:
        """Power on with empty connection tables; server applications listen again."""
        if self.up:
            return
        self.up = True
        net = self.net
        net.trace.emit(net.sched.now, EventKind.NODE, self.id, -1, -1, 1)
        for hook in self.restart_hooks:
            hook()

    def __repr__(self) -> str:
        return f"<Host {self.name} {ip_str(self.ip)}>"
