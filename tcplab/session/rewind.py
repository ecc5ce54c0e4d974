"""Rewinding a run: periodic engine snapshots, seeking to any moment, stepping back, forking.

The engine cannot run backwards, but it is deterministic: the same scenario, seed and user
actions at the same simulated times give the same trace (docs/architecture.md). So a
:class:`Rewinder` drives a :class:`~tcplab.scenario.runner.Run` along a *timeline* of user
actions and, every :attr:`Rewinder.every` engine events, keeps a snapshot: a private deep copy
of the whole engine state (scheduler, links, queues, connections, applications, random
streams) and a :class:`~tcplab.trace.store.TraceMark`. Going to a moment restores the newest
snapshot at or before it, rewinds the trace to that snapshot's mark and runs forward, applying
the timeline's actions at their times again. The result is the state the engine had then, and
running on from there gives the same trace as the first time (tests/test_rewind.py checks this
on every built-in scenario).

The trace is not copied into snapshots: it only grows, so a snapshot remembers how long it
was (the mark) and rewinding cuts it back. Its packets, connection and link records are shared
with the snapshots for the same reason.

A live action (:meth:`Rewinder.apply`) after a rewind changes what happens next: the actions
that the timeline still held for later are dropped, with the snapshots taken after this moment
(they describe a future that will not happen now). That is a fork; the caller keeps a copy of
the old trace (``Trace.copy``) when it wants to compare the two runs.

Snapshots are taken at multiples of :attr:`Rewinder.every` events. When there are more than
``max_snapshots``, the interval doubles and every other snapshot goes, so memory stays bounded
on long runs while a seek re-executes at most ``every`` events.
"""

from __future__ import annotations

import copy
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from tcplab.trace.store import TraceMark

#: Engine events between snapshots at the start (bench/bench_rewind.py: a seek re-runs at most
#: this many events, about 60 ms at this machine's event rate).
DEFAULT_EVERY = 4096
#: Snapshots kept before the interval doubles.
MAX_SNAPSHOTS = 192


@dataclass(frozen=True)
class Snapshot:
    """The engine as it was after ``events`` engine events (simulated time ``time`` ns), with
    ``applied`` actions of the timeline applied. ``state`` is a private copy of the run; it is
    copied again when restored, so one snapshot serves any number of seeks."""

    events: int
    time: int
    applied: int
    state: Any
    mark: TraceMark


