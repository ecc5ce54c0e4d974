"""The engine controller: paces a :class:`Run` from a QTimer and hands the views trace batches.

The engine knows nothing of wall time. Each frame (a QTimer tick, about 60 per second) the
controller turns the wall time since the last frame into simulated time at the chosen speed,
asks the engine to run up to that moment, and announces the new trace rows once, as a batch
(``advanced(first, end)``): views read rows ``[first, end)`` from the trace. There is never
one signal per packet or per event.

A frame has a budget of engine work (``frame_budget_s``): the engine runs in chunks of events
sized from its measured event rate until the simulated target is reached or the budget is
spent, so the window stays responsive even when the engine cannot keep up ("as fast as
possible" is exactly that).
"""

from __future__ import annotations

import gc
import time
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from tcplab.scenario.runner import Run
from tcplab.scenario.spec import Scenario
from tcplab.session.rewind import Rewinder
from tcplab.sim.clock import SEC
from tcplab.trace.events import EventKind

#: Speeds offered in the GUI: simulated seconds per wall second. ``None`` is "as fast as possible".
SPEEDS: tuple[float | None, ...] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0, None)
DEFAULT_SPEED = 0.05

_SEGMENT_KINDS = (int(EventKind.SEG_SENT), int(EventKind.SEG_RECV))


def speed_label(speed: float | None) -> str:
    """``0.05`` -> ``"0.05x"``, ``None`` -> ``"max"``."""
    if speed is None:
        return "max"
    return f"{speed:g}x"


