"""Presenter mode (issue 6): a whole lesson stepped through with clicker keys in a LabWindow;
screenshots of a real 1920x1080 full screen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from guikit import QtMessages, distinct_colors

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QInputDialog,  # noqa: E402
                               QMessageBox)

from tcplab import lessons as L  # noqa: E402
from tcplab.gui import presenter as P  # noqa: E402
from tcplab.gui.mainwindow import LabWindow  # noqa: E402
from tcplab.gui.theme import LIGHT  # noqa: E402
from tcplab.scenario.runner import Run  # noqa: E402
from tcplab.trace.events import EventKind  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ["TCPLAB_SHOTS"]) if os.environ.get("TCPLAB_SHOTS") else None


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("TCPLAB_HOME", str(h))
    return h


@pytest.fixture
def dialogs(monkeypatch):
    asked: dict = {"question": [], "warning": [], "open_path": ""}
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: asked["question"].append(a[2])
                                     or QMessageBox.Discard))
    monkeypatch.setattr(QMessageBox, "warning",
                        staticmethod(lambda *a, **k: asked["warning"].append(a[2])
                                     or QMessageBox.Ok))
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (asked["open_path"], "")))
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("", False)))
    return asked


@pytest.fixture
def window(qtbot, home, dialogs):
    w = LabWindow()
    P.install(w)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.presenter.stop()          # never leave the application's font and theme changed
    w.controller.pause()


@pytest.fixture
def qt_messages():
    with QtMessages() as messages:
        yield messages


def settle(qtbot, presenter, timeout=20_000):
    qtbot.waitUntil(lambda: not presenter.playing, timeout=timeout)


def visible_docks(w) -> set[str]:
    return {k for k, d in w.docks.items() if d.isVisible()}


# ------------------------------------------------------------------------------ the menu
def test_install_adds_the_lessons_menu(window):
    bar = window.menuBar()
    titles = [a.text() for a in bar.actions()]
    assert titles.index("&Lessons") == titles.index("&Help") - 1
    menu = window.lessons_menu
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts[0] == "&1. The three-way handshake"
    assert texts[9].startswith("1&0. CUBIC versus Reno")
    assert texts[10:] == ["&Open Lesson File…", "&Presenter Mode"]
    action = window.actions_by_key["presenter"]
    assert action.shortcut().toString() == "F5" and action.isCheckable()


# ------------------------------------------------------------------------------ a lesson
def test_a_whole_lesson_with_the_clicker(window, qtbot, qt_messages):
    app = QApplication.instance()
    pr = window.presenter
    pr.speed_scale = 10.0           # 0.1x instead of 0.01x: a step plays in a third of a second
    font_before = app.font().pointSizeF()
    docks_before = visible_docks(window)
    size_before = window.size()
    assert window.theme is LIGHT and not window.isFullScreen()

    qt_messages.messages.clear()            # Qt warns of nothing while presenting
    qtbot.keyClick(window, Qt.Key_F5)       # the first built-in lesson
    lesson = pr.lesson
    assert pr.active and lesson.name == "01-handshake"
    assert window.actions_by_key["presenter"].isChecked()
    assert window.isFullScreen() and window.actions_by_key["fullscreen"].isChecked()
    assert window.theme is P.PRESENTER and app.font().pointSizeF() >= font_before * 1.4
    assert {"properties", "knobs", "connections"}.isdisjoint(visible_docks(window))
    assert window.docks["ladder"].isVisible()
    bar = pr.bar
    assert bar.title.text() == lesson.title
    assert bar.caption.text() == lesson.description
    assert bar.counter.text() == "0 / 5"
    assert window.controller.now == 0 and window.controller.run.net.sched.events_processed == 0

    stops = lesson.stop_times()
    n = len(lesson.steps)
    seen_question = seen_animation = 0
    last_time = 0
    for k, step in enumerate(lesson.steps):
        before = window.controller.now
        if step.question:
            # first click: the question, and the run does not move
            qtbot.keyClick(window, Qt.Key_PageDown)
            assert not pr.playing
            assert bar.counter.text() == f"{k + 1} / {n}"
            assert bar.caption.text() == step.caption
            assert bar.question.isVisibleTo(bar) and bar.question_text == step.question
            assert not bar.answer.isVisibleTo(bar)
            assert window.controller.now == before
            seen_question += 1
        # the (next) click plays the step
        qtbot.keyClick(window, Qt.Key_PageDown)
        if pr.playing:                  # animated: the run is on its way to the stop
            seen_animation += stops[k] > before
            assert window.controller.now <= stops[k]
        settle(qtbot, pr)
        assert not window.controller.playing
        assert bar.counter.text() == f"{k + 1} / {n}"
        assert bar.caption.text() == step.caption
        if step.question:
            assert bar.question.isVisibleTo(bar) and bar.answer_text == step.answer
            assert bar.answer.isVisibleTo(bar)
        else:
            assert not bar.question.isVisibleTo(bar) and not bar.answer.isVisibleTo(bar)
        # the simulated time reached: everything due by the stop has run, nothing after it
        run = window.controller.run
        assert run.next_time() is None or run.next_time() > stops[k]
        assert run.now == stops[k] or run.finished()
        assert run.now >= last_time
        last_time = run.now
        if step.event is not None:
            row = window.context.selection.event
            assert row is not None and step.event.matches(run.trace, row)
            assert int(run.trace.t[row]) == stops[k]
        assert bar.narration.text(), f"step {k + 1} has a narration line"
        assert f"t = {run.now / 1e9:.4f} s" == bar.clock.text()
    assert seen_question >= 2 and seen_animation >= 3
    # past the end: nothing moves
    qtbot.keyClick(window, Qt.Key_PageDown)
    assert bar.counter.text() == f"{n} / {n}" and "End of the lesson" in bar.hint.text()

    # B: a black screen over everything, and B again brings the picture back
    qtbot.keyClick(window, Qt.Key_B)
    assert pr.is_black
    img = window.grab().toImage()
    assert distinct_colors(img) == 1 and QImage(img).pixelColor(10, 10).name() == "#000000"
    qtbot.keyClick(window, Qt.Key_B)
    assert not pr.is_black
    qtbot.keyClick(window, Qt.Key_B)
    qtbot.keyClick(window, Qt.Key_PageDown)     # any clicker key un-blacks without moving on
    assert not pr.is_black and bar.counter.text() == f"{n} / {n}"

    # PageUp: back one click at a time; the engine goes back to the earlier stop, exactly as a
    # run from zero to it
    beats = P.beats_of(lesson)
    times = []
    for _ in range(len(beats) - 1):
        qtbot.keyClick(window, Qt.Key_PageUp)
        target = pr.target_time()
        run = window.controller.run
        if target is None:
            assert run.now == 0 and run.net.sched.events_processed == 0
        else:
            assert run.now == target or run.finished()
            headless = Run(lesson.scenario())
            headless.run(until=target)
            assert len(run.trace) == len(headless.trace)
            assert (run.trace.matrix() == headless.trace.matrix()).all()
        times.append(run.now)
    assert times == sorted(times, reverse=True) and times[0] > times[-1] == 0
    assert bar.counter.text() == f"0 / {n}"

    # Escape: the window as it was
    qtbot.keyClick(window, Qt.Key_Escape)
    assert qt_messages.messages == []
    assert not pr.active and not window.actions_by_key["presenter"].isChecked()
    assert not window.isFullScreen() and not window.actions_by_key["fullscreen"].isChecked()
    assert app.font().pointSizeF() == font_before
    assert window.theme is LIGHT
    assert visible_docks(window) == docks_before
    assert all(t.isVisible() for t in window.toolbars.values())
    assert not any(d.objectName() == "dock:presenter" for d in window.findChildren(QDockWidget)
                   if d.parent() is window)
    qtbot.waitUntil(lambda: window.size() == size_before, timeout=2000)
    # the keys are the window's again: Space plays
    qtbot.keyClick(window, Qt.Key_Space)
    assert window.controller.playing
    window.controller.pause()


def test_the_window_s_own_controls_keep_working(window, qtbot):
    pr = window.presenter
    assert pr.start("loss")
    pr.speed_scale = 1000.0
    stops = pr.lesson.stop_times()
    qtbot.keyClick(window, Qt.Key_Space)           # Space is the clicker's "next" here
    settle(qtbot, pr)
    assert window.controller.now == stops[0]
    assert not window.controller.playing, "Space is not the window's Play while presenting"
    # the window's "step one event" (Right) still works while presenting
    events = window.controller.run.net.sched.events_processed
    qtbot.keyClick(window, Qt.Key_Right)
    assert window.controller.run.net.sched.events_processed == events + 1
    # ... and the next click plays on from there to the next stop
    qtbot.keyClick(window, Qt.Key_PageDown)
    settle(qtbot, pr)
    assert window.controller.now == stops[1]
    # a click while a step plays finishes it at once
    pr.speed_scale = 0.01
    qtbot.keyClick(window, Qt.Key_PageDown)        # step 3's question
    qtbot.keyClick(window, Qt.Key_PageDown)        # step 3 plays, very slowly
    assert pr.playing
    qtbot.keyClick(window, Qt.Key_PageDown)
    assert not pr.playing and window.controller.now == stops[2]
    # the window's Play runs past the lesson; PageUp takes the lesson's run back to step 2's stop
    window.actions_by_key["run_end"].trigger()
    assert window.controller.now > stops[2]
    qtbot.keyClick(window, Qt.Key_PageUp)          # back to the question of step 3
    assert window.controller.now == stops[1]
    # the dropped segment shows in the lesson's view
    assert any(k == EventKind.DROP for k in window.controller.run.trace.kind)
    assert "dropped" in pr.bar.narration.text()


def test_focus_and_lesson_options(window, qtbot):
    pr = window.presenter
    pr.speed_scale = 1000.0
    assert pr.start("congestion")
    plots = window.views["plots"]
    assert [k for k in L.PLOT_PANELS if plots.buttons[k].isChecked()] == ["window"]
    assert window.docks["plots"].isVisible() and not window.docks["ladder"].isVisible()
    for _ in range(len(pr.beats) - 1):
        qtbot.keyClick(window, Qt.Key_PageDown)
        settle(qtbot, pr, 60_000)
    assert pr.focused == "tsg" and window.docks["tsg"].isVisible()
    assert not window.docks["plots"].isVisible()
    # thick lines in the graphs while presenting
    cwnd = plots.curves["cwnd"]
    assert cwnd.opts["pen"].widthF() >= 2 * 3.2
    pr.stop()
    assert plots.curves["cwnd"].opts["pen"].widthF() == pytest.approx(3.2)
    assert all(plots.buttons[k].isChecked() for k in L.PLOT_PANELS)
    # the ladder's numbering: the lesson's while presenting, the window's afterwards
    before = window.views["ladder"].numbering
    assert pr.start("numbered-data")
    assert window.views["ladder"].numbering == "numbered"
    pr.stop()
    assert window.views["ladder"].numbering == before


def test_a_broken_lesson_is_reported_not_started(window, tmp_path, dialogs):
    bad = tmp_path / "bad.toml"
    bad.write_text('[lesson]\ntitle = "x"\nscenario = "handshake"\n[[steps]]\ncaption = "c"\n'
                   'until_event = "DROP"\n')
    dialogs["open_path"] = str(bad)
    opened = next(a for a in window.lessons_menu.actions() if a.text() == "&Open Lesson File…")
    opened.trigger()
    assert not window.presenter.active
    assert dialogs["warning"] == [f"{bad}: steps[1].until_event: DROP does not happen in the "
                                  "run (the scenario ends at 1 s)"]
    good = tmp_path / "good.toml"
    good.write_text('[lesson]\ntitle = "Mine"\nscenario = "handshake"\n[[steps]]\n'
                    'caption = "c"\nuntil = "10ms"\n')
    dialogs["open_path"] = str(good)
    opened.trigger()
    assert window.presenter.active and window.presenter.lesson.title == "Mine"


def test_closing_the_window_leaves_presenter_mode_first(window, qtbot):
    app = QApplication.instance()
    size = app.font().pointSizeF()
    window.actions_by_key["presenter"].trigger()
    assert window.presenter.active
    window.close()
    assert not window.presenter.active and app.font().pointSizeF() == size
    # the window saved its own layout, not the presenter's
    again = LabWindow()
    try:
        assert again.restoreState(window.settings.value("windowState"))
        assert not again.docks["properties"].isHidden()
        assert not again.toolbars["palette"].isHidden()
        assert not any(d.objectName() == "dock:presenter" for d in again.findChildren(QDockWidget))
    finally:
        again.close()


# ------------------------------------------------------------------------------ screenshots
SHOT_CHILD = textwrap.dedent(r"""
    import json, sys
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from tcplab.gui.mainwindow import LabWindow
    from tcplab.gui import presenter as P
    out, lessons, beats = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
    w = LabWindow(autosave=False)
    P.install(w)
    w.resize(1280, 800)
    w.show()
    pr = w.presenter
    pr.speed_scale = 1000.0
    report = []
    screen = w.screen().geometry()
    for name in lessons:
        assert pr.start(name)
        for i in range(beats):
            if i:
                QTest.keyClick(w, Qt.Key_PageDown)
            while pr.playing:
                app.processEvents()
            for _ in range(5):
                app.processEvents()
            path = f"{out}/presenter-{name}-{i}.png"
            w.grab().save(path)
            report.append({"path": path, "size": list(w.size().toTuple()),
                           "full_screen": w.isFullScreen(), "counter": pr.counter_text(),
                           "screen": [screen.width(), screen.height()]})
    QTest.keyClick(w, Qt.Key_B)
    app.processEvents()
    w.grab().save(f"{out}/presenter-black.png")
    QTest.keyClick(w, Qt.Key_Escape)
    app.processEvents()
    report.append({"after": list(w.size().toTuple()), "full_screen": w.isFullScreen()})
    print(json.dumps(report))