class Rewinder:
    """Runs ``run`` along ``actions`` ((time ns, action) pairs to apply at their times, e.g. a
    session's), keeping snapshots to go back to. ``run`` must not have run yet.

    :attr:`run` is the current run; it is a different object after every :meth:`seek` (the
    trace object stays the same, rewound)."""

    def __init__(self, run, actions=(), every: int = DEFAULT_EVERY,
                 max_snapshots: int = MAX_SNAPSHOTS) -> None:
        if every < 1 or max_snapshots < 2:
            raise ValueError("snapshots need every >= 1 and max_snapshots >= 2")
        if run.net.sched.events_processed or len(run.actions):
            raise ValueError("a Rewinder starts with a run that has not run yet")
        self.run = run
        self.timeline: list[tuple[int, dict]] = sorted(
            ((int(t), dict(a)) for t, a in actions), key=lambda x: x[0])
        self.applied = 0                   # actions of the timeline applied so far
        self.every = every
        self.max_snapshots = max_snapshots
        self._snaps: list[Snapshot] = []   # in event order
        self._snapshot()

    # -- what it holds -------------------------------------------------------------------------
    @property
    def events(self) -> int:
        """Engine events run so far (the engine's position)."""
        return self.run.net.sched.events_processed

    @property
    def pending(self) -> list[tuple[int, dict]]:
        """Actions of the timeline still to apply, in time order."""
        return self.timeline[self.applied:]

    @property
    def snapshots(self) -> tuple[Snapshot, ...]:
        return tuple(self._snaps)

    # -- going forward -------------------------------------------------------------------------
    def advance(self, until: int, max_events: int | None = None) -> int:
        """Run to simulated time ``until`` (every event due at or before it), or until
        ``max_events`` events have run, applying the timeline's actions at their times and
        taking snapshots on the way. Returns the number of events run."""
        total = 0
        while self.applied < len(self.timeline) and self.timeline[self.applied][0] <= until:
            t, action = self.timeline[self.applied]
            n, done = self._run_to(t, None if max_events is None else max_events - total)
            total += n
            if not done:
                return total                # the budget ran out before the action's time
            self.run.apply(action)
            self.applied += 1
        n, _ = self._run_to(until, None if max_events is None else max_events - total)
        return total + n

    def _run_to(self, until: int, budget: int | None) -> tuple[int, bool]:
        """Run towards ``until`` in pieces that end on snapshot boundaries; returns (events
        run, whether ``until`` was reached)."""
        run = self.run
        sched = run.net.sched
        total = 0
        while budget is None or total < budget:
            done = sched.events_processed
            step = self.every - done % self.every
            if budget is not None:
                step = min(step, budget - total)
            n = run.run(until=until, max_events=step)
            total += n
            if sched.events_processed % self.every == 0 and n:
                self._snapshot()
            if n < step:
                return total, True
        return total, False

    def apply(self, action: dict) -> bool:
        """Apply a live action now (``Run.apply``; its errors propagate). Returns True when
        this forked the timeline: later actions it held were dropped."""
        self.run.apply(action)
        forked = self.applied < len(self.timeline)
        del self.timeline[self.applied:]
        self.timeline.append((self.run.actions[-1][0], dict(self.run.actions[-1][1])))
        self.applied = len(self.timeline)
        # Snapshots after this moment show a future without this action.
        events = self.events
        self._snaps = [s for s in self._snaps if s.events <= events and
                       (s.events < events or s.applied == self.applied - 1)]
        return forked

    def fork(self) -> bool:
        """Forget the actions the timeline held for later (so the run goes on without them,
        ready for new ones), and the snapshots of that future. Returns whether any were
        dropped."""
        dropped = self.applied < len(self.timeline)
        del self.timeline[self.applied:]
        events = self.events
        self._snaps = [s for s in self._snaps if s.events <= events]
        return dropped

    # -- going back ----------------------------------------------------------------------------
    def seek(self, t_ns: int):
        """The engine as it was at simulated time ``t_ns`` (every event due at or before it
        run, and every action due then applied). Returns the new :attr:`run`."""
        t_ns = max(0, int(t_ns))
        if t_ns < self.run.now:
            # The newest snapshot at or before t_ns (snapshots later than the engine's
            # position need trace rows that a rewind has cut). Actions due at exactly t_ns
            # are applied after the events of t_ns: a snapshot taken at t_ns before one of them
            # is still a good start.
            events = self.events
            times = [s.time for s in self._snaps if s.events <= events]
            self._restore(self._snaps[max(0, bisect_right(times, t_ns) - 1)])
        self.advance(t_ns)
        return self.run

    def seek_events(self, events: int):
        """The engine after exactly ``events`` engine events (0: the start). Returns the new
        :attr:`run`. Actions due before the next event are applied as a normal run would."""
        events = max(0, int(events))
        if events < self.events:
            counts = [s.events for s in self._snaps]
            self._restore(self._snaps[max(0, bisect_right(counts, events) - 1)])
        left = events - self.events
        if left > 0:
            self.advance(self.run.scenario.duration, left)
        return self.run

    def step_back(self):
        """Undo the last engine event: :meth:`seek_events` to one event fewer."""
        return self.seek_events(max(0, self.events - 1))

    # -- snapshots -----------------------------------------------------------------------------
    def _shared(self, run) -> dict[int, Any]:
        """What snapshots share instead of copying: the trace and its records, the scenario."""
        trace = run.trace
        memo: dict[int, Any] = {id(trace): trace, id(run.scenario): run.scenario}
        # Engine objects keep some of the trace's parts at hand (a channel's bound
        # ``trace.push``, whose copy would otherwise copy the row array behind it).
        for part in vars(trace).values():
            memo[id(part)] = part
        for item in trace.conns:
            memo[id(item)] = item
        for item in trace.links:
            memo[id(item)] = item
        return memo

    def _snapshot(self) -> None:
        run = self.run
        events = self.events
        if self._snaps and self._snaps[-1].events >= events:
            if self._snaps[-1].events == events and self._snaps[-1].applied == self.applied:
                return                      # already have this one (a re-run after a seek)
            # A re-run through snapshots already taken: keep the existing ones.
            if any(s.events == events and s.applied == self.applied for s in self._snaps):
                return
        state = copy.deepcopy(run, self._shared(run))
        snap = Snapshot(events, run.now, self.applied, state, run.trace.mark())
        counts = [s.events for s in self._snaps]
        self._snaps.insert(bisect_right(counts, events), snap)
        if len(self._snaps) > self.max_snapshots:
            self.every *= 2
            self._snaps = [s for s in self._snaps if s.events % self.every == 0]

    def _restore(self, snap: Snapshot) -> None:
        trace = self.run.trace
        trace.rewind(snap.mark)
        self.run = copy.deepcopy(snap.state, self._shared(snap.state))
        self.applied = snap.applied
