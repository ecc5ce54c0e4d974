"""One Connection, no simulator: each state built explicitly, segments and times passed in."""

from tcplab.net.packet import ACK, FIN, OPT_MSS, PSH, RST, SYN, TcpOption
from tcplab.sim.clock import MS, SEC
from tcplab.tcp.config import TcpConfig
from tcplab.tcp.connection import Note
from tcplab.trace.events import EventKind, SendReason, TcpState as S, TimerKind

from tcpkit import (IRS, ISS, RTT, close_wait, closing, established, fin_wait_1, fin_wait_2,
                    fire_due, last_ack, listen, new_conn, out, seg, syn_received, syn_sent,
                    time_wait)


def flags_of(segments):
    return [s.flags for s, _ in segments]


# ------------------------------------------------------------------------- opening
def test_active_open_sends_syn_with_iss_and_mss():
    c = new_conn()
    c.open_active(0)
    (syn, reason), = out(c, 0)
    assert c.state == S.SYN_SENT
    assert syn.flags == SYN and syn.seq == ISS and reason == SendReason.SYN
    assert syn.option(OPT_MSS) == 500
    assert c.deadlines[TimerKind.SYN] == 1 * SEC      # RFC 6298 2.1: initial RTO 1 s


def test_syn_retries_back_off_doubling_then_give_up():
    c = syn_sent(TcpConfig(mss=500, syn_retries=3))
    times = []
    while (t := fire_due(c, 100 * SEC)) is not None:
        times.append(t)
        for s, reason in out(c, t):
            assert s.flags == SYN and s.seq == ISS and reason == SendReason.SYN_RETRY
    assert times == [1 * SEC, 3 * SEC, 7 * SEC, 15 * SEC]
    assert c.state == S.CLOSED and Note.TIMEOUT in c.notes


def test_syn_ack_completes_handshake_with_ack_501():
    c, now = established()
    assert c.state == S.ESTABLISHED
    assert c.snd_una == ISS + 1 and c.rcv_nxt == IRS + 1
    assert c.rtt.srtt == RTT                           # the handshake gave the first sample


def test_third_segment_of_handshake():
    c = syn_sent()
    c.on_segment(RTT, seg(IRS, ISS + 1, SYN | ACK, options=(TcpOption(OPT_MSS, 500),)))
    (ack, reason), = out(c, RTT)
    assert ack.flags == ACK and ack.seq == ISS + 1 and ack.ack == IRS + 1
    assert c.deadlines[TimerKind.SYN] is None


def test_listen_answers_syn_with_syn_ack():
    c = listen(iss=IRS)
    c.on_segment(0, seg(ISS, 0, SYN, options=(TcpOption(OPT_MSS, 1460),)))
    (sa, reason), = out(c, 0)
    assert c.state == S.SYN_RECEIVED
    assert sa.flags == SYN | ACK and sa.seq == IRS and sa.ack == ISS + 1
    assert reason == SendReason.SYN_ACK


def test_syn_received_to_established_on_ack():
    c = syn_received()
    c.on_segment(10 * MS, seg(IRS + 1, ISS + 1))
    assert c.state == S.ESTABLISHED
    assert Note.ESTABLISHED in c.notes


def test_listen_ignores_rst_and_resets_stray_ack():
    c = listen()
    c.on_segment(0, seg(7, 0, RST))
    assert out(c, 0) == [] and c.state == S.LISTEN
    c.on_segment(0, seg(7, 1234, ACK))
    (rst, reason), = out(c, 0)
    assert rst.flags == RST and rst.seq == 1234 and reason == SendReason.RST_BAD_ACK


def test_syn_sent_refused_by_rst():
    c = syn_sent()
    c.on_segment(RTT, seg(0, ISS + 1, RST | ACK))
    assert c.state == S.CLOSED and Note.REFUSED in c.notes


def test_syn_sent_ignores_rst_with_wrong_ack():
    c = syn_sent()
    c.on_segment(RTT, seg(0, ISS + 77, RST | ACK))
    assert c.state == S.SYN_SENT


def test_simultaneous_open():
    c = syn_sent()
    c.on_segment(5 * MS, seg(IRS, 0, SYN, options=(TcpOption(OPT_MSS, 500),)))
    (sa, _), = out(c, 5 * MS)
    assert c.state == S.SYN_RECEIVED and sa.flags == SYN | ACK and sa.seq == ISS and sa.ack == IRS + 1
    c.on_segment(6 * MS, seg(IRS, ISS + 1, SYN | ACK))
    c.on_segment(7 * MS, seg(IRS + 1, ISS + 1))
    assert c.state == S.ESTABLISHED