class EngineController(QObject):
    """Owns the current run and drives it. Signals:

    ``reset(run)``: a new run replaced the old one (views clear and start over; None: no run);
    ``advanced(first, end)``: trace rows ``[first, end)`` are new;
    ``playingChanged(bool)``; ``finished()``: nothing more can happen in this run;
    ``actionApplied(dict)``: a user action went into the run;
    ``forked(int)``: that action took the run another way: this many recorded actions that
    were due later are dropped (a replayed session, or a run taken back in time);
    ``jumped(run)``: the engine went to another moment of the same course (a seek, a step
    back); the views keep :attr:`display` and look at the engine's time;
    ``error(str)``: something the user asked for cannot be done (the message says why).

    The run is driven through a :class:`~tcplab.session.rewind.Rewinder`: it applies recorded
    actions at their times and keeps engine snapshots, so :meth:`seek`, :meth:`step_back` and
    :meth:`fork` can take the engine back to any moment it has passed.

    The views read :attr:`display`, not the engine's trace. Usually they are the same object.
    After a seek back the engine writes into a new, shorter trace while the display keeps the
    whole course: being deterministic, the engine makes the same rows again, so the views need
    not start over (``jumped`` instead of ``reset``: they only look at the engine's time), and
    the rows the engine makes beyond the display's end are copied into it and announced as
    usual. When the course changes (a fork, a user action while the display holds rows the
    engine has not made again) the display becomes the engine's trace and ``reset`` is
    emitted.
    """

    reset = Signal(object)
    advanced = Signal(int, int)
    playingChanged = Signal(bool)
    finished = Signal()
    actionApplied = Signal(dict)
    forked = Signal(int)
    jumped = Signal(object)
    error = Signal(str)

    FRAME_MS = 16

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rewinder: Rewinder | None = None
        self.display = None             # the trace the views read (see the class docstring)
        self.scenario: Scenario | None = None
        self.seed: int | None = None
        self.speed: float | None = DEFAULT_SPEED
        self.frame_budget_s = 0.008     # engine time per frame; views and paint get the rest
        self._event_rate = 50_000.0     # engine events per wall second, measured as it runs
        self._published = 0             # trace rows already announced
        self._timer = QTimer(self)
        self._timer.setInterval(self.FRAME_MS)
        self._timer.timeout.connect(self._tick)
        self._last_wall = 0.0
        self._sim_target = 0.0          # fractional ns carried between frames
        self.last_frame_s = 0.0         # engine time spent in the last frame
        self._frames = 0

    # -- loading -----------------------------------------------------------------------------
    def load(self, scenario: Scenario, seed: int | None = None,
             actions: list | tuple = ()) -> None:
        """Build a fresh run of ``scenario`` (with ``seed``, default the scenario's). Recorded
        ``actions`` ((t ns, action) pairs, e.g. from a session file) are applied at their times
        as the run plays, so the run repeats the recorded one exactly."""
        self.pause()
        gc.unfreeze()      # the previous run's objects may be collected again (see _tick)
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.rewinder = Rewinder(Run(scenario, seed=self.seed), actions)
        self.display = self.run.trace
        self._published = 0
        self._sim_target = 0.0
        self.reset.emit(self.run)
        self._publish()

    def unload(self) -> None:
        """Forget the run (the scenario is being edited into something that cannot run)."""
        self.pause()
        self.rewinder = None
        self.display = None
        self.scenario = None
        self._published = 0
        self.reset.emit(None)

    def restart(self, seed: int | None = None) -> None:
        """Run the same scenario again from time zero, with ``seed`` or the current one (the
        user's actions of the previous run are not repeated)."""
        if self.scenario is not None:
            self.load(self.scenario, self.seed if seed is None else seed)

    @property
    def run(self) -> Run | None:
        """The run being shown (a new object after each seek back)."""
        return self.rewinder.run if self.rewinder is not None else None

    @property
    def pending_actions(self) -> int:
        """Recorded actions still to apply as the run goes on."""
        return len(self.rewinder.pending) if self.rewinder is not None else 0

    def _run(self, until: int, max_events: int | None = None) -> int:
        """Advance the engine to ``until`` (at most ``max_events`` events), applying recorded
        actions at their times and taking snapshots. Returns the number of events run."""
        return self.rewinder.advance(until, max_events)

    # -- going back --------------------------------------------------------------------------
    def seek(self, t_ns: int, keep_future: bool = True) -> bool:
        """Put the engine where it was (or will be) at simulated time ``t_ns``: back through a
        snapshot, or forward by running. The views keep what they show and look at the new
        time. Without ``keep_future`` the user actions recorded after ``t_ns`` are forgotten
        (as if they had not been made yet) and the views start over from the engine's trace."""
        if self.run is None:
            return False
        self.pause()
        self.rewinder.seek(max(0, min(int(t_ns), self.run.scenario.duration)))
        if not keep_future:
            self.rewinder.fork()
        self._after_jump(same_course=keep_future)
        return True

    def step_back(self) -> bool:
        """Undo the last engine event (the engine goes back one event)."""
        if self.run is None or self.rewinder.events == 0:
            return False
        self.pause()
        self.rewinder.step_back()
        self._after_jump(same_course=True)
        return True

    def fork(self, t_ns: int | None = None):
        """Go to ``t_ns`` (default: where the engine is) and drop the recorded actions after it,
        so that the run can take another course from there. Returns the trace of the course so
        far (to compare the two runs; it is not written to again), or None when there is no
        run."""
        if self.run is None:
            return None
        self.pause()
        before = self.display
        if t_ns is not None:
            self.rewinder.seek(max(0, min(int(t_ns), self.run.scenario.duration)))
        self.rewinder.fork()
        if before is self.run.trace:
            before = before.copy()          # the engine goes on writing into this one
        self._after_jump(same_course=False)
        return before

    def _after_jump(self, same_course: bool) -> None:
        """After a seek: on the same course the views keep the display and look at the
        engine's time (``jumped``); else they start over from the engine's trace."""
        self._sim_target = float(self.run.now)
        if same_course and self.display is not None:
            self.jumped.emit(self.run)
        else:
            self._restart_display()
        self._publish()

    def _restart_display(self) -> None:
        self.display = self.run.trace
        self._published = 0
        self.reset.emit(self.run)

    # -- state -------------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    @property
    def now(self) -> int:
        return self.run.now if self.run is not None else 0

    @property
    def at_end(self) -> bool:
        """Nothing more will happen: no pending event, or the scenario's duration is reached."""
        run = self.run
        if run is None:
            return True
        nxt = run.next_time()
        return nxt is None or nxt > run.scenario.duration

    def set_speed(self, speed: float | None) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed

    # -- run controls ------------------------------------------------------------------------
    def play(self) -> None:
        if self.run is None or self.playing:
            return
        if self.at_end:
            self.finished.emit()
            return
        self._last_wall = time.perf_counter()
        self._sim_target = float(self.run.now)
        self._timer.start()
        self.playingChanged.emit(True)

    def pause(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self.playingChanged.emit(False)

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def step_event(self) -> bool:
        """Run exactly one engine event. Returns False when there is none left."""
        if self.run is None or self.at_end:
            self.finished.emit()
            return False
        self.pause()
        self._run(self.run.scenario.duration, 1)
        self._publish()
        return True

    def step_segment(self, limit: int = 200_000) -> bool:
        """Run until an endpoint sends or receives a segment (at most ``limit`` events)."""
        run = self.run
        if run is None or self.at_end:
            self.finished.emit()
            return False
        self.pause()
        trace = run.trace
        start = len(trace)
        kinds = trace.kind
        for _ in range(limit):
            if self.at_end:
                break
            before = len(trace)
            self._run(run.scenario.duration, 1)
            if any(kinds[i] in _SEGMENT_KINDS for i in range(before, len(trace))):
                break
        self._publish()
        if self.at_end:
            self.finished.emit()
        return len(trace) > start

    def run_to(self, t_ns: int) -> None:
        """Advance the engine to simulated time ``t_ns`` (used by "run to the end" and tests)."""
        if self.run is None:
            return
        self._run(min(t_ns, self.run.scenario.duration))
        self._publish()

    def run_chunk(self, until: int, max_events: int) -> None:
        """Run at most ``max_events`` engine events towards ``until`` and announce the rows (a
        long run in steps, e.g. under a progress dialog)."""
        if self.run is not None:
            self._run(min(until, self.run.scenario.duration), max_events)
            self._publish()

    def apply(self, action: dict[str, Any]) -> bool:
        """Apply a user action now (``Run.apply``); a refusal comes back as ``error``."""
        if self.run is None:
            self.error.emit("Nothing is running: open or fix the scenario first")
            return False
        dropped = len(self.rewinder.pending)
        ahead = len(self.display) > len(self.run.trace)   # the views show rows not made again
        try:
            self.rewinder.apply(action)
        except (ValueError, KeyError) as e:
            self.error.emit(str(e).strip("'\""))
            return False
        if ahead:
            self._restart_display()         # what they show after now will not happen
        self.actionApplied.emit(dict(action))
        if dropped:
            self.forked.emit(dropped)
        self._publish()
        return True

    # -- pacing ------------------------------------------------------------------------------
    def _tick(self) -> None:
        run = self.run
        if run is None:
            self.pause()
            return
        wall = time.perf_counter()
        dt = max(0.0, min(wall - self._last_wall, 0.25))   # a stalled frame does not jump ahead
        self._last_wall = wall
        duration = run.scenario.duration
        deadline = wall + self.frame_budget_s
        if self.speed is None:
            target = duration
        else:
            self._sim_target = max(self._sim_target, float(run.now)) + dt * self.speed * SEC
            target = min(int(self._sim_target), duration)
        # Run in chunks sized from the measured event rate so that one chunk takes about a
        # quarter of the budget: the frame ends close to its deadline, never far past it.
        while True:
            left = deadline - time.perf_counter()
            chunk = max(32, min(50_000, int(self._event_rate * left / 4)))
            t0 = time.perf_counter()
            n = self._run(target, chunk)
            spent = time.perf_counter() - t0
            if n >= 32 and spent > 0:
                self._event_rate = 0.7 * self._event_rate + 0.3 * (n / spent)
            if n < chunk or run.now >= target or time.perf_counter() >= deadline:
                break
        self.last_frame_s = time.perf_counter() - wall
        self._frames += 1
        if self._frames % 30 == 0:
            # The trace keeps every packet for the run's lifetime. Moving what exists now out of
            # the collector's view keeps its full passes (30-50 ms with a large trace) out of
            # the frames; ``load`` gives the objects back when the run is replaced.
            gc.freeze()
        self._publish()
        if self.at_end:
            self.pause()
            self.finished.emit()

    def _publish(self) -> None:
        """Announce the display's new rows (copying into it what the engine made beyond its
        end), with the engine's clock: views move their cursor to it even with no new row."""
        if self.run is None:
            return
        made, display = self.run.trace, self.display
        if made is not display and len(made) > len(display):
            display.take_rows_from(made)
        end = len(display)
        first = min(self._published, end)
        self._published = end
        self.advanced.emit(first, end)
