"""SYN options and what they switch on: window scaling and timestamps (RFC 7323), SACK
(RFC 2018) with RFC 6675 recovery, Eifel detection (RFC 3522), keep-alive and the user
timeout (RFC 9293 3.8.3-3.8.4). Scripted segments, explicit times."""

from tcplab.net.packet import (ACK, OPT_MSS, OPT_SACK, OPT_SACK_PERM, OPT_TIMESTAMP, OPT_WSCALE,
                               RST, SYN, TcpOption)
from tcplab.sim.clock import MS, SEC
from tcplab.tcp.config import TcpConfig
from tcplab.trace.events import Detection, EventKind, RecvOutcome, SendReason, TimerKind

from tcpkit import IRS, ISS, RTT, fire_due, listen, new_conn, out, seg, syn_sent

SMSS = 500
PEER_TS = 7000            # the peer's TSval clock at t = 0 (ms)


def peer_ts(t):
    return PEER_TS + t // MS


def opts(*kinds, ws=7, tsval=PEER_TS, tsecr=0, mss=SMSS):
    table = {"mss": TcpOption(OPT_MSS, mss), "sack_perm": TcpOption(OPT_SACK_PERM),
             "ts": TcpOption(OPT_TIMESTAMP, (tsval, tsecr)), "ws": TcpOption(OPT_WSCALE, ws)}
    return tuple(table[k] for k in kinds)


def handshake(cfg, *kinds, ws=7):
    """Active open answered by a SYN-ACK offering ``kinds``; returns (conn, now, our TSval
    offset)."""
    c = syn_sent(cfg)
    c.on_segment(RTT, seg(IRS, ISS + 1, SYN | ACK, win=65535,
                          options=opts("mss", *kinds, ws=ws, tsval=peer_ts(RTT),
                                       tsecr=c._ts_now(0))))
    out(c, RTT)
    return c, RTT


def test_syn_offers_every_enabled_option_and_syn_ack_only_what_was_offered():
    c = new_conn(TcpConfig(mss=SMSS, rcv_buf=1 << 20))
    c.open_active(0)
    (syn, _), = out(c, 0)
    assert [o.kind for o in syn.options if o.kind != 1] == [OPT_MSS, OPT_SACK_PERM,
                                                            OPT_TIMESTAMP, OPT_WSCALE]
    assert syn.option(OPT_WSCALE) == 5 and syn.option(OPT_TIMESTAMP) == (c._ts_now(0), 0)
    c2 = listen(TcpConfig(mss=SMSS))
    c2.on_segment(0, seg(ISS, 0, SYN, options=opts("mss", "sack_perm")))
    (synack, _), = out(c2, 0)
    kinds = [o.kind for o in synack.options]
    assert OPT_SACK_PERM in kinds and OPT_TIMESTAMP not in kinds and OPT_WSCALE not in kinds
    assert c2.sack_ok and not c2.ts_ok and not c2.ws_ok


def test_window_scale_shift_fits_the_buffer_and_applies_after_the_syn():
    c, now = handshake(TcpConfig(mss=SMSS, rcv_buf=1 << 20, delayed_ack=False), "ws", ws=3)
    assert c.ws_ok and c.rcv_wscale == 5 and c.snd_wscale == 3    # 2**20 >> 5 = 32768
    # The peer's window field is now in units of 8 bytes (RFC 7323 2.3).
    c.on_segment(now, seg(IRS + 1, ISS + 1, ACK, b"x" * 10, win=1000))
    assert c.snd_wnd == 8000
    (a, _), = out(c, now)
    assert a.window == (c.rcv_wnd >> 5)
    # Without the peer's option neither side scales, even with a large buffer.
    c, now = handshake(TcpConfig(mss=SMSS, rcv_buf=1 << 20))
    assert not c.ws_ok and c.rcv_wscale == c.snd_wscale == 0


def test_timestamps_echo_ts_recent_and_measure_rtt_on_every_ack():
    c, now = handshake(TcpConfig(mss=SMSS, delayed_ack=False), "ts")
    assert c.ts_ok and c.smss == SMSS - 12      # RFC 6691: options come out of the data
    assert c.rtt.srtt == RTT                     # the SYN-ACK echoed our SYN's TSval
    c.send(now, b"a" * 3 * c.smss)
    sent = out(c, now)
    for s, _ in sent:
        assert s.option(OPT_TIMESTAMP) == (c._ts_now(now), peer_ts(RTT))
    # An ACK 30 ms later echoing the first segment's TSval: a 30 ms sample.
    t = now + 30 * MS
    c.on_segment(t, seg(IRS + 1, ISS + 1 + c.smss, ACK,
                        options=opts("ts", tsval=peer_ts(t), tsecr=c._ts_now(now))))
    assert c.rtt.samples == 2 and c.ts_recent == peer_ts(t)


def test_paws_drops_a_segment_with_an_older_timestamp():
    c, now = handshake(TcpConfig(mss=SMSS, delayed_ack=False), "ts")
    t = now + 10 * MS
    c.on_segment(t, seg(IRS + 1, ISS + 1, ACK, b"new", options=opts("ts", tsval=peer_ts(t))))
    out(c, t)
    old = seg(IRS + 4, ISS + 1, ACK, b"old", options=opts("ts", tsval=peer_ts(now) - 5))
    assert c.on_segment(t + MS, old) == RecvOutcome.PAWS_REJECTED
    (a, reason), = out(c, t + MS)
    assert reason == SendReason.DUP_ACK and a.ack == IRS + 4 and c.received == 3