# ------------------------------------------------------------------------- data
def test_send_segments_per_byte_sequence_numbers_within_initial_window():
    c, now = established()
    assert c.send(now, b"x" * 1200) == 1200
    segs = out(c, now)
    assert [(s.seq, len(s.payload)) for s, _ in segs] == [(101, 500), (601, 500), (1101, 200)]
    assert all(r == SendReason.NEW_DATA for _, r in segs)
    assert segs[-1][0].flags & PSH
    assert c.deadlines[TimerKind.RTO] == now + 1 * SEC


def test_sending_limited_by_cwnd_initial_window():
    c, now = established()          # IW = min(4*SMSS, max(2*SMSS, 4380)) = 2000 for SMSS 500
    c.send(now, b"y" * 5000)
    assert sum(len(s.payload) for s, _ in out(c, now)) == 2000


def test_sending_limited_by_peer_window_and_sender_sws_rule():
    c, now = established(peer_window=700)
    c.send(now, b"y" * 5000)
    # 500 fit; the remaining 200 are less than an MSS, less than the queued data and less
    # than half the largest window offered, so the sender waits (RFC 9293 3.8.6.2.1).
    assert [len(s.payload) for s, _ in out(c, now)] == [500]
    c.on_segment(now + RTT, seg(IRS + 1, ISS + 501, win=700))
    assert [len(s.payload) for s, _ in out(c, now + RTT)] == [500]


def test_ack_advances_snd_una_and_grows_cwnd_in_slow_start():
    c, now = established()
    c.send(now, b"z" * 1000)
    out(c, now)
    cwnd = c.ccs.cwnd
    now += RTT
    c.on_segment(now, seg(IRS + 1, 601))
    assert c.snd_una == 601 and c.ccs.cwnd == cwnd + 500


def test_timeout_retransmits_earliest_unacked_and_backs_off():
    c, now = established()
    c.send(now, b"a" * 1000)
    out(c, now)
    c.on_segment(now + RTT, seg(IRS + 1, 601))          # first segment acked
    out(c, now + RTT)
    assert fire_due(c, now + RTT + 50 * MS) is None      # nothing at t + 50 ms
    t = fire_due(c, now + 10 * SEC)
    assert t == now + RTT + 1 * SEC                      # RFC 6298 5.3: restarted by the ACK
    (rx, reason), = out(c, t)
    assert reason == SendReason.RTO_RETX and rx.seq == 601 and len(rx.payload) == 500
    assert c.rtt.rto == 2 * SEC and c.ccs.cwnd == 500   # 5.5 doubling; RFC 5681 loss window
    assert c.deadlines[TimerKind.RTO] == t + 2 * SEC
    # Karn: the ACK of the retransmission gives no RTT sample.
    srtt = c.rtt.srtt
    c.on_segment(t + RTT, seg(IRS + 1, 1101))
    assert c.rtt.srtt == srtt and c.deadlines[TimerKind.RTO] is None


def test_gives_up_after_max_retries_with_rst():
    c, now = established(TcpConfig(mss=500, max_retries=2))
    c.send(now, b"q" * 100)
    out(c, now)
    sent = []
    while (t := fire_due(c, 1000 * SEC)) is not None:
        sent += out(c, t)
    assert [r for _, r in sent] == [SendReason.RTO_RETX, SendReason.RTO_RETX, SendReason.RST_ABORT]
    assert c.state == S.CLOSED and Note.TIMEOUT in c.notes


def test_receive_in_order_acks_next_byte():
    c, now = established()
    c.on_segment(now, seg(IRS + 1, ISS + 1, ACK, b"h" * 500))
    (ack, reason), = out(c, now)
    assert ack.ack == IRS + 501 and reason == SendReason.ACK
    assert c.read(now) == b"h" * 500


def test_out_of_order_is_held_and_reassembled():
    c, now = established()
    c.on_segment(now, seg(IRS + 501, ISS + 1, ACK, b"2" * 500))
    (dup, reason), = out(c, now)
    assert dup.ack == IRS + 1 and reason == SendReason.DUP_ACK
    assert c.ooo.ranges() and c.readable() == 0
    ooo = [c.trace.event(i) for i in c.trace.indices(EventKind.OOO)]
    assert ooo[-1].ranges == ((IRS + 501, IRS + 1001),)
    c.on_segment(now, seg(IRS + 1, ISS + 1, ACK, b"1" * 500))
    (ack, _), = out(c, now)
    assert ack.ack == IRS + 1001
    assert c.read(now) == b"1" * 500 + b"2" * 500 and not c.ooo


def test_duplicate_data_is_acked_not_delivered_twice():
    c, now = established()
    c.on_segment(now, seg(IRS + 1, ISS + 1, ACK, b"d" * 100))
    out(c, now)
    c.on_segment(now, seg(IRS + 1, ISS + 1, ACK, b"d" * 100))
    (ack, reason), = out(c, now)
    assert reason == SendReason.DUP_ACK and c.readable() == 100


