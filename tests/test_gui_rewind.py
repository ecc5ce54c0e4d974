"""Going back in the window: step back one event, put the engine at the cursor, fork from a
moment and compare both runs in the time-sequence graph and the plots, seek in a session
beyond what has been replayed."""

from __future__ import annotations

import guikit  # noqa: F401  (offscreen platform)
import numpy as np

from test_gui import dialogs, home, window  # noqa: F401  (fixtures)
from tcplab.scenario.runner import Run
from tcplab.session.replay import first_difference
from tcplab.trace.events import EventKind

MS = 1_000_000


def straight(c, until):
    run = Run(c.scenario, seed=c.seed)
    run.run(until=until)
    return run


def test_step_back_undoes_an_event_and_the_views_follow(window):
    c = window.controller
    c.run_to(30 * MS)
    n = c.rewinder.events
    rows = len(c.run.trace)
    window.actions_by_key["step_back"].trigger()
    assert c.rewinder.events == n - 1
    assert len(c.run.trace) <= rows
    fresh = Run(c.scenario, seed=c.seed)
    fresh.run(until=c.scenario.duration, max_events=n - 1)
    assert first_difference(fresh.trace, c.run.trace) is None
    # The views keep the course they show (the engine makes the same rows again) and look
    # at the engine's time: the cursor follows it through the rows already known.
    ctx = window.context
    assert ctx.trace is c.display and ctx.trace is not c.run.trace
    assert ctx.trace.matrix(0, len(c.run.trace)).tolist() == c.run.trace.matrix().tolist()
    assert ctx.cursor == c.now and (ctx.following or ctx.live)
    window.controller.step_event()
    assert c.rewinder.events == n and ctx.cursor == c.now
    c.run_to(c.scenario.duration)            # past the known rows: live again, rows copied
    assert ctx.live and not ctx.following
    assert ctx.trace.fingerprint() == c.run.trace.fingerprint()


