"""Review findings: each test asserts the RFC-correct behaviour and fails on the current engine.

Built with the state builders of tests/tcpkit.py; times are explicit.
"""

from tcplab.net.packet import ACK, FIN, OPT_MSS, RST, SYN, TcpOption
from tcplab.sim.clock import MS, SEC
from tcplab.tcp.config import TcpConfig
from tcplab.tcp.connection import Note
from tcplab.trace.events import SendReason, TcpState as S, TimerKind

from tcpkit import IRS, ISS, RTT, established, fire_due, out, seg, syn_received, syn_sent


# ------------------------------------------------------------------ 1. ACK of unsent data
def test_ack_of_unsent_data_drops_the_segment_text():
    """RFC 9293 3.10.7.4, fifth check, ESTABLISHED: "If the ACK acks something not yet sent
    (SEG.ACK > SND.NXT), then send an ACK, drop the segment, and return."

    The engine sends the ACK but then goes on to the seventh check and delivers the text of
    the segment it was told to drop."""
    c, now = established()
    c.on_segment(now, seg(IRS + 1, ISS + 5000, ACK, b"x" * 100))   # nothing of ours was sent
    out(c, now)
    assert c.readable() == 0, "text of a segment with an unacceptable ACK was delivered"
    assert c.rcv_nxt == IRS + 1


def test_syn_received_bad_ack_with_fin_does_not_enter_close_wait():
    """RFC 9293 3.10.7.4, fifth check, SYN-RECEIVED: only "If SND.UNA < SEG.ACK =< SND.NXT,
    then enter ESTABLISHED state and continue processing"; an unacceptable ACK is answered
    with <SEQ=SEG.ACK><CTL=RST> and the segment goes no further (it cannot be processed in
    SYN-RECEIVED: the eighth check would otherwise move an unestablished connection to
    CLOSE-WAIT).

    The engine sends the RST and then processes the FIN: the connection lands in CLOSE-WAIT
    without ever having been ESTABLISHED (no ESTABLISHED note, congestion window never
    initialised, so it can never send)."""
    c = syn_received()
    c.on_segment(10 * MS, seg(IRS + 1, ISS + 77, ACK | FIN))      # ACK not acceptable
    segs = out(c, 10 * MS)
    assert any(s.flags & RST and s.seq == ISS + 77 for s, _ in segs)
    assert c.state == S.SYN_RECEIVED, f"went to {c.state.name} on a segment it answered with RST"
    assert not c.peer_fin


# ------------------------------------------------------------------ 2. receiver SWS avoidance
def test_receiver_sws_avoidance_keeps_right_edge_until_worth_announcing():
    """RFC 9293 3.8.6.2.2 (MUST-39): the receiver keeps RCV.NXT+RCV.WND fixed until
    RCV.BUFF - RCV.USER - RCV.WND >= min(Fr*RCV.BUFF, Eff.snd.MSS) (Fr = 1/2).

    Buffer 1000, MSS 500: after a full window and a 100-byte read the window must stay
    closed (100 < min(500, 500)). read() itself respects this (no WINDOW_UPDATE), but it
    already raised RCV.WND to 100, so the next ACK (here the answer to the peer's window
    probe) accepts the probe byte and advertises a 99-byte window: silly window syndrome."""
    c, now = established(TcpConfig(mss=500, rcv_buf=1000))
    c.on_segment(now, seg(IRS + 1, ISS + 1, ACK, b"a" * 500))
    c.on_segment(now, seg(IRS + 501, ISS + 1, ACK, b"b" * 500))
    assert out(c, now)[-1][0].window == 0
    c.read(now + MS, 100)
    assert out(c, now + MS) == []                       # no update for 100 bytes: correct
    c.on_segment(now + 2 * SEC, seg(IRS + 1001, ISS + 1, ACK, b"c"))  # peer's window probe
    (ack, _), = out(c, now + 2 * SEC)
    assert not 0 < ack.window < 500, f"advertised a silly window of {ack.window} bytes"


# ------------------------------------------------------------------ 3. zero window and ACKs
def test_zero_window_still_accepts_the_valid_ack_of_a_peer_that_probed_it():
    """RFC 9293 3.10.7.4, first check: "If the RCV.WND is zero, no segments will be
    acceptable, but special allowance should be made to accept valid ACKs, URGs, and RSTs."

    A tcplab peer that probed our zero window with a byte we refused has moved its SND.MAX
    past our RCV.NXT; its pure ACKs toward a zero window therefore carry SEQ=SND.UNA, which is
    our RCV.NXT (see Connection._ack_seq), and we must process them: in a two-way transfer
    with a slow reader the other direction would otherwise stall into timeouts."""
    c, now = established(TcpConfig(mss=500, rcv_buf=1000))
    c.send(now, b"s" * 300)                          # our data toward the peer
    out(c, now)
    c.on_segment(now, seg(IRS + 1, ISS + 1, ACK, b"a" * 500))
    c.on_segment(now, seg(IRS + 501, ISS + 1, ACK, b"b" * 500))
    out(c, now)
    assert c.rcv_wnd == 0
    # The peer probed with the byte at IRS+1001 (we refused it).
    c.on_segment(now + 1 * SEC, seg(IRS + 1001, ISS + 1, ACK, b"c"))
    out(c, now + 1 * SEC)
    # It now acknowledges our 300 bytes with a pure ACK at its SND.UNA = our RCV.NXT.
    c.on_segment(now + 1 * SEC + MS, seg(IRS + 1001, ISS + 301, ACK))
    out(c, now + 1 * SEC + MS)
    assert c.snd_una == ISS + 301, "a valid ACK was discarded because our window is zero"


