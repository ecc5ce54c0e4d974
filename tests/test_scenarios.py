"""The article's scenarios, run through the whole engine, with its numbers exactly."""

import io

import pytest

from tcplab.net.packet import ACK, FIN, PSH, RST, SYN
from tcplab.scenario import builtin_scenarios, load
from tcplab.scenario.runner import Run
from tcplab.sim.clock import SEC
from tcplab.trace.capture import write_pcapng
from tcplab.trace.events import DropReason, EventKind, SendReason, TcpState, TimerKind


def run(name, *overrides, seed=None, keep=False):
    r = Run(load(name, list(overrides)), seed=seed, keep_data=keep)
    r.run()
    return r


def sent(r):
    """[(time, node name, seg, reason)] for every segment sent by an endpoint."""
    tr = r.trace
    return [(tr.t[i], tr.nodes[tr.node[i]], tr.packets[tr.pkt[i]].segment, SendReason(tr.d[i] >> 16))
            for i in tr.indices(EventKind.SEG_SENT)]


def states(r, node):
    tr = r.trace
    n = tr.nodes.index(node)
    return [TcpState(tr.b[i]) for i in tr.indices(EventKind.STATE) if tr.node[i] == n]


def test_every_builtin_scenario_loads_and_runs():
    for name in builtin_scenarios():
        if name == "bulk":
            r = run(name, "apps.bulk.bytes=200000")
        else:
            r = run(name)
        assert len(r.trace) > 0, name
        # every row decodes into a typed event (catches a malformed row written on a hot path)
        assert len(r.trace._data) % 9 == 0
        for ev in r.trace.events():
            assert ev.t <= r.now


def test_handshake_isns_100_and_500():
    segs = sent(run("handshake"))
    (t1, n1, syn, _), (t2, n2, synack, _), (t3, n3, ack, _) = segs[:3]
    assert (n1, syn.flags, syn.seq) == ("client", SYN, 100)
    assert (n2, synack.flags, synack.seq, synack.ack) == ("server", SYN | ACK, 500, 101)
    assert (n3, ack.flags, ack.seq, ack.ack) == ("client", ACK, 101, 501)
    assert t1 < t2 < t3
    assert len(segs) == 3


def test_handshake_states():
    r = run("handshake")
    assert states(r, "client") == [TcpState.SYN_SENT, TcpState.ESTABLISHED]
    assert states(r, "server") == [TcpState.LISTEN, TcpState.SYN_RECEIVED, TcpState.ESTABLISHED]


def test_transfer_per_byte_sequence_and_cumulative_acks():
    r = run("transfer")
    segs = sent(r)
    data = [(s.seq, len(s.payload)) for _, n, s, _ in segs if n == "server" and s.payload]
    assert data == [(501, 500), (1001, 500), (1501, 500), (2001, 500)]
    # Each ACK names the next byte expected; the last data ACK rides on the client's FIN.
    acks = [(s.ack, s.flags) for _, n, s, _ in segs if n == "client" and s.ack > 501]
    assert acks == [(1001, ACK), (1501, ACK), (2001, ACK), (2501, FIN | ACK), (2502, ACK)]
    req = [(s.seq, len(s.payload)) for _, n, s, _ in segs if n == "client" and s.payload]
    assert req == [(101, 40)]


