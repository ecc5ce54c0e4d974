"""Delayed ACK (RFC 9293 3.8.6.3, RFC 5681 4.2) and Nagle's algorithm (RFC 9293 3.7.4,
RFC 896, Minshall's variant) on scripted segments with explicit times."""

import pytest

from tcplab.net.packet import ACK
from tcplab.sim.clock import MS, SEC
from tcplab.tcp.config import TcpConfig
from tcplab.trace.events import SendReason, TimerKind

from tcpkit import IRS, ISS, RTT, established, fire_due, out, seg

SMSS = 500


def test_delayed_ack_waits_for_a_second_full_segment_or_the_timer():
    c, now = established(TcpConfig(mss=SMSS, delack_time=100 * MS))
    c.on_segment(now, seg(IRS + 1, ISS + 1, ACK, b"a" * SMSS))
    assert out(c, now) == [] and c.deadlines[TimerKind.DELACK] == now + 100 * MS
    c.on_segment(now + MS, seg(IRS + 1 + SMSS, ISS + 1, ACK, b"b" * SMSS))
    (a, reason), = out(c, now + MS)            # every second full-sized segment: at once
    assert a.ack == IRS + 1 + 2 * SMSS and reason == SendReason.ACK
    assert c.deadlines[TimerKind.DELACK] is None
    c.on_segment(now + 2 * MS, seg(IRS + 1 + 2 * SMSS, ISS + 1, ACK, b"c" * 10))
    assert out(c, now + 2 * MS) == []
    t = fire_due(c, now + SEC)
    (a, reason), = out(c, t)
    assert t == now + 2 * MS + 100 * MS and reason == SendReason.DELAYED_ACK
    assert a.ack == IRS + 1 + 2 * SMSS + 10


def test_delayed_ack_rides_on_data_and_never_delays_out_of_order():
    c, now = established(TcpConfig(mss=SMSS))
    c.on_segment(now, seg(IRS + 1, ISS + 1, ACK, b"q" * 20))
    assert out(c, now) == []
    c.send(now + MS, b"reply")
    (s, _), = out(c, now + MS)
    assert s.payload == b"reply" and s.ack == IRS + 21          # piggybacked
    assert c.deadlines[TimerKind.DELACK] is None
    c.on_segment(now + 2 * MS, seg(IRS + 1000, ISS + 6, ACK, b"z" * 10))   # a gap
    (d, reason), = out(c, now + 2 * MS)
    assert reason == SendReason.DUP_ACK and d.ack == IRS + 21


def test_data_filling_part_of_a_gap_is_acknowledged_at_once():
    c, now = established(TcpConfig(mss=SMSS))
    c.on_segment(now, seg(IRS + 1 + 2 * SMSS, ISS + 1, ACK, b"c" * SMSS))   # segment 3 early
    assert [r for _, r in out(c, now)] == [SendReason.DUP_ACK]
    c.on_segment(now + MS, seg(IRS + 1, ISS + 1, ACK, b"a" * 100))        # part of the hole
    (a, reason), = out(c, now + MS)
    assert a.ack == IRS + 101 and reason == SendReason.ACK
    c.on_segment(now + 2 * MS, seg(IRS + 101, ISS + 1, ACK, b"b" * (2 * SMSS - 100)))
    (a, reason), = out(c, now + 2 * MS)                               # the rest of it
    assert a.ack == IRS + 1 + 3 * SMSS


def test_delayed_ack_off_acknowledges_every_segment():
    c, now = established(TcpConfig(mss=SMSS, delayed_ack=False))
    c.on_segment(now, seg(IRS + 1, ISS + 1, ACK, b"a" * 10))
    (a, reason), = out(c, now)
    assert a.ack == IRS + 11 and reason == SendReason.ACK


def test_delack_time_is_bounded_by_half_a_second():
    with pytest.raises(ValueError, match="delack_time"):
        TcpConfig(delack_time=600 * MS)


def test_nagle_holds_a_second_small_segment_until_the_first_is_acked():
    c, now = established(TcpConfig(mss=SMSS, delayed_ack=False))
    c.send(now, b"k")
    assert [len(s.payload) for s, _ in out(c, now)] == [1]
    c.send(now + MS, b"e")
    c.send(now + 2 * MS, b"y")
    assert out(c, now + 2 * MS) == []                            # held while "k" is unacked
    c.on_segment(now + RTT, seg(IRS + 1, ISS + 2))
    assert [s.payload for s, _ in out(c, now + RTT)] == [b"ey"]   # coalesced


def test_nagle_lets_a_full_segment_go_while_a_small_one_is_unacked():
    c, now = established(TcpConfig(mss=SMSS, delayed_ack=False))
    c.send(now, b"k")
    out(c, now)
    c.send(now + MS, b"x" * (SMSS + 7))
    assert [len(s.payload) for s, _ in out(c, now + MS)] == [SMSS]   # the 7-byte tail waits


def test_nagle_off_sends_every_small_write():
    c, now = established(TcpConfig(mss=SMSS, nagle=False, delayed_ack=False))
    for k, ch in enumerate(b"key"):
        c.send(now + k * MS, bytes([ch]))
    assert len(out(c, now + 3 * MS)) == 3


def test_data_released_by_an_arriving_segment_acknowledges_its_text():
    """The ACK field is processed before the text (RFC 9293 3.10.7.4), but the segment the
    ACK releases leaves afterwards and acknowledges that text: one segment, not two."""
    c, now = established(TcpConfig(mss=SMSS, delayed_ack=False))
    c.send(now, b"k")
    out(c, now)
    c.send(now + MS, b"ey")                                    # held by Nagle
    assert out(c, now + MS) == []
    c.on_segment(now + RTT, seg(IRS + 1, ISS + 2, ACK, b"K"))  # the echo, acknowledging "k"
    (s, reason), = out(c, now + RTT)
    assert s.payload == b"ey" and s.ack == IRS + 2 and s.window == c.rcv_wnd