def test_finite_receive_buffer_closes_window_and_read_reopens_it():
    c, now = established(TcpConfig(mss=500, rcv_buf=1000))
    c.on_segment(now, seg(IRS + 1, ISS + 1, ACK, b"a" * 500))
    c.on_segment(now, seg(IRS + 501, ISS + 1, ACK, b"b" * 500))
    acks = out(c, now)
    assert acks[-1][0].window == 0
    c.on_segment(now, seg(IRS + 1001, ISS + 1, ACK, b"c" * 10))   # beyond the window
    assert c.readable() == 1000
    out(c, now)
    c.read(now + MS, 600)
    (upd, reason), = out(c, now + MS)
    assert reason == SendReason.WINDOW_UPDATE and upd.window == 600


def test_zero_window_persist_probe_then_reopen():
    c, now = established(peer_window=0)
    c.send(now, b"p" * 800)
    assert out(c, now) == []
    assert c.deadlines[TimerKind.PERSIST] is not None
    t = fire_due(c, now + 10 * SEC)
    (probe, reason), = out(c, t)
    assert reason == SendReason.WINDOW_PROBE and len(probe.payload) == 1 and probe.seq == ISS + 1
    assert c.snd_max == ISS + 2          # the probe byte really went out
    c.on_segment(t + RTT, seg(IRS + 1, ISS + 2, ACK, win=4000))   # the peer kept it
    segs = out(c, t + RTT)
    assert [(s.seq, len(s.payload)) for s, _ in segs] == [(ISS + 2, 500), (ISS + 502, 299)]
    assert c.deadlines[TimerKind.PERSIST] is None and c.deadlines[TimerKind.RTO] is not None


def test_probe_byte_refused_by_peer_is_sent_again_as_soon_as_the_window_opens():
    c, now = established(peer_window=0)
    c.send(now, b"p" * 800)
    t = fire_due(c, now + 10 * SEC)
    out(c, t)
    c.on_segment(t + RTT, seg(IRS + 1, ISS + 1, ACK, win=4000))   # reopened, byte not kept
    segs = out(c, t + RTT)
    assert [(s.seq, len(s.payload)) for s, _ in segs] == [(ISS + 1, 500), (ISS + 501, 300)]
    # The refused byte never reached the peer's buffer: the data goes on, nothing is repaired.
    assert [r for _, r in segs] == [SendReason.AFTER_PROBE, SendReason.NEW_DATA]
    assert sum(c.stats["retransmissions"].values()) == 0
    assert c.deadlines[TimerKind.PERSIST] is None and c.deadlines[TimerKind.RTO] is not None


def test_acks_toward_a_zero_window_carry_snd_una():
    c, now = established(peer_window=0)
    c.send(now, b"p" * 800)
    t = fire_due(c, now + 10 * SEC)
    out(c, t)                                            # probe byte: SND.MAX = SND.UNA + 1
    c.on_segment(t + MS, seg(IRS + 1, ISS + 1, ACK, b"d" * 10, win=0))   # peer sends data
    (ack, _), = out(c, t + MS)
    assert ack.seq == ISS + 1 == c.snd_una               # the peer's RCV.NXT, so acceptable

def test_sequence_numbers_wrap_around():
    iss = 2**32 - 300
    c = new_conn(iss=iss)
    c.open_active(0)
    out(c, 0)
    c.on_segment(RTT, seg(IRS, (iss + 1) % 2**32, SYN | ACK, options=(TcpOption(OPT_MSS, 500),)))
    out(c, RTT)
    c.send(RTT, b"w" * 1000)
    segs = out(c, RTT)
    assert [s.seq for s, _ in segs] == [(iss + 1) % 2**32, (iss + 501) % 2**32]
    c.on_segment(2 * RTT, seg(IRS + 1, (iss + 1001) % 2**32))
    assert c.snd_una == (iss + 1001) % 2**32 and c.bytes_in_flight == 0


# ------------------------------------------------------------------------- closing
def test_close_in_established_sends_fin_and_enters_fin_wait_1():
    c, now = established()
    c.close(now)
    (fin, reason), = out(c, now)
    assert c.state == S.FIN_WAIT_1 and fin.flags == FIN | ACK and fin.seq == ISS + 1
    assert reason == SendReason.FIN


def test_fin_wait_1_to_fin_wait_2_on_ack_of_fin():
    c, now = fin_wait_2()
    assert c.state == S.FIN_WAIT_2


def test_fin_wait_2_to_time_wait_then_closed_after_2msl():
    c, now = time_wait(TcpConfig(mss=500, msl=1 * SEC))
    assert c.state == S.TIME_WAIT
    assert c.deadlines[TimerKind.TIME_WAIT] == now + 2 * SEC
    assert fire_due(c, now + 2 * SEC - 1) is None
    assert fire_due(c, now + 2 * SEC) == now + 2 * SEC
    assert c.state == S.CLOSED