# ------------------------------------------------------------------ 4. window shrink + RTO
def test_rto_with_shrunk_window_does_not_abort_while_peer_answers_probes():
    """RFC 9293 3.8.6.1: a sender MUST be robust against window shrinking (usable window may
    become negative), and (RFC 1122 4.2.2.17, carried into RFC 9293 3.8.6.1) as long as the
    receiver keeps acknowledging the zero-window probes the sender MUST keep the connection
    open.

    The peer shrinks the window to zero while 500 bytes are in flight. Every RTO expiry then
    sends nothing (usable window 0) yet counts as a retry; the persist probes are answered
    with ACK=SND.UNA, window 0, which never resets the retry count, so after max_retries the
    engine sends RST and reports TIMEOUT to a peer that answered every probe."""
    c, now = established(TcpConfig(mss=500, max_retries=3), peer_window=1000)
    c.send(now, b"d" * 1000)
    assert len(out(c, now)) == 2
    now += RTT
    c.on_segment(now, seg(IRS + 1, ISS + 501, ACK, win=0))   # shrinks: right edge moves left
    out(c, now)
    t = now
    for _ in range(60):
        t = fire_due(c, now + 3600 * SEC)
        if t is None or c.state == S.CLOSED:
            break
        for s, reason in out(c, t):
            if reason == SendReason.WINDOW_PROBE:   # the peer answers every probe
                c.on_segment(t + RTT, seg(IRS + 1, ISS + 501, ACK, win=0))
                out(c, t + RTT)
    assert c.state == S.ESTABLISHED, "aborted although the peer answered every window probe"
    assert Note.TIMEOUT not in c.notes


# ------------------------------------------------------------------ 5. simultaneous open + RST
def test_rst_in_syn_received_from_active_open_reports_refused():
    """RFC 9293 3.10.7.4, second check, SYN-RECEIVED: "If this connection was initiated with
    an active OPEN (i.e., came from SYN-SENT state), then the connection was refused; signal
    the user 'connection refused'." The engine reports 'reset' instead."""
    c = syn_sent()
    c.on_segment(5 * MS, seg(IRS, 0, SYN, options=(TcpOption(OPT_MSS, 500),)))  # simultaneous open
    out(c, 5 * MS)
    assert c.state == S.SYN_RECEIVED
    c.on_segment(6 * MS, seg(IRS + 1, 0, RST))
    assert c.state == S.CLOSED
    assert Note.REFUSED in c.notes and Note.RESET not in c.notes


# ------------------------------------------------------------------ 6. discarded probe byte
def test_discarded_probe_byte_is_resent_when_the_window_opens_not_left_to_the_rto():
    """RFC 9293 3.8.6.1: a zero-window probe exists to learn that the window reopened; the
    receiver legitimately drops its byte (RCV.WND = 0, 3.10.7.4 first check). When the
    window update arrives with SEG.ACK = SND.UNA, the probe byte is unacknowledged and
    inside the usable window, so sending resumes from SND.UNA.

    The engine has moved SND.NXT past the probe byte and resumes one byte later, opening a
    hole the receiver can only report with duplicate ACKs. With fast retransmit out of
    scope the hole is repaired by an RTO, and RFC 5681 3.1's loss response (cwnd = 1 SMSS,
    ssthresh halved) is applied although nothing was lost: after every zero-window episode
    the lab shows a spurious timeout (e.g. a typing/echo app with a slow reader shows one
    RTO_RETX per WINDOW_PROBE). NOTE: tests/test_connection.py::
    test_probe_byte_discarded_by_peer_is_retransmitted_by_the_timer pins the current
    behaviour."""
    c, now = established(peer_window=0)
    c.send(now, b"p" * 800)
    t = fire_due(c, now + 10 * SEC)
    (probe, reason), = out(c, t)
    assert reason == SendReason.WINDOW_PROBE and probe.seq == ISS + 1
    c.on_segment(t + RTT, seg(IRS + 1, ISS + 1, ACK, win=4000))   # reopened, byte not kept
    segs = out(c, t + RTT)
    assert segs and segs[0][0].seq == ISS + 1, \
        f"resumed at {segs[0][0].seq - ISS - 1} bytes past SND.UNA, leaving a hole for the RTO"
