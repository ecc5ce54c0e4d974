"""File → Export in the window: every kind of export of the current run, the movie plan and its
errors, progress and cancel (nothing written, an existing file kept)."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import guikit  # noqa: F401  (offscreen platform)
import pytest
from PIL import Image

from test_gui import dialogs, home, window  # noqa: F401  (fixtures)
from tcplab.gui.exportdialog import ExportDialog


@pytest.fixture
def ran(window):
    """The window's run (the intro lesson) played to its end."""
    c = window.controller
    c.run_to(c.scenario.duration)
    return window


def dialog_for(window, kind, path) -> ExportDialog:
    d = window.open_export(kind)
    assert d is not None and d.current_kind() == kind
    d.path.setText(str(path))
    return d


def test_nothing_to_export_before_a_run(window):
    window.file_new()
    assert window.open_export() is None


def test_capture_events_and_figure(ran, tmp_path):
    d = dialog_for(ran, "pcapng", tmp_path / "c.pcapng")
    assert d.node.currentText().startswith("client")
    out = d.export(progress=lambda done, total: True)
    assert out == tmp_path / "c.pcapng" and out.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    if shutil.which("tshark"):
        res = subprocess.run(["tshark", "-r", str(out), "-o", "tcp.check_checksum:TRUE",
                              "-Y", "tcp.checksum.status == 0"], capture_output=True, text=True)
        assert res.returncode == 0 and res.stdout == ""         # no bad checksum
    d.set_kind("csv")
    assert d.path.text().endswith("c.csv")                      # the suffix follows the kind
    seen = []
    out = d.export(progress=lambda done, total: seen.append((done, total)))
    rows = out.read_text().splitlines()
    assert len(rows) == len(ran.controller.run.trace) + 1 and seen[-1][0] == seen[-1][1]
    d.set_kind("json")
    assert d.export(progress=lambda *a: True).read_text().startswith('{"format": "tcplab-events"')
    d.set_kind("figure")
    auto = dialog_for(ran, "figure", "")
    auto.path.setText("")
    auto.set_kind("figure")
    assert auto.path.text().endswith("-ladder.png")
    auto.fig_view.setCurrentIndex(auto.fig_view.findData("tsg"))
    assert auto.path.text().endswith("-tsg.png")        # follows the view until edited
    d.path.setText(str(tmp_path / "ladder.svg"))
    d.fig_w.setValue(640)
    d.fig_h.setValue(400)
    out = d.export(progress=lambda *a: True)
    assert out is not None, d.problem.text()
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg") and len(list(root.iter())) > 20
    assert "Exported ladder.svg" in ran.statusBar().currentMessage()


def test_gif_with_plan_progress_and_cancel(ran, tmp_path):
    d = dialog_for(ran, "gif", tmp_path / "m.gif")
    d.mov_w.setValue(320)
    d.mov_h.setValue(180)
    d.mov_fps.setValue(5)
    d.mov_to.setValue(0.05)
    d.mov_speed.setCurrentIndex(d.mov_speed.findData(0.01))
    assert d.export_button.isEnabled()
    assert "26 frames" in d.plan.text()           # 0.05 s at 0.01x = 5 s of movie at 5 fps
    # Cancel halfway: no file; an existing file stays as it was.
    target = tmp_path / "m.gif"
    target.write_bytes(b"old")
    calls = []
    assert d.export(progress=lambda done, total: calls.append(done) or done < 10) is None
    assert target.read_bytes() == b"old" and "Cancelled" in d.problem.text()
    assert [p.name for p in tmp_path.iterdir() if p.name != "home"] == ["m.gif"]
    out = d.export(progress=lambda *a: True)
    with Image.open(out) as im:
        assert im.n_frames == 26 and im.size == (320, 180)


def test_bad_movie_options_are_explained(ran, tmp_path):
    d = dialog_for(ran, "mp4", tmp_path / "m.mp4")
    d.mov_w.setValue(321)                         # H.264 needs even sides
    assert not d.export_button.isEnabled() and "even" in d.problem.text()
    d.mov_w.setValue(320)
    d.mov_from.setValue(0.04)
    d.mov_to.setValue(0.02)
    assert not d.export_button.isEnabled() and "empty" in d.problem.text()
    d.path.setText(str(tmp_path / "nowhere" / "m.mp4"))
    d.mov_to.setValue(0.06)
    assert d.export(progress=lambda *a: True) is None and "no such folder" in d.problem.text()


def test_export_with_the_progress_dialog(ran, tmp_path):
    """The default progress is a real QProgressDialog (not cancelled here)."""
    d = dialog_for(ran, "csv", tmp_path / "e.csv")
    assert d.export() == tmp_path / "e.csv"
