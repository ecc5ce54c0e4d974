"""State builders and small helpers for testing one Connection with explicit times.

Each builder returns a connection already in the named state, with its outputs drained, so a
test can say "at t=..., this segment arrives; expect these segments out".
"""

from __future__ import annotations

from tcplab.net.packet import ACK, FIN, OPT_MSS, SYN, Segment, TcpOption
from tcplab.sim.clock import MS
from tcplab.tcp.config import TcpConfig
from tcplab.tcp.connection import Connection
from tcplab.trace.store import ConnInfo, Trace

LOCAL, REMOTE = 0xC0000201, 0xC0000202
LPORT, RPORT = 49152, 80
ISS, IRS = 100, 500
RTT = 20 * MS


def new_conn(cfg: TcpConfig | None = None, iss: int = ISS) -> Connection:
    trace = Trace()
    trace.nodes += ["client", "server"]
    info = trace.add_conn(ConnInfo(-1, 0, LOCAL, LPORT, REMOTE, RPORT, "test", "client", iss=iss))
    # Immediate ACKs unless a test asks for delayed ones: the state tests read each ACK.
    cfg = cfg or TcpConfig(mss=500, delayed_ack=False)
    return Connection(cfg, LOCAL, LPORT, REMOTE, RPORT, iss, trace, info.id, 0)


def seg(seq: int, ack: int = 0, flags: int = ACK, payload: bytes = b"", win: int = 65535,
        options: tuple = ()) -> Segment:
    """A segment from the peer to the connection under test."""
    return Segment(RPORT, LPORT, seq, ack, flags, win, payload, options)


def out(conn: Connection, now: int) -> list:
    """Drain and return [(segment, reason), ...]."""
    return conn.poll_output(now)


def listen(cfg: TcpConfig | None = None, iss: int = IRS) -> Connection:
    c = new_conn(cfg, iss)
    c.open_passive(0)
    return c


def syn_sent(cfg=None) -> Connection:
    c = new_conn(cfg)
    c.open_active(0)
    out(c, 0)
    return c


def established(cfg=None, peer_window: int = 65535) -> tuple[Connection, int]:
    """Active open completed at t = RTT. Returns (conn, now)."""
    c = syn_sent(cfg)
    c.on_segment(RTT, seg(IRS, ISS + 1, SYN | ACK, win=peer_window, options=(TcpOption(OPT_MSS, 500),)))
    out(c, RTT)
    return c, RTT


def syn_received(cfg=None) -> Connection:
    c = listen(cfg, iss=ISS)
    c.on_segment(0, seg(IRS, 0, SYN, options=(TcpOption(OPT_MSS, 500),)))
    out(c, 0)
    return c


def fin_wait_1(cfg=None) -> tuple[Connection, int]:
    c, now = established(cfg)
    c.close(now)
    out(c, now)
    return c, now


def fin_wait_2(cfg=None) -> tuple[Connection, int]:
    c, now = fin_wait_1(cfg)
    now += RTT
    c.on_segment(now, seg(IRS + 1, ISS + 2))
    out(c, now)
    return c, now


def close_wait(cfg=None) -> tuple[Connection, int]:
    c, now = established(cfg)
    now += 10 * MS
    c.on_segment(now, seg(IRS + 1, ISS + 1, FIN | ACK))
    out(c, now)
    return c, now


def last_ack(cfg=None) -> tuple[Connection, int]:
    c, now = close_wait(cfg)
    c.close(now)
    out(c, now)
    return c, now


def closing(cfg=None) -> tuple[Connection, int]:
    c, now = fin_wait_1(cfg)
    now += 5 * MS
    c.on_segment(now, seg(IRS + 1, ISS + 1, FIN | ACK))   # peer's FIN crosses ours
    out(c, now)
    return c, now


def time_wait(cfg=None) -> tuple[Connection, int]:
    c, now = fin_wait_2(cfg)
    now += 5 * MS
    c.on_segment(now, seg(IRS + 1, ISS + 2, FIN | ACK))
    out(c, now)
    return c, now


def fire_due(conn: Connection, until: int) -> int | None:
    """Fire the earliest timer due at or before ``until``; return its time or None."""
    due = [(d, k) for k, d in enumerate(conn.deadlines) if d is not None and d <= until]
    if not due:
        return None
    d, k = min(due)
    conn.on_timer(d, k)
    return d