def test_eifel_tells_a_spurious_timeout_from_a_genuine_one():
    c, now = handshake(TcpConfig(mss=SMSS, delayed_ack=False, min_rto=200 * MS), "ts")
    c.send(now, b"d" * 100)
    (d, _), = out(c, now)
    sent_ts = d.option(OPT_TIMESTAMP)[0]
    t = fire_due(c, now + 5 * SEC)                 # the RTO expires: retransmission
    (r, reason), = out(c, t)
    assert reason == SendReason.RTO_RETX and r.option(OPT_TIMESTAMP)[0] > sent_ts
    # The ACK echoes the *original* transmission's TSval: it was only late.
    c.on_segment(t + MS, seg(IRS + 1, ISS + 101, ACK, options=opts("ts", tsval=peer_ts(t), tsecr=sent_ts)))
    tr = c.trace
    found = [Detection(tr.a[i]) for i in tr.indices(EventKind.DETECT)]
    assert Detection.SPURIOUS_RETX in found and c.stats["spurious_retransmissions"] == 1


def sack_conn(**kw):
    c, now = handshake(TcpConfig(mss=SMSS, iw=10, delayed_ack=False, **kw), "sack_perm")
    c.send(now, b"s" * 20 * SMSS)
    sent = out(c, now)
    assert len(sent) == 10 and c.sack_ok
    return c, now + RTT


def sack_ack(c, t, *blocks):
    """The peer's duplicate ACK for byte 0 (segment 1 lost) with SACK blocks given in segment
    numbers (0-based, end exclusive)."""
    b = tuple(((ISS + 1 + s * SMSS), (ISS + 1 + e * SMSS)) for s, e in blocks)
    c.on_segment(t, seg(IRS + 1, ISS + 1, ACK, options=(TcpOption(OPT_SACK, b),)))
    return out(c, t)


def test_sack_recovery_starts_when_the_head_is_lost_and_never_resends_sacked_data():
    c, t = sack_conn()
    assert sack_ack(c, t, (1, 2)) != []            # limited transmit: one new segment
    sack_ack(c, t, (1, 3))
    sent = sack_ack(c, t, (1, 4))                    # 3 dup ACKs and 3 segments SACKed
    assert c.in_recovery and c._sack_recovery
    assert sent[0][1] == SendReason.FAST_RETX and sent[0][0].seq == ISS + 1
    # RFC 6675: cwnd = ssthresh = FlightSize / 2 without inflation (12 segments were out,
    # 2 of them by limited transmit, which do not count).
    assert c.ccs.ssthresh == c.ccs.cwnd == 5 * SMSS
    for s, reason in sent:
        off = s.seq - ISS - 1
        assert not c.sb.sacked_between(off, off + len(s.payload)), (s, reason)


def test_sack_blocks_on_the_wire_report_the_latest_block_first():
    c, now = handshake(TcpConfig(mss=SMSS, delayed_ack=False), "sack_perm")
    c.on_segment(now, seg(IRS + 1 + 1000, ISS + 1, ACK, b"b" * 100))
    c.on_segment(now, seg(IRS + 1 + 2000, ISS + 1, ACK, b"c" * 100))
    acks = out(c, now)
    assert acks[-1][0].option(OPT_SACK) == ((IRS + 2001, IRS + 2101), (IRS + 1001, IRS + 1101))


def test_keepalive_probes_an_idle_peer_and_gives_up_after_the_last_probe():
    cfg = TcpConfig(mss=SMSS, keepalive=True, keepalive_time=10 * SEC, keepalive_interval=SEC,
                    keepalive_probes=3)
    c, now = handshake(cfg)
    times = []
    for _ in range(3):
        t = fire_due(c, now + 100 * SEC)
        (p, reason), = out(c, t)
        assert reason == SendReason.KEEPALIVE and p.seq == ISS and not p.payload
        times.append(t)
    assert times == [now + 10 * SEC, now + 11 * SEC, now + 12 * SEC]
    t = fire_due(c, now + 100 * SEC)
    assert t == now + 13 * SEC and c.state.name == "CLOSED" and c.notes[-1] == "timeout"


def test_keepalive_answer_restarts_the_idle_clock():
    cfg = TcpConfig(mss=SMSS, keepalive=True, keepalive_time=10 * SEC, keepalive_interval=SEC)
    c, now = handshake(cfg)
    t = fire_due(c, now + 100 * SEC)
    out(c, t)
    c.on_segment(t + RTT, seg(IRS + 1, ISS + 1, ACK))       # the peer answers
    out(c, t + RTT)
    while True:                                              # the next probe, whenever it is
        t2 = fire_due(c, now + 100 * SEC)
        if out(c, t2):
            break
    assert t2 == t + RTT + 10 * SEC and c._ka_probes == 1


def test_user_timeout_aborts_when_data_stays_unacknowledged():
    c, now = handshake(TcpConfig(mss=SMSS, user_timeout=3 * SEC, min_rto=SEC))
    c.send(now, b"u" * 10)
    out(c, now)
    expiries = []
    while c.state.name != "CLOSED":
        t = fire_due(c, now + 100 * SEC)
        expiries.append(t - now)
        sent = out(c, t)
    assert expiries == [1 * SEC, 3 * SEC]        # RTO 1 s, then 2 s: 3 s reached
    assert sent[-1][0].flags & RST and c.notes[-1] == "timeout"
