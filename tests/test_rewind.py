"""Rewinding a run (tcplab/session/rewind.py): restoring an engine snapshot and running on gives
exactly the trace of a run that never went back, on every built-in scenario, with and without
user actions; stepping back undoes one event; a live action after a rewind forks the timeline."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.scenario import builtin_scenarios, load
from tcplab.scenario.runner import Run
from tcplab.session.replay import first_difference
from tcplab.session.rewind import Rewinder
from tcplab.trace.events import EventKind

MS = 1_000_000


def straight(scenario, until: int, actions=()) -> Run:
    run = Run(scenario)
    run.replay_actions(actions, until=until)
    return run


def small_every(scenario) -> int:
    """A snapshot interval giving a few dozen snapshots on this scenario."""
    events = Run(scenario)
    events.run(until=scenario.duration)
    return max(4, events.net.sched.events_processed // 40)


@pytest.mark.parametrize("name", sorted(set(builtin_scenarios()) - {"cubic-vs-reno"}))
def test_seek_anywhere_then_run_on_gives_the_same_trace(name):
    sc = load(name)
    ref = straight(sc, sc.duration)
    rw = Rewinder(Run(sc), every=small_every(sc))
    rw.advance(sc.duration)
    assert first_difference(ref.trace, rw.run.trace) is None
    assert len(rw.snapshots) > 1 or len(ref.trace) < 50
    for frac in (0.5, 0.05, 0.95, 0.0, 0.3):
        t = int(sc.duration * frac)
        rw.seek(t)
        assert rw.run.now <= t
        # The state at t is a fresh run's state at t: same trace so far...
        part = straight(sc, t)
        assert first_difference(part.trace, rw.run.trace, t) is None, (name, frac)
        assert rw.run.net.sched.events_processed == part.net.sched.events_processed
        # ...and the same future.
        rw.advance(sc.duration)
        assert first_difference(ref.trace, rw.run.trace) is None, (name, frac)


def test_long_scenario_seek_uses_a_near_snapshot():
    sc = load("cubic-vs-reno")
    until = sc.duration // 4
    ref = straight(sc, until)
    rw = Rewinder(Run(sc), every=2048, max_snapshots=16)
    rw.advance(until)
    assert len(rw.snapshots) <= 16 and rw.every > 2048     # thinned as it went
    target = until // 3
    rw.seek(target)
    start = max(s.events for s in rw.snapshots if s.time <= target)
    assert rw.events - start <= rw.every
    rw.advance(until)
    assert first_difference(ref.trace, rw.run.trace) is None


def recorded_actions(sc):
    """A GUI-like run: a knob change and a targeted drop, applied live at their times."""
    run = Run(sc)
    run.run(until=20 * MS)
    run.apply({"op": "set_link", "link": "router-server", "param": "delay", "value": "30ms"})
    run.run(until=45 * MS)
    run.apply({"op": "drop_next", "link": "client-router"})
    run.run(until=sc.duration)
    return run, list(run.actions)


def test_rewind_replays_recorded_actions():
    sc = load("transfer")
    ref, actions = recorded_actions(sc)
    assert len(actions) == 2
    rw = Rewinder(Run(sc), actions, every=8)
    rw.advance(sc.duration)
    assert first_difference(ref.trace, rw.run.trace) is None
    for t in (30 * MS, 10 * MS, 45 * MS, 80 * MS):
        rw.seek(t)
        assert rw.applied == sum(1 for at, _ in actions if at <= t)
        rw.advance(sc.duration)
        assert first_difference(ref.trace, rw.run.trace) is None, t
    # The trace records each action once, wherever the run went back and forth.
    assert len(rw.run.trace.indices(EventKind.USER)) == 2


def test_step_back_undoes_one_event():
    sc = load("loss")
    rw = Rewinder(Run(sc), every=16)
    rw.advance(sc.duration // 2)
    n = rw.events
    rw.step_back()
    assert rw.events == n - 1
    fresh = Run(sc)
    fresh.run(until=sc.duration, max_events=n - 1)
    assert first_difference(fresh.trace, rw.run.trace) is None
    rw.seek_events(0)
    assert rw.events == 0 and len(rw.run.trace) == len(Run(sc).trace)


def test_live_action_after_a_rewind_forks_the_timeline():
    sc = load("transfer")
    _ref, actions = recorded_actions(sc)
    rw = Rewinder(Run(sc), actions, every=8)
    rw.advance(sc.duration)
    old = rw.run.trace.copy()
    rw.seek(30 * MS)                          # after the first action, before the second
    assert len(rw.pending) == 1
    forked = rw.apply({"op": "set_link", "link": "client-router", "param": "loss", "value": 0.5})
    assert forked and rw.pending == []
    rw.advance(sc.duration)
    # The new run kept the past and changed the future; the copy kept the old run intact.
    assert first_difference(old, rw.run.trace) is not None
    assert old.fingerprint() == _ref.trace.fingerprint()
    users = rw.run.trace.indices(EventKind.USER)
    assert len(users) == 2 and rw.timeline[-1][1]["param"] == "loss"
    # Going back before the fork and forward again keeps the new timeline.
    after = rw.run.trace.fingerprint()
    rw.seek(5 * MS)
    rw.advance(sc.duration)
    assert rw.run.trace.fingerprint() == after


def test_fork_without_action_drops_the_future():
    sc = load("transfer")
    _ref, actions = recorded_actions(sc)
    rw = Rewinder(Run(sc), actions, every=8)
    rw.seek(10 * MS)
    assert rw.fork() and rw.pending == []
    rw.advance(sc.duration)
    assert len(rw.run.trace.indices(EventKind.USER)) == 0


def test_rewinder_needs_a_fresh_run():
    sc = load("handshake")
    run = Run(sc)
    run.run(until=MS)
    with pytest.raises(ValueError, match="not run yet"):
        Rewinder(run)
    with pytest.raises(ValueError):
        Rewinder(Run(sc), every=0)


def test_going_back_leaves_the_old_trace_alone():
    """Views and caches keyed on a trace object (snapshot trackers, narrators) must never see
    it change under them: a seek back gives the run a new trace."""
    sc = load("loss")
    rw = Rewinder(Run(sc), every=16)
    rw.advance(sc.duration)
    old = rw.run.trace
    rows, fp = len(old), old.fingerprint()
    conns = [(c.iss, c.irs, c.peer) for c in old.conns]
    rw.seek(int(old.t[rows - 1]) // 3)
    assert rw.run.trace is not old and len(rw.run.trace) < rows
    rw.advance(sc.duration)
    assert rw.run.trace is not old
    assert len(old) == rows and old.fingerprint() == fp
    assert [(c.iss, c.irs, c.peer) for c in old.conns] == conns
    assert rw.run.trace.fingerprint() == fp


def test_trace_copy_is_independent():
    sc = load("handshake")
    run = straight(sc, sc.duration)
    twin = run.trace.copy()
    mark_rows = len(run.trace) // 2
    rw = Rewinder(Run(sc), every=4)
    rw.advance(sc.duration)
    rw.seek_events(3)
    assert twin.fingerprint() == run.trace.fingerprint()
    assert len(rw.run.trace) < len(twin)
    assert mark_rows > 0


@settings(max_examples=15, deadline=None)
@given(points=st.lists(st.floats(0, 1), min_size=1, max_size=5),
       every=st.integers(2, 64))
def test_any_sequence_of_seeks_converges(points, every):
    sc = load("sack")
    ref = straight(sc, sc.duration)
    rw = Rewinder(Run(sc), every=every)
    for p in points:
        rw.seek(int(sc.duration * p))
    rw.advance(sc.duration)
    assert first_difference(ref.trace, rw.run.trace) is None


def test_a_knob_change_does_not_change_the_scenario():
    """A run's links are its own: a set_link action must not leak into the next run of the
    same scenario object (the GUI restarts and replays runs of one scenario)."""
    sc = load("transfer")
    before = Run(sc)
    before.run(until=sc.duration)
    changed = Run(sc)
    changed.run(until=20 * MS)
    changed.apply({"op": "set_link", "link": "router-server", "param": "delay", "value": "30ms"})
    after = Run(sc)
    after.run(until=sc.duration)
    assert after.trace.fingerprint() == before.trace.fingerprint()
