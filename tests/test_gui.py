"""The lab window (issue 4): editing with undo/redo, run controls, knobs, files, autosave."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from guikit import QtMessages, distinct_colors

from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox  # noqa: E402

from tcplab.gui.controller import SPEEDS  # noqa: E402
from tcplab.gui.mainwindow import LabWindow  # noqa: E402
from tcplab.scenario.document import ScenarioDocument  # noqa: E402
from tcplab.trace.events import EventKind  # noqa: E402

SHOTS = Path(os.environ.get("TCPLAB_SHOTS", "")) if os.environ.get("TCPLAB_SHOTS") else None


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("TCPLAB_HOME", str(h))
    return h


@pytest.fixture
def dialogs(monkeypatch):
    """Every modal dialog answered without blocking; what was asked is recorded."""
    asked: dict = {"question": [], "warning": [], "answer": QMessageBox.Discard,
                   "save_path": "", "open_path": "", "text": ("", False)}
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: asked["question"].append(a[2]) or asked["answer"]))
    monkeypatch.setattr(QMessageBox, "warning",
                        staticmethod(lambda *a, **k: asked["warning"].append(a[2]) or QMessageBox.Ok))
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda *a, **k: None))
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (asked["save_path"], "")))
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (asked["open_path"], "")))
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: asked["text"]))
    return asked


@pytest.fixture
def window(qtbot, home, dialogs):
    w = LabWindow()
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.controller.pause()


def undo_redo(w, check_after, check_before):
    """The edit just made shows ``check_after``; undo shows ``check_before``; redo again."""
    assert check_after(), "edit not applied"
    w.undo.undo()
    assert check_before(), "undo did not restore"
    w.undo.redo()
    assert check_after(), "redo did not re-apply"


# ------------------------------------------------------------------------------ start-up
def test_opens_the_default_lesson_ready_to_play(window):
    doc = window.doc
    assert {n for n, _k in doc.nodes()} == {"client", "router", "server"}
    assert window.controller.run is not None and window.controller.now == 0
    assert window.actions_by_key["play"].isEnabled()
    assert set(window.scene.nodes) == {"client", "router", "server"}
    assert len(window.scene.links) == 2
    assert "20 ms" in window.scene.links["client-router"].label
    assert not window.is_modified()


# ------------------------------------------------------------------------------ editing
def test_add_host_and_router_from_the_palette(window, qtbot):
    before = len(window.doc.nodes())
    window.set_mode("host")
    window.scene.addNodeRequested.emit("host", QPointF(100, 300))
    added = [n for n, k in window.doc.nodes() if k == "host" and n not in ("client", "server")]
    assert added and window.doc.position(added[0]) == (100.0, 300.0)
    assert added[0] in window.scene.nodes
    undo_redo(window, lambda: len(window.doc.nodes()) == before + 1,
              lambda: len(window.doc.nodes()) == before)
    window.set_mode("router")
    window.scene.addNodeRequested.emit("router", QPointF(300, 300))
    assert len(window.doc.routers()) == 2
    undo_redo(window, lambda: len(window.doc.routers()) == 2, lambda: len(window.doc.routers()) == 1)
    assert window.is_modified()


def test_connect_by_dragging(window, qtbot):
    window.scene.addNodeRequested.emit("host", QPointF(0, 250))
    new = [n for n, k in window.doc.nodes() if n not in ("client", "router", "server")][0]
    # the new host is not connected: the scenario cannot run, and the window says why
    assert "Cannot run yet" in window._problem.text()
    assert not window.actions_by_key["play"].isEnabled()
    window.set_mode("link")
    view = window.view
    a = view.mapFromScene(window.scene.nodes[new].pos())
    b = view.mapFromScene(window.scene.nodes["router"].pos())
    qtbot.mousePress(view.viewport(), Qt.LeftButton, pos=a)
    qtbot.mouseMove(view.viewport(), b)
    qtbot.mouseRelease(view.viewport(), Qt.LeftButton, pos=b)
    assert window.doc.link_name(new, "router") is not None
    assert window._problem.text() == ""
    assert window.controller.run is not None
    undo_redo(window, lambda: window.doc.link_name(new, "router") is not None,
              lambda: window.doc.link_name(new, "router") is None)


def test_move_by_dragging_is_one_undo_step(window, qtbot):
    view = window.view
    item = window.scene.nodes["router"]
    old = window.doc.position("router")
    start = view.mapFromScene(item.pos())
    qtbot.mousePress(view.viewport(), Qt.LeftButton, pos=start)
    for dx in (10, 20, 40):
        qtbot.mouseMove(view.viewport(), start + type(start)(dx, 30))
    qtbot.mouseRelease(view.viewport(), Qt.LeftButton, pos=start + type(start)(40, 30))
    new = window.doc.position("router")
    assert new != old
    assert window.undo.count() == 1
    undo_redo(window, lambda: window.doc.position("router") == new,
              lambda: window.doc.position("router") == old)
    # a move does not restart the run
    run = window.controller.run
    window.move_nodes({"client": (5.0, 5.0)})
    assert window.controller.run is run


def test_rename_delete_and_cascade(window, dialogs):
    window.scene.select([("node", "server")])
    dialogs["text"] = ("web1", True)
    window.rename_selected()
    assert "web1" in dict(window.doc.nodes())
    assert window.doc.get(("apps", "web", "server")) == "web1"
    assert window.doc.link_name("router", "web1") is not None
    undo_redo(window, lambda: "web1" in dict(window.doc.nodes()),
              lambda: "server" in dict(window.doc.nodes()))
    # an invalid name is refused with the reason
    dialogs["text"] = ("9lives", True)
    window.rename_selected()
    assert "web1" in dict(window.doc.nodes())
    assert "name" in window.statusBar().currentMessage()
    # deleting a host deletes its links and its application
    window.scene.select([("node", "web1")])
    window.delete_selection()
    assert "web1" not in dict(window.doc.nodes())
    assert window.doc.apps() == []
    assert window.doc.link_name("router", "web1") is None
    assert "web" in window.statusBar().currentMessage()
    undo_redo(window, lambda: window.doc.apps() == [], lambda: window.doc.apps() == ["web"])


def test_multi_select_and_delete_links(window):
    window.scene.select([("link", "client-router"), ("link", "router-server")])
    assert len(window.scene.selection()) == 2
    window.actions_by_key["delete"].trigger()
    assert window.doc.links() == []
    undo_redo(window, lambda: window.doc.links() == [], lambda: len(window.doc.links()) == 2)
    window.undo.undo()
    window.select_all()
    assert len(window.scene.selection()) == 5


def test_properties_panel_edits_and_refuses_inline(window, qtbot):
    window.scene.select([("link", "router-server")])
    form = window.properties.form
    loss = form.editors[("loss",)]
    loss.setText("1.5")
    loss.editingFinished.emit()
    err = form.errors[("loss",)]
    assert not err.isHidden() and "1.5" in err.text() and "[0, 1]" in err.text()
    assert window.doc.get(("links", "router-server", "loss")) is None
    assert window.undo.count() == 0
    loss = window.properties.form.editors[("loss",)]
    loss.setText("0.02")
    loss.editingFinished.emit()
    assert window.doc.get(("links", "router-server", "loss")) == 0.02
    assert "loss 2 %" in window.scene.links["router-server"].label
    undo_redo(window, lambda: window.doc.get(("links", "router-server", "loss")) == 0.02,
              lambda: window.doc.get(("links", "router-server", "loss")) is None)
    delay = window.properties.form.editors[("delay",)]
    delay.setText('"7ms"')
    delay.editingFinished.emit()
    assert window.doc.get(("links", "router-server", "delay")) == "7ms"
    delay = window.properties.form.editors[("delay",)]
    delay.setText("soon")
    delay.editingFinished.emit()
    assert not window.properties.form.errors[("delay",)].isHidden()
    assert window.doc.get(("links", "router-server", "delay")) == "7ms"


def test_scenario_and_tcp_defaults_in_properties(window):
    window.scene.clearSelection()
    assert window.properties.title.text() == "Scenario"
    cc = window.properties.tcp_form.editors[("tcp", "cc")]
    cc.setCurrentText("cubic")
    cc.activated.emit(cc.currentIndex())
    assert window.doc.get(("tcp", "cc")) == "cubic"
    sack = window.properties.tcp_form.editors[("tcp", "sack")]
    sack.setChecked(True)
    assert window.doc.get(("tcp", "sack")) is True
    assert window.controller.run.scenario.tcp.sack is True
    window.undo.undo()
    assert window.doc.get(("tcp", "sack")) is False
    mss = window.properties.tcp_form.editors[("tcp", "mss")]
    mss.setText("-3")
    mss.editingFinished.emit()
    assert not window.properties.tcp_form.errors[("tcp", "mss")].isHidden()


def test_connections_dock_add_edit_remove(window):
    panel = window.connections
    assert panel.list.count() == 1
    window.add_app("bulk")
    assert panel.list.count() == 2
    name = panel.current()
    assert window.doc.get(("apps", name, "type")) == "bulk"
    field = panel.form.editors[("bytes",)]
    field.setText("20000")
    field.editingFinished.emit()
    assert window.doc.get(("apps", name, "bytes")) == 20000
    nagle = panel.tcp_form.editors[("tcp", "nagle")]
    nagle.setChecked(not nagle.isChecked())
    assert window.doc.get(("apps", name, "tcp", "nagle")) is not None
    cc = panel.tcp_form.editors[("tcp", "cc")]
    cc.setCurrentText("reno")
    cc.activated.emit(cc.currentIndex())
    assert window.doc.get(("apps", name, "tcp", "cc")) == "reno"
    port = panel.form.editors[("port",)]
    port.setText("70000")
    port.editingFinished.emit()
    assert not panel.form.errors[("port",)].isHidden()
    window.remove_app(name)
    assert panel.list.count() == 1
    window.undo.undo()
    assert panel.list.count() == 2


def test_auto_layout_undoable(window):
    window.move_nodes({"client": (900.0, 900.0)})
    window.auto_layout()
    pos = window.doc.position("client")
    assert pos != (900.0, 900.0)
    window.undo.undo()
    assert window.doc.position("client") == (900.0, 900.0)


# ------------------------------------------------------------------------------ running
def test_run_controls(window, qtbot):
    c = window.controller
    assert c.step_event()
    assert len(c.run.trace) >= 1
    n = len(c.run.trace)
    c.step_segment()
    kinds = [c.run.trace.kind[i] for i in range(n, len(c.run.trace))]
    assert int(EventKind.SEG_SENT) in kinds or int(EventKind.SEG_RECV) in kinds
    window.set_speed(1.0)
    assert window.speed_label.text() == "1x"
    window.actions_by_key["play"].trigger()
    assert c.playing
    qtbot.waitUntil(lambda: c.now > 50_000_000, timeout=5000)
    window.actions_by_key["play"].trigger()
    assert not c.playing
    t = c.now
    qtbot.wait(50)
    assert c.now == t
    assert "t = " in window.clock_label.text()
    window.actions_by_key["reset"].trigger()
    assert c.now == 0 and all(t == 0 for t in c.run.trace.t)
    seed = c.seed
    window.actions_by_key["new_seed"].trigger()
    assert c.seed != seed and c.now == 0
    window.speed_slider.setValue(len(SPEEDS) - 1)
    assert c.speed is None and window.speed_label.text() == "max"
    window.actions_by_key["play"].trigger()
    qtbot.waitUntil(lambda: not c.playing, timeout=10000)
    assert c.at_end
    states = [c.run.trace.b[i] for i in c.run.trace.indices(EventKind.STATE)]
    assert states, "the lesson ran to its end"


def test_packets_animate_on_the_canvas(window, qtbot):
    c = window.controller
    c.run_to(20_000_000)      # the SYN is on the client-router link
    assert window.scene.packets, "a packet is drawn while it is on a link"
    item = next(iter(window.scene.packets.values()))
    assert item.kind == "syn" and "SYN 100" in item.label
    x1 = item.pos().x()
    c.run_to(30_000_000)
    assert window.scene.packets[item.uid].pos().x() > x1


def test_knob_change_raises_retransmissions(window, qtbot):
    window.open_builtin("transfer")
    c = window.controller
    base = ScenarioDocument.from_builtin("transfer")
    c.run_to(c.run.scenario.duration)
    base_retx = sum(x["retransmissions"]["total"] for x in c.run.summary()["connections"])
    window.reset_run()
    link = base.links()[-1][0]
    window.knobs.link.setCurrentText(link)
    window.knobs.spins["loss"].setValue(30.0)
    assert c.run.actions and c.run.actions[-1][1]["param"] == "loss"
    c.run_to(c.run.scenario.duration)
    retx = sum(x["retransmissions"]["total"] for x in c.run.summary()["connections"])
    assert retx > base_retx
    assert "loss 30 %" in window.scene.links[link].label
    # the document is untouched until "Keep in scenario"
    assert window.doc.get(("links", link, "loss")) in (None, 0, 0.0)
    window.knobs.keep_button.click()
    assert window.doc.get(("links", link, "loss")) == pytest.approx(0.3)


def test_drop_next_segment_and_packet_menu(window):
    c = window.controller
    window.link_action("router-server", "drop_next")
    c.run_to(c.run.scenario.duration)
    drops = c.run.trace.indices(EventKind.DROP)
    assert len(drops) >= 1
    window.reset_run()
    c.run_to(20_000_000)
    uid = next(iter(window.scene.packets))
    window.scene.perform_menu(("packet", uid, "drop"))
    assert uid not in window.scene.packets
    assert window.scene.drop_items, "the drop is marked where it happened"


def test_link_edit_while_running_applies_live(window):
    c = window.controller
    c.run_to(100_000_000)
    run = c.run
    window.set_doc_value(("links", "router-server", "loss"), 0.5)
    assert c.run is run, "a changed link value goes to the running engine, not a restart"
    assert run.actions[-1][1] == {"op": "set_link", "link": "router-server", "param": "loss",
                                  "value": 0.5, "direction": None}


# ------------------------------------------------------------------------------ files
def test_save_reopen_identical(window, dialogs, tmp_path):
    window.scene.addNodeRequested.emit("router", QPointF(50, 50))
    window.set_doc_value(("links", "client-router", "loss"), 0.01)
    dialogs["save_path"] = str(tmp_path / "mine")
    assert window.file_save()
    saved = tmp_path / "mine.toml"
    assert saved.is_file() and not window.is_modified()
    raw = window.doc.snapshot()
    window.file_new()
    assert window.doc.nodes() == []
    assert window.open_path(saved)
    assert window.doc.snapshot() == raw
    assert str(saved.resolve()) in window.recent_files()


def test_open_bad_file_keeps_work(window, dialogs, tmp_path):
    window.set_doc_value(("links", "client-router", "loss"), 0.01)
    bad = tmp_path / "bad.toml"
    bad.write_text("[links.a-b]\nloss = 2\n")
    assert not window.open_path(bad, ask=False)
    assert dialogs["warning"] and "bad.toml" in dialogs["warning"][0]
    assert window.doc.get(("links", "client-router", "loss")) == 0.01
    assert window.is_modified()


def test_unsaved_changes_prompt(window, dialogs):
    window.set_doc_value(("links", "client-router", "loss"), 0.01)
    dialogs["answer"] = QMessageBox.Cancel
    window.file_new()
    assert dialogs["question"], "asked before discarding"
    assert window.doc.get(("links", "client-router", "loss")) == 0.01
    dialogs["answer"] = QMessageBox.Discard
    window.file_new()
    assert window.doc.nodes() == []


AUTOSAVE_CHILD = textwrap.dedent("""
    import os, sys, time
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from tcplab.gui.mainwindow import LabWindow
    w = LabWindow()
    w.scene.addNodeRequested.emit("router", QPointF(11, 22))
    w.set_doc_value(("links", "client-router", "delay"), "9ms")
    print("edited", flush=True)
    time.sleep(60)
