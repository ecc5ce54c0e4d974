"""Endpoint state rebuilt from the trace at any row (tcplab.trace.snapshot)."""

from __future__ import annotations

import random
import time

import pytest

from tcplab.scenario import load
from tcplab.scenario.runner import Run
from tcplab.trace.events import EventKind, SendReason, TcpState, TimerKind, Var
from tcplab.trace.ladder import RETRANSMIT
from tcplab.trace.snapshot import (SnapshotTracker, interesting_range, peer_of, receiver_map,
                                   sender_map, seq_diff, shared_tracker)
from tcplab.trace import typed as T

_RUNS: dict[str, Run] = {}


def finished(name: str) -> Run:
    """One finished run per scenario for the whole module (runs are deterministic)."""
    if name not in _RUNS:
        run = Run(load(name))
        run.run()
        _RUNS[name] = run
    return _RUNS[name]


def reference(trace, n: int) -> dict:
    """The per-connection facts of rows [0, n), read the slow and obvious way from typed events:
    the state, the variables, the byte totals, the OOO/SACK ranges and the running timers."""
    out: dict[int, dict] = {}
    for ev in trace.events(0, n):
        if ev.conn < 0:
            continue
        c = out.setdefault(ev.conn, {"state": TcpState.CLOSED, "vars": {}, "written": 0,
                                     "read": 0, "delivered": 0, "ooo": (), "sacked": (),
                                     "timers": {}})
        if isinstance(ev, T.StateChanged):
            c["state"] = ev.new
            if ev.new == TcpState.CLOSED:
                c["timers"] = {}
        elif isinstance(ev, T.VarChanged):
            c["vars"][ev.var] = ev.new
        elif isinstance(ev, T.AppWrote):
            c["written"] = ev.total
        elif isinstance(ev, T.AppRead):
            c["read"] = ev.total
        elif isinstance(ev, T.Delivered):
            c["delivered"] = max(c["delivered"], ev.offset + ev.nbytes)
        elif isinstance(ev, T.OutOfOrderChanged):
            c["ooo"] = tuple(ev.ranges)
        elif isinstance(ev, T.ScoreboardChanged):
            c["sacked"] = tuple(ev.ranges)
        elif isinstance(ev, T.TimerArmed):
            c["timers"][ev.timer] = (ev.deadline, ev.duration, ev.backoff)
        elif isinstance(ev, (T.TimerCancelled, T.TimerExpired)):
            c["timers"].pop(ev.timer, None)
    return out


def same_as_reference(snap, ref: dict) -> None:
    for cid, want in ref.items():
        got = snap.conn(cid)
        assert got.state == want["state"], (cid, snap.n)
        for var, value in want["vars"].items():
            assert got.var(var) == value, (cid, var, snap.n)
        assert (got.written, got.read, got.delivered) == (want["written"], want["read"],
                                                          want["delivered"])
        assert got.ooo == want["ooo"] and got.sacked == want["sacked"]
        assert {k: (t.deadline, t.duration, t.backoff) for k, t in got.timers.items()} \
            == want["timers"], (cid, snap.n)


@pytest.mark.parametrize("name", ["handshake", "close", "loss", "reorder"])
def test_state_at_every_state_row_matches_the_row(name):
    trace = finished(name).trace
    tracker = SnapshotTracker(trace, every=16)
    rows = list(trace.indices(EventKind.STATE))
    assert rows
    random.Random(1).shuffle(rows)          # jump around: checkpoints and replays both used
    for i in rows:
        i = int(i)
        conn = trace.conn[i]
        before = tracker.at(i).conn(conn)
        after = tracker.at(i + 1).conn(conn)
        assert before.state == TcpState(trace.a[i]), "the row's old state is the state before it"
        assert after.state == TcpState(trace.b[i])
        assert after.prev_state == TcpState(trace.a[i]) and after.state_row == i


@pytest.mark.parametrize("name", ["close", "loss", "reorder"])
def test_snapshots_match_a_plain_forward_reading(name):
    trace = finished(name).trace
    tracker = SnapshotTracker(trace, every=8)
    points = list(range(0, len(trace) + 1, 3)) + [len(trace)]
    random.Random(2).shuffle(points)
    for n in points:
        same_as_reference(tracker.at(n), reference(trace, n))