def test_loss_retransmits_after_timer_expiry():
    r = run("loss")
    tr = r.trace
    drops = [i for i in tr.indices(EventKind.DROP)]
    assert len(drops) == 1 and DropReason(tr.a[drops[0]]) == DropReason.FAULT
    lost = tr.packets[tr.pkt[drops[0]]].segment
    assert (lost.seq, len(lost.payload)) == (1001, 500)
    expiries = [i for i in tr.indices(EventKind.TIMER_EXPIRE) if TimerKind(tr.a[i]) == TimerKind.RTO]
    assert len(expiries) == 1
    e = expiries[0]
    assert tr.nodes[tr.node[e]] == "server" and tr.b[e] == 1 * SEC   # waited the 1 s RTO
    retx = [(t, s) for t, n, s, reason in sent(r) if reason == SendReason.RTO_RETX]
    assert len(retx) == 1
    t, s = retx[0]
    assert t == tr.t[e] and (s.seq, len(s.payload)) == (1001, 500)
    acks = [s.ack for _, n, s, _ in sent(r) if n == "client"]
    assert 1501 in acks and acks.index(1501) > acks.index(1001)
    summary = r.summary()
    server = [c for c in summary["connections"] if c["role"] == "server"][0]
    assert server["retransmissions"]["by_cause"] == {"RTO_RETX": 1}


def test_reorder_holds_then_reassembles():
    r = run("reorder", keep=True)
    tr = r.trace
    ooo = [tr.event(i) for i in tr.indices(EventKind.OOO)]
    assert ooo[0].ranges == ((1501, 2001),)
    assert ooo[1].ranges == ((1501, 2501),)
    assert ooo[-1].ranges == ()
    client = r.app("web").client_side
    assert client.stats.received == 2000
    assert bytes(client.stats.keep) == bytes(r.app("web").server_sides[0].stats.sent_keep)
    dup = [s.ack for _, n, s, reason in sent(r) if n == "client" and reason == SendReason.DUP_ACK]
    assert dup == [1001, 1001]
    assert not any(reason in (SendReason.RTO_RETX, SendReason.GO_BACK_N) for *_, reason in sent(r))


def test_close_four_steps_and_time_wait():
    r = run("close")
    tr = r.trace
    after = [(n, s.flags, s.seq, s.ack) for t, n, s, _ in sent(r) if s.flags & FIN or
             (t > 0 and not s.payload and s.flags == ACK)]
    fins = [(n, f) for n, f, *_ in after if f & FIN]
    assert [n for n, _ in fins] == ["client", "server"]
    # 1. FIN from the client, 2. ACK from the server, 3. FIN from the server, 4. ACK.
    i = next(k for k, x in enumerate(after) if x[0] == "client" and x[1] & FIN)
    steps = after[i:i + 4]
    assert [(n, f) for n, f, *_ in steps] == [("client", FIN | ACK), ("server", ACK),
                                              ("server", FIN | ACK), ("client", ACK)]
    assert steps[1][3] == steps[0][2] + 1 and steps[3][3] == steps[2][2] + 1
    assert states(r, "client")[-3:] == [TcpState.FIN_WAIT_2, TcpState.TIME_WAIT, TcpState.CLOSED]
    assert states(r, "server")[-3:] == [TcpState.CLOSE_WAIT, TcpState.LAST_ACK, TcpState.CLOSED]
    tw = [i for i in tr.indices(EventKind.TIMER_EXPIRE) if TimerKind(tr.a[i]) == TimerKind.TIME_WAIT]
    assert len(tw) == 1 and tr.b[tw[0]] == 2 * SEC


def test_abort_clean_close_beside_reset():
    r = run("abort")
    s = r.summary()
    by = {(c["app"], c["role"]): c for c in s["connections"]}
    assert by[("clean", "client")]["final_state"] == "CLOSED"
    assert by[("typing", "client")]["final_state"] == "CLOSED"
    rst = [(n, seg) for _, n, seg, reason in sent(r) if reason == SendReason.RST_CLOSED]
    assert rst and rst[0][0] == "server" and rst[0][1].flags & RST
    client_typing = r.app("typing").client_side
    assert client_typing.stats.outcome == "reset"
    assert r.app("clean").client_side.stats.outcome == "closed"