def test_time_wait_acks_retransmitted_fin_and_restarts_timer():
    c, now = time_wait(TcpConfig(mss=500, msl=1 * SEC))
    later = now + 500 * MS
    c.on_segment(later, seg(IRS + 1, ISS + 2, FIN | ACK))
    (ack, reason), = out(c, later)
    assert reason == SendReason.TIME_WAIT_ACK and ack.ack == IRS + 2
    assert c.deadlines[TimerKind.TIME_WAIT] == later + 2 * SEC


def test_simultaneous_close_goes_through_closing():
    c, now = closing()
    assert c.state == S.CLOSING
    c.on_segment(now + MS, seg(IRS + 2, ISS + 2))
    assert c.state == S.TIME_WAIT


def test_fin_wait_1_receiving_fin_and_ack_together_goes_to_time_wait():
    c, now = fin_wait_1()
    c.on_segment(now + RTT, seg(IRS + 1, ISS + 2, FIN | ACK))
    assert c.state == S.TIME_WAIT


def test_passive_close_close_wait_last_ack_closed():
    c, now = close_wait()
    assert c.state == S.CLOSE_WAIT and Note.PEER_FIN in c.notes
    c, now = last_ack()
    assert c.state == S.LAST_ACK
    c.on_segment(now + RTT, seg(IRS + 2, ISS + 2))
    assert c.state == S.CLOSED and Note.CLOSED in c.notes


def test_half_close_still_sends_data_in_close_wait():
    c, now = close_wait()
    c.send(now, b"late" * 10)
    segs = out(c, now)
    assert segs and segs[0][0].payload == b"late" * 10


def test_fin_retransmitted_after_timeout():
    c, now = fin_wait_1()
    t = fire_due(c, now + 5 * SEC)
    (fin, reason), = out(c, t)
    assert fin.flags & FIN and fin.seq == ISS + 1 and reason == SendReason.FIN_RETX


def test_out_of_order_fin_waits_for_the_data_before_it():
    c, now = established()
    c.on_segment(now, seg(IRS + 101, ISS + 1, FIN | ACK))
    out(c, now)
    assert c.state == S.ESTABLISHED
    c.on_segment(now, seg(IRS + 1, ISS + 1, ACK, b"m" * 100))
    (ack, _), = out(c, now)
    assert c.state == S.CLOSE_WAIT and ack.ack == IRS + 102


# ------------------------------------------------------------------------- resets
def test_rst_with_exact_sequence_resets_established():
    c, now = established()
    c.on_segment(now, seg(IRS + 1, 0, RST))
    assert c.state == S.CLOSED and Note.RESET in c.notes


def test_in_window_rst_gets_challenge_ack():
    c, now = established()
    c.on_segment(now, seg(IRS + 50, 0, RST))
    (ack, reason), = out(c, now)
    assert c.state == S.ESTABLISHED and reason == SendReason.CHALLENGE_ACK


def test_abort_sends_rst_and_closes():
    c, now = established()
    c.abort(now)
    (rst, reason), = out(c, now)
    assert rst.flags == RST and rst.seq == ISS + 1 and reason == SendReason.RST_ABORT
    assert c.state == S.CLOSED


def test_every_timer_stops_when_closed():
    c, now = established()
    c.send(now, b"x" * 100)
    c.abort(now)
    assert all(d is None for d in c.deadlines)


def test_traced_variables_publish_changes():
    c, now = established()
    names = {c.trace.event(i).var.name for i in c.trace.indices(EventKind.VAR)}
    assert {"SND_UNA", "SND_NXT", "RCV_NXT", "CWND", "SRTT", "RTO"} <= names


def test_syn_ack_retransmitted_with_backoff_until_acknowledged():
    c = syn_received()
    times = []
    for _ in range(2):
        t = fire_due(c, 100 * SEC)
        (sa, reason), = out(c, t)
        assert sa.flags == SYN | ACK and sa.seq == ISS and reason == SendReason.SYN_RETRY
        times.append(t)
    assert times == [1 * SEC, 3 * SEC]
    c.on_segment(3 * SEC + RTT, seg(IRS + 1, ISS + 1))
    assert c.state == S.ESTABLISHED
    assert c.rtt.rto == 3 * SEC      # RFC 6298 5.7: after a lost SYN-ACK the RTO starts at 3 s


def test_published_variables_are_the_traced_values():
    """``_publish`` builds the traced-variable tuple inline (a hot path); it must stay the
    same tuple as ``traced_values()``, which the views' documentation refers to."""
    from tcplab.scenario import load
    from tcplab.scenario.runner import Run
    r = Run(load("sack"), seed=1)
    r.run(until=200_000_000)
    for conn in r.net.conns:
        conn.poll_output(r.net.sched.now)
        assert conn._last_vars == conn.traced_values()
