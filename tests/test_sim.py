"""The simulation kernel: ordering, cancellation, run(until), named random streams."""

from hypothesis import given, strategies as st

from tcplab.sim import MS, SEC, RandomStreams, Scheduler
from tcplab.sim.clock import fmt_duration, fmt_time, ns_from_seconds


def test_events_run_in_time_then_insertion_order():
    s = Scheduler()
    out = []
    s.schedule(5, out.append, "b5")
    s.schedule(1, out.append, "a1")
    s.schedule(5, out.append, "c5")
    s.schedule_at(0, out.append, "z0")
    s.run()
    assert out == ["z0", "a1", "b5", "c5"]
    assert s.now == 5
    assert s.events_processed == 4


def test_cancelled_handle_never_runs_and_peek_skips_it():
    s = Scheduler()
    out = []
    h = s.schedule(10, out.append, "x")
    s.schedule(20, out.append, "y")
    h.cancel()
    h.cancel()  # harmless twice
    assert s.peek() == 20
    assert s.pending() == 1
    s.run()
    assert out == ["y"]


def test_cancel_after_run_is_harmless():
    s = Scheduler()
    out = []
    h = s.schedule(1, out.append, 1)
    s.run()
    h.cancel()
    assert out == [1]


def test_run_until_stops_and_sets_clock():
    s = Scheduler()
    out = []
    for t in (1 * MS, 2 * MS, 3 * MS):
        s.schedule_at(t, out.append, t)
    n = s.run(until=2 * MS)
    assert n == 2 and out == [1 * MS, 2 * MS]
    assert s.now == 2 * MS
    s.run(until=10 * MS)
    assert out[-1] == 3 * MS and s.now == 10 * MS


def test_run_max_events_and_step():
    s = Scheduler()
    out = []
    for t in range(5):
        s.schedule_at(t, out.append, t)
    assert s.run(max_events=2) == 2
    assert out == [0, 1]
    assert s.step() is True
    assert out == [0, 1, 2]
    s.run()
    assert s.step() is False


def test_events_scheduled_from_callbacks_at_same_time_run_after():
    s = Scheduler()
    out = []

    def first():
        out.append("first")
        s.schedule(0, out.append, "child")

    s.schedule(0, first)
    s.schedule(0, out.append, "second")
    s.run()
    assert out == ["first", "second", "child"]


def test_scheduling_in_the_past_is_refused():
    s = Scheduler()
    s.schedule(10, lambda: None)
    s.run()
    try:
        s.schedule_at(5, lambda: None)
    except ValueError as e:
        assert "before now" in str(e)
    else:
        raise AssertionError("expected ValueError")


@given(st.integers(0, 2**63 - 1), st.text(min_size=1, max_size=20))
def test_named_streams_are_reproducible_and_independent(seed, name):
    a = RandomStreams(seed)
    b = RandomStreams(seed)
    b.stream("other").random()  # using another stream first must not shift this one
    assert [a.stream(name).random() for _ in range(3)] == [b.stream(name).random() for _ in range(3)]


def test_different_seeds_differ():
    assert RandomStreams(1).stream("x").random() != RandomStreams(2).stream("x").random()


def test_time_formatting():
    assert ns_from_seconds(1.5) == 1_500_000_000
    assert fmt_time(1_234_567_891) == "1.234567 s"
    assert fmt_duration(200 * MS) == "200 ms"
    assert fmt_duration(2 * SEC) == "2 s"


def test_run_without_advance_stays_at_last_event_when_idle():
    s = Scheduler()
    s.schedule_at(5, lambda: None)
    s.run(until=100, advance=False)
    assert s.now == 5
    s.schedule_at(50, lambda: None)
    s.schedule_at(500, lambda: None)
    s.run(until=100, advance=False)
    assert s.now == 100          # something is still pending: the clock moves to until