def test_same_seed_same_trace_and_same_pcap():
    a = run("bulk", "apps.bulk.bytes=300000", seed=5)
    b = run("bulk", "apps.bulk.bytes=300000", seed=5)
    assert a.trace.fingerprint() == b.trace.fingerprint()
    pa, pb = io.BytesIO(), io.BytesIO()
    write_pcapng(a.trace, 0, pa)
    write_pcapng(b.trace, 0, pb)
    assert pa.getvalue() == pb.getvalue() and len(pa.getvalue()) > 1000
    c = run("bulk", "apps.bulk.bytes=300000", seed=6)
    assert c.trace.fingerprint() != a.trace.fingerprint()


def test_bulk_delivers_everything_intact():
    r = run("bulk", "apps.bulk.bytes=500000")
    app = r.app("bulk")
    assert app.server_sides[0].stats.received == 500000
    assert app.server_sides[0].stats.recv_digest.digest() == app.client_side.stats.sent_digest.digest()
    conns = r.summary()["connections"]
    assert all(c["final_state"] in ("CLOSED", "TIME-WAIT") for c in conns)


def test_abort_server_application_learns_of_the_crash():
    r = run("abort")
    sides = r.app("typing").server_sides
    assert sides and sides[0].stats.outcome == "crashed"


def test_stray_fin_to_a_listening_port_is_dropped_without_a_connection():
    from tcplab.net.packet import FIN, Packet, Segment
    r = Run(load("handshake"))
    server = r.net.nodes["server"]
    client = r.net.nodes["client"]
    seg = Segment(40000, 80, 1, 0, FIN, 1000)
    pkt = Packet(-1, client.ip, server.ip, seg)
    r.trace.add_packet(pkt)
    client.routes[server.ip].send(pkt)
    r.run()
    assert all(c.local_port != 80 or c.remote_port != 40000 for c in r.net.conns)
    assert not any(SendReason(r.trace.d[i] >> 16) == SendReason.RST_CLOSED
                   for i in r.trace.indices(EventKind.SEG_SENT))


def test_timer_moved_later_fires_once_at_its_final_deadline():
    """The RTO restarted by each ACK keeps one scheduler handle that re-arms itself; expiries
    still happen exactly at the deadline in force (here: the loss scenario's single RTO)."""
    r = run("loss")
    tr = r.trace
    arms = [tr.event(i) for i in tr.indices(EventKind.TIMER_ARM)
            if TimerKind(tr.a[i]) == TimerKind.RTO and tr.nodes[tr.node[i]] == "server"]
    expiry = [tr.event(i) for i in tr.indices(EventKind.TIMER_EXPIRE)
              if TimerKind(tr.a[i]) == TimerKind.RTO][0]
    last_before = [a for a in arms if a.t < expiry.t][-1]
    assert expiry.t == last_before.deadline


def test_connecting_to_a_closed_port_is_refused_by_rst():
    from tcplab.tcp.config import TcpConfig
    r = Run(load("handshake"))
    client, server = r.net.nodes["client"], r.net.nodes["server"]
    notes = []

    class Recorder:
        def on_note(self, now, conn, note):
            notes.append(note)

    client.connect(50000, server.ip, 9, TcpConfig(), lambda host, conn: Recorder())
    r.run()
    rst = [i for i in r.trace.indices(EventKind.SEG_SENT)
           if SendReason(r.trace.d[i] >> 16) == SendReason.RST_CLOSED]
    assert len(rst) == 1
    seg = r.trace.packets[r.trace.pkt[rst[0]]].segment
    assert seg.flags == RST | ACK and seg.seq == 0 and seg.ack == 101   # RFC 9293 3.10.7.1
    assert "refused" in notes


