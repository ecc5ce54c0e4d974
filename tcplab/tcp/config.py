"""Per-connection TCP options: what a scenario's ``[tcp]`` table and ``--set tcp.<option>`` set.

Times are integer nanoseconds inside the engine; scenario files and the CLI give them in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from tcplab.sim.clock import MS, SEC

#: The largest receive buffer: 65535 << 14 (RFC 7323 2.3), rounded to 2**30.
MAX_RCV_BUF = 1 << 30


@dataclass(frozen=True)
class TcpConfig:
    """Options of one connection endpoint. Each field names the rule it configures."""

    #: Maximum segment size we announce and send with (RFC 9293 3.7.1; RFC 879 default 536).
    mss: int = 1460
    #: Congestion control strategy by registry name (``tcplab.tcp.congestion``).
    cc: str = "newreno"
    #: Initial window in segments (None: RFC 5681 3.1, min(4*SMSS, max(2*SMSS, 4380 bytes))).
    iw: int | None = None
    #: Lower bound of the retransmission timeout (RFC 6298 2.4 says 1 s).
    min_rto: int = 1 * SEC
    #: Upper bound of the retransmission timeout (RFC 6298 2.5 allows >= 60 s).
    max_rto: int = 60 * SEC
    #: RTO before any RTT sample (RFC 6298 2.1).
    initial_rto: int = 1 * SEC
    #: Clock granularity G of RFC 6298 2.3.
    granularity: int = 1 * MS
    #: Maximum segment lifetime; TIME-WAIT lasts 2*MSL (RFC 9293 3.4.2).
    msl: int = 30 * SEC
    #: Receive buffer in bytes; the advertised window is its free space (RFC 9293 3.8.6).
    #: Up to 2**30 with window scaling; without it only 65535 can be advertised (16 bits).
    rcv_buf: int = 65535
    #: Send buffer in bytes: how much the application may write ahead of acknowledgments.
    snd_buf: int = 131072
    #: SYN (or SYN-ACK) retransmissions before giving up (RFC 9293 3.8.3 R2 for SYN >= 3 min;
    #: counted here as tries, like Linux tcp_syn_retries).
    syn_retries: int = 6
    #: Retransmissions of one segment before the connection is aborted (RFC 9293 3.8.3 R2).
    max_retries: int = 15
    #: Initial send sequence number; None draws it from the run's seeded stream.
    isn: int | None = None
    #: Fast retransmit on the third duplicate ACK and fast recovery (RFC 5681 3.2; with
    #: ``cc = "newreno"`` partial ACKs as RFC 6582).
    fast_retransmit: bool = True
    #: Limited transmit: new data on the first two duplicate ACKs (RFC 3042).
    limited_transmit: bool = True
    #: Delayed ACK (RFC 9293 3.8.6.3, RFC 5681 4.2): wait up to ``delack_time`` for more data
    #: or a reply to carry the ACK, but acknowledge every second full-sized segment at once.
    delayed_ack: bool = True
    delack_time: int = 200 * MS
    #: Nagle's algorithm (RFC 9293 3.7.4, RFC 896) with Minshall's refinement: while a small
    #: segment is unacknowledged, hold back the next small one until a full segment can go or
    #: the small one is acknowledged.
    nagle: bool = True
    #: Offer and use selective acknowledgments (RFC 2018) with SACK-based loss recovery
    #: (RFC 6675).
    sack: bool = True
    #: Offer window scaling (RFC 7323 section 2): the shift is the smallest that lets the
    #: 16-bit window field carry ``rcv_buf``.
    window_scale: bool = True
    #: Offer the timestamps option (RFC 7323 sections 3-5): RTT measurement on every ACK,
    #: PAWS, and detection of spurious retransmissions (Eifel, RFC 3522).
    timestamps: bool = True
    #: Keep-alive probes on an idle connection (RFC 9293 3.8.4, RFC 1122 4.2.3.6: off by
    #: default; when on, no sooner than two hours of idleness unless configured).
    keepalive: bool = False
    keepalive_time: int = 7200 * SEC
    keepalive_interval: int = 75 * SEC
    keepalive_probes: int = 9
    #: User timeout (RFC 9293 3.8.3, RFC 5482): abort when data stays unacknowledged this
    #: long; 0 leaves it to ``max_retries``.
    user_timeout: int = 0

    def __post_init__(self) -> None:
        check_config(self)

    def with_options(self, **changes) -> "TcpConfig":
        return replace(self, **changes)


#: Options given in seconds in files and on the command line.
TIME_OPTIONS = frozenset({"min_rto", "max_rto", "initial_rto", "granularity", "msl", "delack_time",
                          "keepalive_time", "keepalive_interval", "user_timeout"})
#: Switches (true / false).
BOOL_OPTIONS = frozenset({"fast_retransmit", "limited_transmit", "delayed_ack", "nagle", "sack",
                          "window_scale", "timestamps", "keepalive"})


def option_names() -> list[str]:
    return [f.name for f in fields(TcpConfig)]


def check_config(cfg: TcpConfig) -> None:
    """Raise ValueError naming the option and the problem."""
    def bad(name: str, why: str) -> None:
        raise ValueError(f"tcp.{name}: {why}")

    if not 64 <= cfg.mss <= 65495:
        bad("mss", f"{cfg.mss} is outside 64..65495 bytes")
    if cfg.iw is not None and not 1 <= cfg.iw <= 100:
        bad("iw", f"{cfg.iw} segments is outside 1..100")
    for name in ("min_rto", "max_rto", "initial_rto", "msl"):
        if getattr(cfg, name) <= 0:
            bad(name, "must be greater than zero")
    if not 0 < cfg.delack_time <= 500 * MS:
        bad("delack_time", "must be above 0 and at most 0.5 s (RFC 1122 4.2.3.2)")
    if cfg.granularity < 0:
        bad("granularity", "must not be negative")
    if cfg.min_rto > cfg.max_rto:
        bad("min_rto", f"{cfg.min_rto / SEC:g} s exceeds max_rto {cfg.max_rto / SEC:g} s")
    if not 1 <= cfg.rcv_buf <= MAX_RCV_BUF:
        bad("rcv_buf", f"{cfg.rcv_buf} is outside 1..{MAX_RCV_BUF} bytes (RFC 7323 2.3: "
                       f"the window scale shift is at most 14)")
    for name in ("keepalive_time", "keepalive_interval"):
        if getattr(cfg, name) <= 0:
            bad(name, "must be greater than zero")
    if not 1 <= cfg.keepalive_probes <= 100:
        bad("keepalive_probes", f"{cfg.keepalive_probes} is outside 1..100")
    if cfg.user_timeout < 0:
        bad("user_timeout", "must not be negative (0 turns it off)")
    if cfg.snd_buf < 1:
        bad("snd_buf", "must be at least 1 byte")
    if not 0 <= cfg.syn_retries <= 20:
        bad("syn_retries", f"{cfg.syn_retries} is outside 0..20")
    if not 1 <= cfg.max_retries <= 50:
        bad("max_retries", f"{cfg.max_retries} is outside 1..50")
    if cfg.isn is not None and not 0 <= cfg.isn < 2 ** 32:
        bad("isn", f"{cfg.isn} is not a 32-bit sequence number")
    from tcplab.tcp.congestion import available
    if cfg.cc not in available():
        bad("cc", f"unknown congestion control {cfg.cc!r}; available: {', '.join(available())}")
