"""Rewinding a run: periodic engine snapshots, seeking to any moment, stepping back, forking.

The engine cannot run backwards, but it is deterministic: the same scenario, seed and user
actions at the same simulated times give the same trace (docs/architecture.md). So a
:class:`Rewinder` drives a :class:`~tcplab.scenario.runner.Run` along a *timeline* of user
actions and, every :attr:`Rewinder.every` engine events, keeps a snapshot: a private deep copy
of the whole engine state (scheduler, links, queues, connections, applications, random
streams), frozen to bytes, and a :class:`~tcplab.trace.store.TraceMark`. Going to a moment restores the newest
snapshot at or before it, rewinds the trace to that snapshot's mark and runs forward, applying
the timeline's actions at their times again. The result is the state the engine had then, and
running on from there gives the same trace as the first time (tests/test_rewind.py checks this
on every built-in scenario).

The trace is not copied into snapshots: it only grows, so a snapshot remembers how long it
was (a mark). Going back re-attaches the restored engine to a new trace holding the record up
to the mark (``Trace.prefix``), and leaves the old trace object as it was: views and caches
keyed on a trace never see one change under them, and a fork can keep the old one to compare.
Going forward again to a moment already reached takes the rows of the longest trace of the
timeline instead of running.

A live action (:meth:`Rewinder.apply`) after a rewind changes what happens next: the actions
that the timeline still held for later are dropped, with the snapshots taken after this moment
(they describe a future that will not happen now). That is a fork; the caller keeps a copy of
the old trace (``Trace.copy``) when it wants to compare the two runs.

Snapshots are taken at multiples of :attr:`Rewinder.every` events. When there are more than
``max_snapshots`` or they hold more than ``max_bytes``, the interval doubles and every other
snapshot goes, so memory stays bounded on long runs while a seek re-executes at most ``every``
events.
"""

from __future__ import annotations

import copy
import gc
import io
import pickle
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from tcplab.apps import Digest
from tcplab.trace.store import TraceMark

#: Engine events between snapshots at the start (bench/bench_rewind.py: a seek re-runs at most
#: this many events, about 60 ms at this machine's event rate).
DEFAULT_EVERY = 4096
#: Snapshots kept before the interval doubles, by count and by the memory they hold.
MAX_SNAPSHOTS = 2048
MAX_BYTES = 160 * 1024 * 1024


@dataclass(frozen=True)
class Snapshot:
    """The engine as it was after ``events`` engine events (simulated time ``time`` ns), with
    ``applied`` actions of the timeline applied. ``state`` is the run frozen to bytes
    (:func:`freeze`); each restore thaws a new run from it, so one snapshot serves any number
    of seeks."""

    events: int
    time: int
    applied: int
    state: Any
    mark: TraceMark