def test_go_to_the_cursor_then_play_on_repeats_the_run(window):
    c = window.controller
    end = c.scenario.duration
    c.run_to(end)
    full = c.run.trace.fingerprint()
    window.context.set_cursor(end // 3)
    assert not window.context.live
    window.actions_by_key["seek_cursor"].trigger()
    ctx = window.context
    assert c.now <= end // 3 and ctx.cursor == c.now
    assert ctx.following and not ctx.live           # rows after it are known: followed again
    part = straight(c, end // 3)
    assert first_difference(part.trace, c.run.trace, end // 3) is None
    c.run_to(end)
    assert c.run.trace.fingerprint() == full
    assert ctx.live and ctx.trace.fingerprint() == full


def test_fork_from_here_compares_both_runs(window, qtbot):
    window.open_builtin("transfer")
    c = window.controller
    end = c.scenario.duration
    original = straight(c, end).trace
    c.run_to(end // 4)
    window.actions_by_key["fork"].trigger()
    ctx = window.context
    # The comparison is the first course to its end; the engine is back at the fork.
    assert ctx.baseline is not None
    assert ctx.baseline.fingerprint() == original.fingerprint()
    assert c.now <= end // 4 and "fork" in ctx.baseline_label
    # A different course: heavy loss on the client's link from now on.
    window.knobs.link.setCurrentText("client-router")
    window.knobs.spins["loss"].setValue(30.0)
    assert c.run.actions and c.run.actions[-1][1]["param"] == "loss"
    c.run_to(end)
    assert first_difference(original, c.run.trace) is not None
    tsg, plots = window.views["tsg"], window.views["plots"]
    for view in (tsg, plots):
        window.docks["tsg" if view is tsg else "plots"].raise_()
        qtbot.wait(30)
        assert view.compare_note.isVisible()
        assert "fork" in view.compare_note.text()
    # The grey curves hold the original run's data: the same segments the original sent.
    conn = tsg.direction()
    m = original.matrix()
    data = m[(m[:, 1] == int(EventKind.SEG_SENT)) & (m[:, 3] == conn) & (m[:, 7] > 0)]
    shown = np.concatenate([tsg.ghosts[k].getData()[0] for k in ("data", "retx")
                            if tsg.ghosts[k].getData()[0] is not None])
    assert len(data) > 3
    assert sorted(set(shown.tolist())) == sorted(set((data[:, 0] / 1e9).tolist()))
    cx, _ = plots.ghosts["cwnd"].getData()
    assert cx is not None and len(cx) > 1
    # Cleared on request, and by a new scenario.
    window.actions_by_key["clear_compare"].trigger()
    assert ctx.baseline is None and not tsg.compare_note.isVisible()
    x, _ = tsg.ghosts["data"].getData()
    assert x is None or len(x) == 0


def test_a_session_can_be_sought_beyond_the_replay(window, tmp_path):
    c = window.controller
    c.run_to(c.scenario.duration)
    recorded = c.run.trace.fingerprint()
    path = window.save_session(str(tmp_path / "s"))
    window.file_new()
    assert window.open_path(path)
    assert c.now == 0 and window.context.horizon > 0
    # Dragging the cursor to three quarters of the session runs the engine there.
    window.timeline.slider.setValue(7_500)
    assert c.now >= window.context.horizon * 0.7
    window.timeline.slider.setValue(2_000)            # back: the views look at the past
    assert not window.context.live
    c.run_to(c.scenario.duration)
    assert c.run.trace.fingerprint() == recorded


def test_a_change_in_a_replay_drops_later_actions_and_saves_what_happened(window, tmp_path):
    """Changing a knob while a session's later actions are still to come takes the run
    another way: they are dropped, the status bar says so, and the session saved afterwards
    replays exactly what happened."""
    from tcplab.session import load_session, replay
    c = window.controller
    c.run_to(20 * MS)
    window.knobs.link.setCurrentText("router-server")
    window.knobs.spins["delay"].setValue(35.0)          # a recorded action at 20 ms
    c.run_to(c.scenario.duration)
    path = window.save_session(str(tmp_path / "first"))
    window.file_new()
    assert window.open_path(path) and c.pending_actions == 1
    c.run_to(10 * MS)                                   # before the recorded action
    window.knobs.link.setCurrentText("client-router")
    window.knobs.spins["loss"].setValue(20.0)
    assert c.pending_actions == 0
    assert "will not happen" in window.statusBar().currentMessage()
    c.run_to(c.scenario.duration)
    again = window.save_session(str(tmp_path / "second"))
    session = load_session(again)
    assert [a["param"] for _t, a in session.actions] == ["loss"]
    run = replay(session)                               # raises if it differs
    assert run.trace.fingerprint() == c.run.trace.fingerprint()


def test_fork_then_save_replays_the_new_course(window, tmp_path):
    from tcplab.session import load_session, replay
    window.open_builtin("transfer")
    c = window.controller
    c.run_to(c.scenario.duration)
    window.context.set_cursor(12 * MS)
    window.actions_by_key["fork"].trigger()
    window.knobs.link.setCurrentText("router-server")
    window.knobs.spins["delay"].setValue(40.0)
    c.run_to(c.scenario.duration)
    session = load_session(window.save_session(str(tmp_path / "fork")))
    assert replay(session).trace.fingerprint() == c.run.trace.fingerprint()


def test_a_long_run_shows_progress_and_can_be_cancelled(window, monkeypatch):
    from PySide6.QtWidgets import QProgressDialog
    window.open_builtin("bulk")
    shown, cancel = [], [True]
    monkeypatch.setattr(QProgressDialog, "wasCanceled",
                        lambda self: shown.append(1) or cancel[0])
    window.run_to_end()
    c = window.controller
    assert shown and not c.at_end and 0 < c.now < c.scenario.duration
    cancel[0] = False
    window.run_to_end()
    assert c.at_end
