"""What the topology view animates, followed from the trace alone (tcplab.trace.flight)."""

from __future__ import annotations

from tcplab.scenario import load
from tcplab.scenario.runner import Run
from tcplab.trace.events import DropReason, EventKind
from tcplab.trace.flight import FlightTracker, segment_kind
from tcplab.net.packet import ACK, FIN, RST, SYN


def _follow(run, until, step=1_000_000):
    tracker = FlightTracker()
    seen = 0
    t = 0
    while t < until:
        t += step
        run.run(until=t)
        tracker.consume(run.trace, seen, len(run.trace))
        seen = len(run.trace)
        yield tracker


def test_in_flight_matches_the_engine_at_every_millisecond():
    run = Run(load("transfer"))
    for tracker in _follow(run, 400_000_000):
        engine = {uid: (link, d, t0, t1) for uid, link, d, t0, t1 in run.in_flight()}
        mine = {uid: (f.link, f.direction, f.t0, f.t1) for uid, f in tracker.flights.items()}
        assert mine == engine


def test_queues_match_queue_rows_and_never_exceed_capacity():
    run = Run(load("bulk", ["apps.bulk.bytes=400000"]))
    cap = {ls.name: ls.ab.queue for ls in run.scenario.links}
    names = {info.id: info.name for info in run.trace.links}
    most = 0
    for tracker in _follow(run, 600_000_000, 5_000_000):
        for (link, _d), uids in tracker.queues.items():
            assert len(uids) <= cap[names[link]]
            assert not set(uids) & set(tracker.flights), "a queued packet is not yet on the wire"
            most = max(most, len(uids))
    assert most > 10, "the bottleneck queue filled"


def test_drops_are_placed_where_they_happen():
    run = Run(load("loss"))
    trackers = list(_follow(run, 3_000_000_000, 5_000_000))
    marks = trackers[-1].drops
    assert marks, "the loss scenario drops a segment"
    for m in marks:
        if m.link >= 0 and m.node < 0:
            assert 0.0 <= m.fraction <= 1.0
    assert {m.reason for m in marks} <= {int(r) for r in DropReason}


def test_user_delay_moves_the_arrival():
    run = Run(load("transfer"))
    run.run(until=20_000_000)
    uid, link, d, t0, t1 = run.in_flight()[0]
    tracker = FlightTracker()
    tracker.consume(run.trace, 0, len(run.trace))
    run.apply({"op": "packet", "uid": uid, "what": "delay", "delay": 50_000_000})
    tracker.consume(run.trace, 0, len(run.trace))
    assert tracker.flights[uid].t1 == t1 + 50_000_000


def test_segment_kinds():
    assert segment_kind(SYN, 0, False) == "syn"
    assert segment_kind(SYN | ACK, 0, False) == "synack"
    assert segment_kind(ACK, 100, False) == "data"
    assert segment_kind(ACK, 0, False) == "ack"
    assert segment_kind(FIN | ACK, 0, False) == "fin"
    assert segment_kind(RST, 0, False) == "rst"
    assert segment_kind(ACK, 100, True) == "retx"
    assert int(EventKind.QUEUE) > 0


def _state(tracker):
    return ({u: (f.link, f.direction, f.t0, f.t1, f.held) for u, f in tracker.flights.items()},
            {k: list(v) for k, v in tracker.queues.items() if v},
            [(d.t, d.uid, d.reason) for d in tracker.drops], tracker.rows_seen)


def test_restoring_a_checkpoint_then_reading_on_equals_reading_from_row_zero():
    """What the topology view does when the cursor goes back: restore the nearest checkpoint
    and take the rows after it. Every moment must look as if read from the start."""
    import random
    run = Run(load("bulk", ["apps.bulk.bytes=300000", "links.r1-r2.loss=0.02"]))
    run.run()
    trace = run.trace
    n = len(trace)
    live = FlightTracker()
    checkpoints = []
    for first in range(0, n, 1000):
        live.consume(trace, first, min(n, first + 1000))
        checkpoints.append(live.checkpoint())
    rng = random.Random(5)
    for rows in [0, 1, n] + [rng.randrange(n) for _ in range(25)]:
        fresh = FlightTracker()
        fresh.consume(trace, 0, rows)
        back = FlightTracker()
        usable = [cp for cp in checkpoints if cp.rows <= rows]
        if usable:
            back.restore(usable[-1])
        back.consume(trace, back.rows_seen, rows)
        assert _state(back) == _state(fresh), rows
    # a checkpoint is a copy: reading on after it does not change it
    cp = checkpoints[len(checkpoints) // 2]
    before = ({u: (f.t1, f.held) for u, f in cp.flights.items()}, {k: list(v) for k, v in cp.queues.items()})
    again = FlightTracker()
    again.restore(cp)
    again.consume(trace, cp.rows, n)
    assert ({u: (f.t1, f.held) for u, f in cp.flights.items()}, {k: list(v) for k, v in cp.queues.items()}) == before