class Rewinder:
    """Runs ``run`` along ``actions`` ((time ns, action) pairs to apply at their times, e.g. a
    session's), keeping snapshots to go back to. ``run`` must not have run yet.

    :attr:`run` is the current run; after a :meth:`seek` that restored a snapshot it is a
    different object, with a different trace."""

    def __init__(self, run, actions=(), every: int = DEFAULT_EVERY,
                 max_snapshots: int = MAX_SNAPSHOTS, max_bytes: int = MAX_BYTES) -> None:
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
        self.max_bytes = max_bytes
        self._snaps: list[Snapshot] = []   # in event order
        self.nbytes = 0                    # memory the snapshots hold (their frozen states)
        #: The longest trace of this timeline, kept when a seek goes back (None before that,
        #: and after a fork: that future will not happen now).
        self._future = None
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
        self._future = None
        del self.timeline[self.applied:]
        self.timeline.append((self.run.actions[-1][0], dict(self.run.actions[-1][1])))
        self.applied = len(self.timeline)
        # Snapshots after this moment show a future without this action.
        events = self.events
        self._keep(lambda s: s.events < events or (s.events == events
                                                   and s.applied == self.applied - 1))
        return forked

    def fork(self) -> bool:
        """Forget the actions the timeline held for later (so the run goes on without them,
        ready for new ones), and the snapshots of that future. Returns whether any were
        dropped."""
        dropped = self.applied < len(self.timeline)
        self._future = None
        del self.timeline[self.applied:]
        events = self.events
        self._keep(lambda s: s.events <= events)
        return dropped

    # -- going back ----------------------------------------------------------------------------
    def seek(self, t_ns: int):
        """The engine as it was at simulated time ``t_ns`` (every event due at or before it
        run, and every action due then applied). Returns the new :attr:`run`."""
        t_ns = max(0, int(t_ns))
        # Actions due at exactly t_ns are applied after the events of t_ns: a snapshot taken
        # at t_ns before one of them is still a good start.
        usable = self._usable()
        times = [s.time for s in usable]
        best = usable[max(0, bisect_right(times, t_ns) - 1)]
        if t_ns < self.run.now or best.events > self.events:
            self._restore(best)
        self.advance(t_ns)
        return self.run

    def seek_events(self, events: int):
        """The engine after exactly ``events`` engine events (0: the start). Returns the new
        :attr:`run`. Actions due before the next event are applied as a normal run would."""
        events = max(0, int(events))
        usable = self._usable()
        best = usable[max(0, bisect_right([s.events for s in usable], events) - 1)]
        if events < self.events or best.events > self.events:
            self._restore(best)
        left = events - self.events
        if left > 0:
            self.advance(self.run.scenario.duration, left)
        return self.run

    def _usable(self) -> list[Snapshot]:
        """Snapshots a seek may restore: those up to the engine's position, and later ones
        whose trace rows the rewinder kept when it went back (:attr:`_future`)."""
        events = self.events
        future = self._future
        return [s for s in self._snaps if s.events <= events
                or (future is not None and s.mark.rows <= len(future))]

    def step_back(self):
        """Undo the last engine event: :meth:`seek_events` to one event fewer."""
        return self.seek_events(max(0, self.events - 1))

    # -- snapshots -----------------------------------------------------------------------------
    def _snapshot(self) -> None:
        run = self.run
        events = self.events
        if any(s.events == events and s.applied == self.applied for s in self._snaps):
            return                          # a re-run through snapshots already taken
        state, digests = freeze(run)
        snap = Snapshot(events, run.now, self.applied, (state, digests), run.trace.mark())
        counts = [s.events for s in self._snaps]
        self._snaps.insert(bisect_right(counts, events), snap)
        self.nbytes += len(state)
        while len(self._snaps) > self.max_snapshots or (self.nbytes > self.max_bytes
                                                         and len(self._snaps) > 2):
            self.every *= 2
            self._keep(lambda s: s.events % self.every == 0)

    def _keep(self, wanted) -> None:
        """Keep the snapshots for which ``wanted(snapshot)`` is true."""
        self._snaps = [s for s in self._snaps if wanted(s)]
        self.nbytes = sum(len(s.state[0]) for s in self._snaps)

    def _restore(self, snap: Snapshot) -> None:
        """Continue from ``snap``: a new run thawed from it, writing into a new trace that
        holds the record up to the snapshot. The old trace is left as it was; the longest one
        of this timeline is kept (:attr:`_future`) so that going forward again takes its rows
        instead of re-running."""
        trace = self.run.trace
        if self._future is None or len(trace) > len(self._future):
            self._future = trace
        source = trace if snap.mark.rows <= len(trace) else self._future
        self.run = thaw(*snap.state, source.prefix(snap.mark), self.run.scenario)
        self.applied = snap.applied


# -- engine state as bytes -----------------------------------------------------------------------
# A snapshot is the run pickled in memory, which is many times faster than copy.deepcopy on a
# busy network (bench/bench_rewind.py) and leaves an immutable record to restore from any
# number of times. It never leaves the process (session files hold data only, see
# docs/session-format.md). What the run shares with the world is not pickled but named: the
# trace and its parts (it is rewound instead), its connection and link records, the scenario.
# Running SHA-256 digests of application data cannot be pickled; they are copied aside.

def _names(run) -> dict[int, tuple]:
    trace = run.trace
    names: dict[int, tuple] = {id(trace): ("trace",), id(run.scenario): ("scenario",)}
    for attr, part in vars(trace).items():
        names[id(part)] = ("trace", attr)
    for i, item in enumerate(trace.conns):
        names[id(item)] = ("conn", i)
    for i, item in enumerate(trace.links):
        names[id(item)] = ("link", i)
    return names


class _NoCollection:
    """The cyclic garbage collector paused: (un)pickling makes thousands of objects at once,
    and each burst would otherwise set off a full collection over the whole trace's packets
    (tens of milliseconds on a long run)."""

    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc) -> None:
        if self.was:
            gc.enable()


def freeze(run) -> tuple[bytes, list]:
    """The engine state of ``run`` as bytes, and the digests kept aside (see above)."""
    names = _names(run)
    digests: list = []

    class _Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if type(obj) is Digest:
                digests.append(copy.deepcopy(obj))
                return ("digest", len(digests) - 1)
            return names.get(id(obj))

    out = io.BytesIO()
    with _NoCollection():
        _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(run)
    return out.getvalue(), digests


def thaw(state: bytes, digests: list, trace, scenario):
    """A new run from :func:`freeze`'s bytes, attached to ``trace`` and ``scenario``."""

    class _Unpickler(pickle.Unpickler):
        def persistent_load(self, pid):
            what = pid[0]
            if what == "trace":
                return trace if len(pid) == 1 else getattr(trace, pid[1])
            if what == "scenario":
                return scenario
            if what == "conn":
                return trace.conns[pid[1]]
            if what == "link":
                return trace.links[pid[1]]
            if what == "digest":
                return copy.deepcopy(digests[pid[1]])
            raise pickle.UnpicklingError(f"unknown shared object {pid!r}")

    with _NoCollection():
        return _Unpickler(io.BytesIO(state)).load()