def test_fast_retransmit_scenario_recovers_without_the_timer():
    r = run("fast-retransmit", keep=True)
    tr = r.trace
    segs = sent(r)
    fast = [(t, s) for t, n, s, reason in segs if reason == SendReason.FAST_RETX]
    assert len(fast) == 1 and fast[0][1].seq == 1501          # the third segment, bytes 1001-1500
    dups = [t for t, n, s, reason in segs if n == "client" and reason == SendReason.DUP_ACK]
    assert len(dups) >= 3 and fast[0][0] > dups[2]
    assert not [i for i in tr.indices(EventKind.TIMER_EXPIRE) if TimerKind(tr.a[i]) == TimerKind.RTO]
    app = r.app("web")
    assert bytes(app.client_side.stats.keep) == bytes(app.server_sides[0].stats.sent_keep)


def test_nagle_delack_scenario_coalesces_keystrokes_only_with_nagle():
    r = run("nagle-delack", keep=True)
    tr = r.trace
    per_port = {}
    for i in tr.indices(EventKind.SEG_SENT):
        s = tr.packets[tr.pkt[i]].segment
        port = s.src_port if s.src_port in (23, 2323) else s.dst_port
        per_port.setdefault(port, []).append(s)
    for port in (23, 2323):
        typed = [s for s in per_port[port] if s.dst_port == port and s.payload]
        assert sum(len(s.payload) for s in typed) == 12
        if port == 2323:
            assert [len(s.payload) for s in typed] == [1] * 12     # one segment per keystroke
        else:
            assert len(typed) <= 6 and max(len(s.payload) for s in typed) > 1
    assert len(per_port[23]) < len(per_port[2323]) * 2 // 3
    for name in ("nagle", "raw"):
        app = r.app(name)
        assert bytes(app.client_side.stats.keep) == bytes(app.client_side.stats.sent_keep)


def _retx(r, port):
    tr = r.trace
    out = []
    for i in tr.indices(EventKind.SEG_SENT):
        s = tr.packets[tr.pkt[i]].segment
        reason = SendReason(tr.d[i] >> 16)
        if s.src_port == port and s.payload and reason not in (SendReason.NEW_DATA,
                                                               SendReason.LIMITED_TRANSMIT):
            out.append((tr.t[i], reason, s.seq))
    return out


def test_sack_scenario_repairs_three_holes_in_one_round_trip_newreno_in_three():
    r = run("sack", keep=True)
    holes = [501 + 1000, 501 + 2500, 501 + 4000]            # the 3rd, 6th and 9th segments
    sacked, plain = _retx(r, 80), _retx(r, 81)
    assert sorted(s for _, _, s in sacked) == holes and sorted(s for _, _, s in plain) == holes
    rtt = 40 * 10**6
    span = lambda rs: max(t for t, _, _ in rs) - min(t for t, _, _ in rs)   # noqa: E731
    assert span(sacked) < 1.5 * rtt            # all holes resent within about one RTT
    assert span(plain) > 1.8 * rtt             # one partial ACK, one hole, per RTT
    assert [r_ for _, r_, _ in plain][1:] == [SendReason.PARTIAL_ACK_RETX] * 2
    assert {r_ for _, r_, _ in sacked[1:]} == {SendReason.SACK_RETX}
    tr = r.trace
    assert len(tr.indices(EventKind.SACKED)), "the scoreboard is traced"
    for name in ("sacked", "plain"):
        app = r.app(name)
        assert bytes(app.client_side.stats.keep) == bytes(app.server_sides[0].stats.sent_keep)


def test_zero_window_scenario_probes_with_backoff_and_resumes():
    r = run("zero-window")
    tr = r.trace
    probes = [tr.t[i] for i in tr.indices(EventKind.SEG_SENT)
              if SendReason(tr.d[i] >> 16) == SendReason.WINDOW_PROBE and tr.nodes[tr.node[i]] == "client"]
    assert len(probes) >= 4
    arms = [tr.c[i] for i in tr.indices(EventKind.TIMER_ARM)
            if tr.a[i] == TimerKind.PERSIST and tr.nodes[tr.node[i]] == "client"]
    assert arms[:3] == [SEC, 2 * SEC, 4 * SEC]                      # the persist timer backs off
    zero = [i for i in tr.indices(EventKind.SEG_SENT)
            if tr.nodes[tr.node[i]] == "server" and tr.packets[tr.pkt[i]].segment.window == 0]
    assert zero
    c = r.summary()["connections"][0]
    assert c["bytes_written"] == 6000 and r.summary()["connections"][1]["bytes_delivered"] == 6000