def test_moving_back_restores_earlier_states_and_handed_out_snapshots_never_change():
    trace = finished("loss").trace
    tracker = SnapshotTracker(trace, every=32)
    late = tracker.at(len(trace))
    server = late.conn(1)
    assert server.state == TcpState.CLOSED and server.timers == {}
    early = tracker.at(50)                   # mid-handshake: the final ACK is on its way
    fresh = SnapshotTracker(trace).at(50)
    assert early.conns == fresh.conns
    assert early.conn(0).state == TcpState.ESTABLISHED
    assert early.conn(1).state == TcpState.SYN_RECEIVED and early.conn(1).written == 0
    assert list(early.conn(1).timers) == [TimerKind.SYN]
    # the later snapshot was not disturbed by the replay
    assert late.conn(1).state == TcpState.CLOSED and late.n == len(trace)
    assert tracker.at(len(trace)).conns == late.conns


def test_retransmitted_bytes_stay_marked_until_acknowledged():
    trace = finished("loss").trace
    sent = [e for e in trace.events(kinds={EventKind.SEG_SENT}) if e.reason in RETRANSMIT]
    assert [(e.reason, e.seq, e.length) for e in sent] == [(SendReason.RTO_RETX, 1001, 500)]
    retx = sent[0]
    tracker = SnapshotTracker(trace)
    assert tracker.at(retx.index).conn(retx.conn).retx == []
    assert tracker.at(retx.index + 1).conn(retx.conn).retx == [(1001, 1501)]
    # SND.UNA passes 1501: the retransmitted bytes are acknowledged
    acked = next(e.index for e in trace.events(retx.index, kinds={EventKind.VAR})
                 if e.conn == retx.conn and e.var == Var.SND_UNA and seq_diff(e.new, 1501) >= 0)
    assert tracker.at(acked).conn(retx.conn).retx == [(1001, 1501)]
    assert tracker.at(acked + 1).conn(retx.conn).retx == []


def test_timer_expiry_records_the_arming_that_ran_out_and_the_doubled_rearm():
    trace = finished("loss").trace
    (expire,) = [int(i) for i in trace.indices(EventKind.TIMER_EXPIRE)]
    conn = trace.conn[expire]
    arm = max(int(i) for i in trace.indices(EventKind.TIMER_ARM)
              if i < expire and trace.conn[i] == conn and trace.a[i] == TimerKind.RTO)
    tracker = SnapshotTracker(trace)
    before = tracker.at(expire).conn(conn)
    assert before.timers[TimerKind.RTO].row == arm
    assert before.timers[TimerKind.RTO].deadline == trace.t[expire]
    assert before.timers[TimerKind.RTO].remaining(trace.t[expire] - 1) == 1
    after = tracker.at(expire + 3).conn(conn)      # the expiry and the re-arming rows
    ex = after.expiries[TimerKind.RTO]
    assert (ex.row, ex.t, ex.timer.row, ex.ran) == (expire, trace.t[expire], arm, 1_000_000_000)
    again = after.timers[TimerKind.RTO]
    assert again.backoff == 1 and again.duration == 2_000_000_000   # RFC 6298 5.5
    assert again.remaining(trace.t[expire]) == 2_000_000_000


def test_time_wait_timer_and_closing_clears_timers():
    trace = finished("close").trace
    tracker = shared_tracker(trace)
    assert shared_tracker(trace) is tracker
    client = next(c.id for c in trace.conns if c.role == "client")
    tw = next(e for e in trace.events(kinds={EventKind.TIMER_ARM})
              if e.conn == client and e.timer == TimerKind.TIME_WAIT)
    mid = tracker.at(tw.index + 1).conn(client)
    assert mid.state == TcpState.TIME_WAIT
    assert list(mid.timers) == [TimerKind.TIME_WAIT]
    assert mid.timers[TimerKind.TIME_WAIT].duration == 2_000_000_000      # 2 * MSL, MSL = 1 s
    end = tracker.at(len(trace)).conn(client)
    assert end.state == TcpState.CLOSED and end.timers == {}
    assert end.last_expiry.kind == TimerKind.TIME_WAIT


