"""Fast retransmit and NewReno fast recovery on scripted loss, numbers as RFC 5681 3.2 and
RFC 6582 3.2 prescribe (SMSS 500, initial window 10 segments = 5000 bytes)."""

from tcplab.net.packet import ACK
from tcplab.sim.clock import MS
from tcplab.tcp.config import TcpConfig
from tcplab.trace.events import SendReason

from tcpkit import IRS, ISS, RTT, established, out, seg

SMSS = 500


def start(cc="newreno", **kw):
    c, now = established(TcpConfig(mss=SMSS, iw=10, cc=cc, **kw))
    c.send(now, b"x" * 20000)
    sent = out(c, now)
    assert [s.seq for s, _ in sent] == [ISS + 1 + k * SMSS for k in range(10)]
    return c, now


def ack(c, now, n, times=1):
    """The peer acknowledges up to byte n (ACK = ISS + 1 + n), ``times`` times."""
    result = []
    for _ in range(times):
        c.on_segment(now, seg(IRS + 1, ISS + 1 + n))
        result += out(c, now)
    return result


def test_third_duplicate_ack_retransmits_and_enters_recovery():
    c, now = start()
    now += RTT
    # Segment 2 (bytes 500..999) is lost: the first ACK covers segment 1 only.
    new = ack(c, now, 500)                   # slow start: cwnd 5000 -> 5500, two new segments
    assert c.ccs.cwnd == 5500 and len(new) == 2
    flight = c.snd_max - c.snd_una           # 5500 bytes outstanding when the loss shows
    # Duplicates 1 and 2: one new segment each (limited transmit, RFC 3042), cwnd unchanged.
    lt = ack(c, now, 500, times=2)
    assert [(r, len(s.payload)) for s, r in lt] == [(SendReason.LIMITED_TRANSMIT, SMSS)] * 2
    assert c.ccs.cwnd == 5500
    (rx, reason), = ack(c, now, 500)         # the third
    assert reason == SendReason.FAST_RETX and rx.seq == ISS + 501 and len(rx.payload) == SMSS
    # RFC 5681 eq. 4, FlightSize without the limited-transmit segments (RFC 3042 section 2).
    assert c.ccs.ssthresh == max(flight // 2, 2 * SMSS) == 2750
    assert c.ccs.cwnd == c.ccs.ssthresh + 3 * SMSS == 4250                # step 3
    assert c.in_recovery and c.recover == c.snd_max - 1
    ack(c, now, 500)                                                      # step 4: +SMSS
    assert c.ccs.cwnd == 4750


def test_partial_ack_retransmits_next_hole_and_full_ack_ends_recovery():
    c, now = start()
    now += RTT
    ack(c, now, 500)                         # segment 1; segments 2 and 5 are lost
    ack(c, now, 500, times=3)                # fast retransmit of segment 2
    ssthresh, cwnd = c.ccs.ssthresh, c.ccs.cwnd
    ack(c, now, 500, times=5)                # more duplicates (segments 3,4,6,7,8...)
    cwnd += 5 * SMSS
    assert c.ccs.cwnd == cwnd
    recover = c.recover
    now += RTT
    # The retransmitted segment 2 arrives: cumulative ACK up to segment 5's hole (byte 2000).
    segs = ack(c, now, 2000)
    reasons = [r for _, r in segs]
    assert reasons[0] == SendReason.PARTIAL_ACK_RETX and segs[0][0].seq == ISS + 2001
    acked = 1500
    # RFC 6582 3.2 step 5: deflate by the amount acknowledged, add back one SMSS.
    assert c.ccs.cwnd == cwnd - acked + SMSS
    assert c.in_recovery and c.ccs.ssthresh == ssthresh
    # The full ACK (beyond ``recover``) ends recovery: cwnd = min(ssthresh, FlightSize + SMSS).
    now += RTT
    full = (recover + 1 - (ISS + 1)) & 0xFFFFFFFF
    flight = c.snd_max - (recover + 1)       # FlightSize once this ACK is taken in
    ack(c, now, full)
    assert not c.in_recovery
    assert c.ccs.cwnd == min(ssthresh, max(flight, SMSS) + SMSS)


def test_reno_leaves_recovery_on_the_first_new_ack():
    c, now = start(cc="reno")
    now += RTT
    ack(c, now, 500)
    ack(c, now, 500, times=3)
    ssthresh = c.ccs.ssthresh
    ack(c, now + RTT, 2000)                  # partial for NewReno; Reno simply exits
    assert not c.in_recovery and c.ccs.cwnd == ssthresh


def test_fast_retransmit_and_limited_transmit_can_be_switched_off():
    c, now = start(fast_retransmit=False, limited_transmit=False)
    now += RTT
    ack(c, now, 500)
    assert ack(c, now, 500, times=5) == [] and not c.in_recovery


def test_limited_transmit_respects_the_peer_window():
    c, now = start()
    now += RTT
    ack(c, now, 500)
    full = c.snd_max - c.snd_una
    sent = []
    for _ in range(3):      # a window update, then two duplicates with the window all used
        c.on_segment(now, seg(IRS + 1, ISS + 501, ACK, win=full))
        sent += out(c, now)
    assert c.dupacks == 2 and sent == []


def test_no_second_fast_retransmit_for_data_sent_before_a_timeout():
    """RFC 6582 section 4: after an RTO, duplicate ACKs for data sent before it must not
    trigger fast retransmit (recover = highest sequence sent when the timer expired)."""
    from tcpkit import fire_due
    c, now = start()
    t = fire_due(c, now + 5000 * MS)
    out(c, t)
    assert c.recover == c.snd_max - 1
    ack(c, t + RTT, 0, times=4)
    assert not c.in_recovery


def test_a_timeout_during_fast_recovery_keeps_the_episodes_ssthresh():
    """The loss that started recovery already halved ssthresh. RFC 5681 eq. 4 with the
    FlightSize fast recovery inflated (new data sent on every duplicate ACK) would raise it
    again; the engine keeps it, as Linux does, and cwnd falls to one segment."""
    c, now = start()
    now += RTT
    ack(c, now, 500)
    ack(c, now, 500, times=3)                # fast retransmit; ssthresh 2750
    ssthresh = c.ccs.ssthresh
    ack(c, now, 500, times=30)               # many duplicates: lots of new data goes out
    assert c.snd_max - c.snd_una > 4 * ssthresh
    from tcpkit import fire_due
    t = fire_due(c, now + 10 * 1_000_000_000)
    assert t is not None and not c.in_recovery
    assert c.ccs.ssthresh == ssthresh and c.ccs.cwnd == SMSS