def test_congestion_scenario_draws_the_sawtooth_from_queue_drops_only():
    r = run("congestion")
    s = r.summary()
    assert set(s["drops"]) == {"queue_full"}
    tr = r.trace
    starts = [i for i in tr.indices(EventKind.DETECT) if tr.a[i] == 2 and tr.conn[i] == 0]
    assert len(starts) >= 5
    assert not [i for i in tr.indices(EventKind.TIMER_EXPIRE)
                if tr.a[i] == TimerKind.RTO and tr.conn[i] == 0]
    assert s["connections"][1]["bytes_delivered"] == 4_000_000


def test_cubic_vs_reno_scenario_publishes_cubic_state_and_shares_the_link():
    r = run("cubic-vs-reno")
    tr = r.trace
    cubic_state = [tr.extra[i] for i in tr.indices(EventKind.CC_STATE) if tr.conn[i] == 0]
    assert cubic_state and {"w_max", "k"} <= {name for name, _ in cubic_state[-1]}
    assert not [i for i in tr.indices(EventKind.CC_STATE) if tr.conn[i] == 2]   # Reno: none
    s = r.summary()["connections"]
    cubic, reno = s[1]["bytes_delivered"], s[3]["bytes_delivered"]
    total = cubic + reno
    assert total > 0.9 * 10e6 / 8 * 29                    # the bottleneck stays busy
    assert min(cubic, reno) > 0.25 * total


def test_timestamps_scenario_samples_rtt_per_ack_and_flags_the_spurious_timeout():
    r = run("timestamps")
    tr = r.trace
    server = 1
    spurious = [i for i in tr.indices(EventKind.DETECT) if tr.a[i] == 0 and tr.conn[i] == server]
    assert spurious and SendReason(tr.c[spurious[0]]) == SendReason.RTO_RETX
    srtt_changes = [i for i in tr.indices(EventKind.VAR) if tr.a[i] == 7 and tr.conn[i] == server]
    data_segments = r.summary()["connections"][server]["data_segments_sent"]
    assert len(srtt_changes) > data_segments // 4        # far more than one sample per flight
    opts = tr.packets[tr.pkt[tr.indices(EventKind.SEG_SENT)[0]]].segment.options
    assert any(o.kind == 8 for o in opts)                # TSopt offered on the SYN


SLOW_READER_AFTER_CLOSE = """
[scenario]
title = "slow reader after the connection closed"
duration = "10 s"
[tcp]
msl = 0.001
mss = 100
[hosts.h0]
[hosts.h1]
[links.h0-h1]
bandwidth = "1Mbps"
delay = "1ms"
[apps.typing0]
type = "typing"
client = "h1"
server = "h0"
port = 1000
chunk = 14
count = 1
echo = true
client_read_rate = 200
"""


def test_the_application_reads_what_tcp_delivered_after_the_connection_is_gone():
    """A slow reader (200 B/s) still holds the 14 echoed bytes when its connection leaves
    TIME-WAIT (2*MSL = 2 ms): what TCP delivered in order stays readable, as in a socket's
    receive queue, and the application reads all of it."""
    from tcplab.scenario import loads
    r = Run(loads(SLOW_READER_AFTER_CLOSE, "<slow reader>"), seed=3, keep_data=True)
    r.run()
    app = r.app("typing0")
    client = app.client_side
    assert client.conn.state == TcpState.CLOSED and client.stats.outcome == "closed"
    assert bytes(client.stats.keep) == bytes(client.stats.sent_keep) and len(client.stats.keep) == 14