""")


def test_autosave_restored_after_kill(window, home, tmp_path):
    env = dict(os.environ, TCPLAB_HOME=str(home))
    child = subprocess.Popen([sys.executable, "-c", AUTOSAVE_CHILD], env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "edited"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    offered = []
    assert window.offer_restore(ask=lambda o: offered.append(o) or True)
    assert offered[0].title
    assert window.doc.get(("links", "client-router", "delay")) == "9ms"
    assert len(window.doc.routers()) == 2
    assert window.is_modified()
    # offered once: the orphan is gone after the restore
    assert not window.offer_restore(ask=lambda o: True)


# ------------------------------------------------------------------------------ desktop
def test_shortcuts_and_settings(window, home):
    k = window.actions_by_key
    assert k["play"].shortcut().toString() == "Space"
    assert k["step"].shortcut().toString() == "Right"
    assert k["undo"].shortcut().toString() == "Ctrl+Z"
    assert "Ctrl+Shift+Z" in [s.toString() for s in k["redo"].shortcuts()]
    assert k["save"].shortcut().toString() == "Ctrl+S"
    assert k["open"].shortcut().toString() == "Ctrl+O"
    assert k["new"].shortcut().toString() == "Ctrl+N"
    assert k["fullscreen"].shortcut().toString() == "F11"
    k["theme"].setChecked(True)
    window.close()
    again = LabWindow()
    assert again.theme.name == "dark"
    again.close()


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots(window, qtbot, size, theme, tmp_path):
    window.actions_by_key["theme"].setChecked(theme == "dark")
    window.resize(*size)
    window.apply_default_sizes()
    window.view.fit()
    window.controller.run_to(95_000_000)
    qtbot.wait(20)
    img = window.grab().toImage()
    assert (img.width(), img.height()) == size
    assert distinct_colors(img) > 50
    out = SHOTS or tmp_path
    out.mkdir(parents=True, exist_ok=True)
    img.save(str(out / f"lab-{theme}-{size[0]}x{size[1]}.png"))


def test_relative_sequence_numbers(window, qtbot):
    # the lesson sets its ISNs: absolute numbers by default, as the lessons draw them
    assert not window.actions_by_key["relative"].isChecked()
    c = window.controller
    c.run_to(100_000_000)     # the client's first data segment is on its way
    labels = {i.label for i in window.scene.packets.values()}
    assert any("seq 101" in text for text in labels), labels
    window.actions_by_key["relative"].setChecked(True)
    labels = {i.label for i in window.scene.packets.values()}
    assert any("seq 1 " in text for text in labels), labels
    # a scenario with random ISNs opens with relative numbers
    window.open_builtin("bulk")
    assert window.actions_by_key["relative"].isChecked()


def test_status_bar_shows_time_and_events(window):
    window.controller.run_to(50_000_000)
    assert "0.050000 s" in window.status_time.text()
    assert "events" in window.status_events.text()


def test_queue_gauge_and_queue_drop_on_the_canvas(window):
    window.open_builtin("congestion")
    window.controller.run_to(650_000_000)
    gauges = window.scene.gauges
    assert gauges, "the bottleneck queue is shown"
    (name, d), gauge = next(iter(gauges.items()))
    assert gauge.link.queue_len[d] == gauge.link.queue_cap[d] == 20
    words = {i.mark.words for i in window.scene.drop_items}
    assert "queue full" in words


def test_shared_cursor_and_selection_on_the_canvas(window, qtbot):
    c = window.controller
    ctx = window.context
    c.run_to(20_000_000)
    assert ctx.trace is c.run.trace and ctx.live and ctx.cursor == c.now
    uid = next(iter(window.scene.packets))
    window.scene.packetSelected.emit(uid)
    assert ctx.selection.packet == uid and ctx.selection.conn is not None
    assert window.scene.selected_packet == uid
    c.run_to(300_000_000)
    assert not window.scene.packets or uid not in window.scene.packets
    # drag the cursor back: the canvas shows the SYN on its way again
    ctx.set_cursor(20_000_000, live=False)
    assert uid in window.scene.packets
    assert "past" in window.timeline.label.text()
    c.run_to(350_000_000)            # the run goes on; the canvas stays in the past
    assert uid in window.scene.packets
    window.timeline.live_button.click()
    assert ctx.live and ctx.cursor == c.now
    assert uid not in window.scene.packets


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_export_every_view(window, dialogs, tmp_path, suffix):
    import xml.etree.ElementTree as ET
    window.controller.run_to(500_000_000)
    for key in ["topology"] + list(window.views):
        out = window.export_view(key, str(tmp_path / f"{key}{suffix}"))
        assert out is not None and out.stat().st_size > 500, key
        data = out.read_bytes()
        if suffix == ".svg":
            assert ET.fromstring(data).tag.endswith("svg")
        elif suffix == ".pdf":
            assert data.startswith(b"%PDF")
        else:
            assert data.startswith(b"\x89PNG")
    # a bad target is reported, not raised
    assert window.export_view("ladder", str(tmp_path / "nope" / "x.png")) is None
    assert dialogs["warning"]


def test_selection_propagates_across_views(window):
    c = window.controller
    ctx = window.context
    c.run_to(20_000_000)
    uid = next(iter(window.scene.packets))        # the SYN on its way
    window.scene.packetSelected.emit(uid)
    assert window.views["inspector"].uid == uid
    ladder = window.views["ladder"]
    assert any(a.uid == uid for a in ladder.arrows())
    log = window.views["narration"]
    row = log.table.currentIndex().row() if hasattr(log, "table") else None
    assert ctx.selection.packet == uid
    # selecting an event in the log selects its packet everywhere
    sent = [i for i in range(len(c.run.trace)) if c.run.trace.kind[i] == int(EventKind.SEG_SENT)]
    ctx.select(event=sent[0], source="narration")
    assert window.views["inspector"].uid == c.run.trace.pkt[sent[0]]
    assert window.scene.selected_packet == c.run.trace.pkt[sent[0]]
    assert row is None or row >= 0


def test_no_stale_tab_bars_over_the_docks(window):
    from PySide6.QtWidgets import QTabBar
    bars = [b for b in window.findChildren(QTabBar) if b.parent() is window and b.isVisible()]
    groups = sorted(tuple(b.tabText(i) for i in range(b.count())) for b in bars)
    assert groups == sorted([("Properties", "Connections", "Packet"),
                             ("Ladder", "Time-sequence graph", "Plots", "Narration"),
                             ("Buffers", "Timers", "State")])


def test_session_save_and_reopen_replays_the_actions(window, dialogs, tmp_path):
    c = window.controller
    c.run_to(20_000_000)
    uid = next(iter(window.scene.packets))
    window.scene.perform_menu(("packet", uid, "drop"))      # a user action mid-run
    window.knobs.link.setCurrentText("router-server")
    window.knobs.spins["delay"].setValue(35.0)
    c.run_to(c.run.scenario.duration)
    recorded = c.run.trace.fingerprint()
    actions = list(c.run.actions)
    assert len(actions) == 2
    path = window.save_session(str(tmp_path / "lesson"))
    assert path.name == "lesson.tcplab" and path.is_file()
    window.file_new()
    assert window.open_path(path)
    assert c.pending_actions == 2
    c.run_to(c.run.scenario.duration)
    assert c.pending_actions == 0
    assert c.run.actions == actions
    assert c.run.trace.fingerprint() == recorded
    bad = tmp_path / "bad.tcplab"
    bad.write_bytes(b"not a zip")
    assert not window.open_path(bad, ask=False)
    assert "bad.tcplab" in dialogs["warning"][-1]