""")


def test_screenshots_at_1920x1080(tmp_path, home):
    """A real full screen of 1920x1080 (Qt's offscreen platform given such a screen): the
    presenter's layout keeps to the screen at every click, and the pictures have content."""
    out = SHOTS or tmp_path
    out.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "screen.json"
    config.write_text(json.dumps({"synchronousWindowSystemEvents": False,
                                  "windowFrameMargins": False,
                                  "screens": [{"name": "projector", "x": 0, "y": 0,
                                               "width": 1920, "height": 1080, "logicalDpi": 96,
                                               "logicalBaseDpi": 96, "dpr": 1}]}))
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={config}",
               TCPLAB_HOME=str(home))
    proc = subprocess.run([sys.executable, "-c", SHOT_CHILD, str(out),
                           "01-handshake,03-loss,09-congestion", "4"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    shots, after = report[:-1], report[-1]
    assert len(shots) == 12
    for shot in shots:
        if shot["screen"] != [1920, 1080]:
            pytest.skip("this Qt's offscreen platform does not take a screen configuration")
        assert shot["size"] == [1920, 1080] and shot["full_screen"], shot
        img = QImage(shot["path"])
        assert (img.width(), img.height()) == (1920, 1080)
        assert distinct_colors(img) > 40, shot["path"]
    assert [s["counter"] for s in shots[:4]] == ["0 / 5", "1 / 5", "2 / 5", "2 / 5"]
    black = QImage(str(out / "presenter-black.png"))
    assert distinct_colors(black) == 1
    assert not after["full_screen"]