def test_peers_and_byte_maps_of_the_reordered_transfer():
    trace = finished("reorder").trace
    assert peer_of(trace, 0) == 1 and peer_of(trace, 1) == 0
    server = next(c for c in trace.conns if c.role == "server")
    client = trace.conns[peer_of(trace, server.id)]
    held = [int(i) for i in trace.indices(EventKind.OOO) if trace.a[i] > 0]
    assert held
    row = held[-1]
    snap = SnapshotTracker(trace).at(row + 1)
    rcv = receiver_map(snap.conn(client.id), server.iss)
    snd = sender_map(snap.conn(server.id), server.iss)
    ooo_abs = [(rcv.absolute(s), rcv.absolute(e)) for s, e in rcv.of_kind("ooo")]
    assert ooo_abs == list(trace.extra[row])
    # the hole runs from RCV.NXT to the first held byte
    rcv_nxt = snap.conn(client.id).rcv_nxt
    assert rcv.of_kind("hole") == [((rcv_nxt - server.iss) & 0xFFFFFFFF,
                                    rcv.of_kind("ooo")[0][0])]
    # spans tile the stream from byte 1 without gaps or overlaps
    for m in (snd, rcv):
        assert m.spans[0].start == 1
        assert all(a.end == b.start for a, b in zip(m.spans, m.spans[1:]))
    # everything the server sent is outstanding: in flight from SND.UNA to SND.NXT
    s = snap.conn(server.id)
    assert snd.of_kind("in_flight") == [((s.snd_una - server.iss) & 0xFFFFFFFF,
                                         (s.snd_nxt - server.iss) & 0xFFFFFFFF)]
    lo, hi, _cut = interesting_range(snd, rcv)
    assert lo <= 1 and hi >= snd.spans[-1].end


def test_sacked_and_retransmitted_bytes_on_the_sender_map():
    run = Run(load("bulk"))
    run.run(until=200_000_000)
    trace = run.trace
    tracker = SnapshotTracker(trace)
    client = next(c for c in trace.conns if c.role == "client")
    found = False
    for n in range(0, len(trace), 97):
        s = tracker.at(n).conn(client.id)
        if s.retx and s.sacked:
            found = True
            m = sender_map(s, client.iss)
            sacked = [(m.absolute(a), m.absolute(b)) for a, b in m.of_kind("sacked")]
            # SACKed wins over the other outstanding kinds, so the map shows the scoreboard
            assert sacked == [tuple(r) for r in s.sacked]
            for a, b in m.of_kind("retransmitted"):
                assert any(seq_diff(m.absolute(a), x) >= 0 and seq_diff(y, m.absolute(b)) >= 0
                           for x, y in s.retx)
            una = (s.snd_una - client.iss) & 0xFFFFFFFF
            assert m.of_kind("acked") == [(1, una)]
            break
    assert found, "the bulk run retransmits while SACK blocks are held within 200 ms"


def test_random_cursor_moves_on_a_100k_row_trace_are_fast():
    run = Run(load("bulk"))
    run.run()
    trace = run.trace
    assert len(trace) >= 100_000
    tracker = SnapshotTracker(trace)
    t0 = time.perf_counter()
    tracker.at(len(trace))
    first = time.perf_counter() - t0
    rng = random.Random(3)
    times = []
    for _ in range(200):
        n = rng.randrange(len(trace) + 1)
        t0 = time.perf_counter()
        snap = tracker.at(n)
        times.append(time.perf_counter() - t0)
        assert snap.n == n
    times.sort()
    print(f"\n{len(trace)} rows: first full pass {first * 1000:.1f} ms; random move median "
          f"{times[len(times) // 2] * 1000:.2f} ms, worst {times[-1] * 1000:.2f} ms")
    assert times[-1] < 0.5
    # a random jump replays at most one checkpoint interval
    before = tracker.replayed
    tracker.at(len(trace) // 3)
    tracker.at(len(trace) // 7)
    assert tracker.replayed - before <= 2 * tracker.every
