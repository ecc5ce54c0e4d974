"""Figures and movies of a recorded session (tcplab.gui.media, ``tcplab export --figure/--gif/
--mp4``): the files are what they claim to be, frames show the run moving, options are checked
before anything is written, and cancelling leaves nothing behind."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from guikit import QtMessages

import imageio_ffmpeg  # noqa: E402
from PIL import Image, ImageChops  # noqa: E402
from PySide6.QtGui import QPalette  # noqa: E402

from tcplab import cli  # noqa: E402
from tcplab.gui import media  # noqa: E402
from tcplab.session import load_session  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = (320, 180)
STRIP = 30          # the caption strip at the bottom of a movie frame is at most this tall


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TCPLAB_HOME", str(tmp_path / "home"))


def _record(folder: Path, scenario: str) -> Path:
    path = folder / f"{scenario}.tcplab"
    assert cli.main(["run", scenario, "--summary", "--record", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sessions")
    return {name: _record(folder, name) for name in ("handshake", "abort")}


@pytest.fixture(scope="module")
def handshake(sessions):
    return load_session(sessions["handshake"])


@pytest.fixture
def app(qapp):
    return qapp


def expected_frames(duration_ns: int, speed: float, fps: int) -> int:
    return math.ceil(duration_ns / (speed * 1e9 / fps) - 1e-9) + 1


def gif_frames(path: Path) -> list[Image.Image]:
    im = Image.open(path)
    out = []
    for i in range(im.n_frames):
        im.seek(i)
        out.append(im.convert("RGB"))
    return out


def differs(a: Image.Image, b: Image.Image, box=None) -> bool:
    if box is not None:
        a, b = a.crop(box), b.crop(box)
    return ImageChops.difference(a, b).getbbox() is not None


# =============================================================================== movies
def test_gif_has_the_expected_frames_at_the_size_asked_and_shows_the_run(app, handshake,
                                                                          tmp_path):
    calls = []
    out = tmp_path / "hs.gif"
    with QtMessages() as qt:
        n = media.write_movie(handshake, out, size=SMALL, fps=10, speed=0.01,
                              progress=lambda done, total: calls.append((done, total)))
    assert qt.messages == []
    expected = expected_frames(handshake.end_ns, 0.01, 10)
    assert n == expected == 32
    assert calls[0] == (0, n) and calls[-1] == (n, n) and len(calls) == n + 1
    im = Image.open(out)
    assert im.format == "GIF" and im.n_frames == n and im.size == SMALL
    assert im.info["loop"] == 0 and im.info["duration"] == 100
    frames = gif_frames(out)
    assert all(f.size == SMALL for f in frames)
    # every frame differs from the one before (the clock at least)...
    assert all(differs(a, b) for a, b in zip(frames, frames[1:]))
    # ...and the network itself changes: packets appear on the links and go
    w, h = SMALL
    net = (0, 0, w, h - STRIP)
    assert differs(frames[0], frames[n // 3], net)
    assert differs(frames[n // 3], frames[2 * n // 3], net)
    assert os.listdir(tmp_path) == ["hs.gif"]


def test_mp4_is_h264_with_the_expected_frames(app, handshake, tmp_path):
    out = tmp_path / "hs.mp4"
    n = media.write_movie(handshake, out, view="ladder", size=SMALL, fps=10, speed=0.01)
    assert n == expected_frames(handshake.end_ns, 0.01, 10)
    count, seconds = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert abs(count - n) <= 1 and seconds == pytest.approx(n / 10, abs=0.15)
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    assert tuple(meta["size"]) == SMALL and meta["codec"] == "h264"
    assert meta["pix_fmt"].startswith("yuv420p")
    frames = [np.frombuffer(f, np.uint8).reshape(SMALL[1], SMALL[0], 3) for f in reader]
    reader.close()
    # the ladder grows: its lower part fills in as arrows are drawn
    first, last = frames[0].astype(int), frames[-1].astype(int)
    assert np.abs(first - last)[: SMALL[1] - STRIP].mean() > 1.0
    assert os.listdir(tmp_path) == ["hs.mp4"]


def test_a_time_range_and_other_views_in_the_dark(app, sessions, tmp_path):
    out = tmp_path / "plots.gif"
    n = media.write_movie(sessions["handshake"], out, view="plots", start_ns=10_000_000,
                          end_ns=20_000_000, speed=0.005, fps=4, size=(240, 160), theme="dark")
    assert n == expected_frames(10_000_000, 0.005, 4) == 9
    frames = gif_frames(out)
    assert len(frames) == 9
    r, g, b = frames[0].getpixel((3, 3))
    assert r + g + b < 200, "the dark theme's background"


def test_a_dark_export_leaves_the_application_alone(app, handshake, tmp_path):
    before = app.palette().color(QPalette.Window).name()
    media.render_figure(handshake, "ladder", tmp_path / "d.png", size=SMALL, theme="dark",
                        scale=1)
    r, g, b, _a = Image.open(tmp_path / "d.png").convert("RGBA").getpixel((SMALL[0] // 2, 60))
    assert r + g + b < 200
    assert app.palette().color(QPalette.Window).name() == before


def test_plan_counts_frames_and_picks_a_speed(handshake, tmp_path):
    plan = media.plan_movie(handshake, tmp_path / "x.mp4")
    assert plan.format == "mp4" and plan.size == media.DEFAULT_MOVIE_SIZE["mp4"]
    assert plan.fps == media.DEFAULT_FPS["mp4"]
    assert 5 <= plan.seconds <= 31
    assert plan.frames == expected_frames(handshake.end_ns, plan.speed, plan.fps)
    assert plan.frame_time(0) == 0 and plan.frame_time(plan.frames - 1) >= handshake.end_ns
    assert plan.frame_time(plan.frames - 2) < handshake.end_ns
    gif = media.plan_movie(handshake, tmp_path / "x.gif")
    assert (gif.size, gif.fps) == (media.DEFAULT_MOVIE_SIZE["gif"], media.DEFAULT_FPS["gif"])
    # the window's speed, unless the movie would be shorter than 5 s or longer than 30 s
    assert media.auto_speed(2_000_000_000) == 0.1
    assert media.auto_speed(1_000_000_000) == 0.05
    assert media.auto_speed(30_000_000) == 0.005
    assert media.auto_speed(600_000_000_000) == 20
    assert not tmp_path.exists() or os.listdir(tmp_path) == []


@pytest.mark.parametrize("kwargs, words", [
    ({"speed": 0}, "speed must be a positive number"),
    ({"speed": -2.0}, "speed must be a positive number"),
    ({"speed": float("nan")}, "speed must be a positive number"),
    ({"fps": 0}, "fps must be a whole number from 1 to 60"),
    ({"fps": 61}, "fps must be a whole number from 1 to 60"),
    ({"fps": 2.5}, "fps must be a whole number"),
    ({"fps": 55}, "too fast for a GIF"),
    ({"size": (100, 100)}, "outside 160x120 to 3840x2160"),
    ({"size": (4000, 500)}, "outside 160x120 to 3840x2160"),
    ({"size": "big"}, "size must be two whole numbers"),
    ({"view": "radar"}, "unknown view 'radar'"),
    ({"start_ns": -1}, "start -1e-09 s is outside the recording"),
    ({"end_ns": 10**12}, "end 1000 s is outside the recording"),
    ({"start_ns": 20_000_000, "end_ns": 10_000_000}, "the time range is empty"),
    ({"speed": 1e-7}, "raise the speed, lower the frame rate or shorten the time range"),
    ({"speed": 1e-4, "size": (1920, 1080)}, "too big to make"),
])
def test_bad_movie_options_say_what_is_wrong_and_write_nothing(app, handshake, tmp_path,
                                                                kwargs, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        media.write_movie(handshake, tmp_path / "m.gif", **kwargs)
    assert os.listdir(tmp_path) == []


def test_an_mp4_needs_even_sides_and_a_movie_a_movie_suffix(app, handshake, tmp_path):
    with pytest.raises(ValueError, match="801x450: an MP4 .* needs an even width and height"):
        media.write_movie(handshake, tmp_path / "m.mp4", size=(801, 450))
    with pytest.raises(ValueError, match=r"'\.avi' is not one of \.gif, \.mp4"):
        media.write_movie(handshake, tmp_path / "m.avi")
    with pytest.raises(OSError, match="cannot write"):
        media.write_movie(handshake, tmp_path / "missing" / "m.gif", size=SMALL, speed=0.01)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_cancel_leaves_no_file_and_an_old_one_as_it_was(app, handshake, tmp_path, suffix):
    def stop_at_three(done, total):
        return done < 3

    fresh = tmp_path / f"new{suffix}"
    with pytest.raises(media.ExportCancelled):
        media.write_movie(handshake, fresh, size=SMALL, fps=10, speed=0.01,
                          progress=stop_at_three)
    assert os.listdir(tmp_path) == []
    old = tmp_path / f"old{suffix}"
    old.write_bytes(b"the previous movie")
    os.chmod(old, 0o640)
    seen = []
    with pytest.raises(media.ExportCancelled):
        media.write_movie(handshake, old, size=SMALL, fps=10, speed=0.01,
                          progress=lambda d, t: seen.append(d) or d < 3)
    assert seen == [0, 1, 2, 3]
    assert old.read_bytes() == b"the previous movie"
    assert os.listdir(tmp_path) == [old.name]
    # a progress callback that returns nothing does not cancel; the old file is replaced and
    # keeps its permissions
    assert media.write_movie(handshake, old, size=SMALL, fps=10, speed=0.01,
                             progress=lambda d, t: None) == 32
    assert old.stat().st_size > 100 and (old.stat().st_mode & 0o777) == 0o640
    assert os.listdir(tmp_path) == [old.name]


# ============================================================================== figures
@pytest.mark.parametrize("view", ["topology", "ladder", "tsg", "plots", "state", "buffers"])
def test_png_figure_is_the_size_asked_times_the_scale(app, sessions, tmp_path, view):
    out = media.render_figure(sessions["handshake"], view, tmp_path / f"{view}.png",
                              size=(400, 300), scale=1.5)
    im = Image.open(out)
    assert im.format == "PNG" and im.size == (600, 450)
    assert len(im.convert("RGB").getcolors(1 << 20)) > 20, "not a blank picture"
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize("view", ["topology", "ladder"])
def test_svg_figure_parses_and_draws(app, handshake, tmp_path, view):
    out = media.render_figure(handshake, view, tmp_path / "f.svg", size=(500, 320))
    root = ET.parse(out).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 500 320"
    tags = {el.tag.rsplit("}", 1)[-1] for el in root.iter()}
    assert {"path", "text"} <= tags or {"polyline", "text"} <= tags
    texts = " ".join(el.text or "" for el in root.iter() if el.tag.endswith("text"))
    assert ("client" in texts) if view == "topology" else ("SYN" in texts)


def test_pdf_figure_and_a_figure_at_a_moment(app, handshake, tmp_path):
    pdf = media.render_figure(handshake, "plots", tmp_path / "p.pdf", size=(600, 400))
    assert pdf.read_bytes()[:5] == b"%PDF-"
    # a SYN is on the first link 3 ms in, and nothing is left on the links at the end
    early = media.render_figure(handshake, "topology", tmp_path / "early.png", size=SMALL,
                                scale=1, at_ns=3_000_000)
    end = media.render_figure(handshake, "topology", tmp_path / "end.png", size=SMALL, scale=1)
    assert differs(Image.open(early).convert("RGB"), Image.open(end).convert("RGB"))


@pytest.mark.parametrize("kwargs, error, words", [
    ({"view": "radar"}, ValueError, "unknown view 'radar'"),
    ({"path": "f.jpg"}, ValueError, r"'\.jpg' is not one of \.png, \.svg, \.pdf"),
    ({"size": (20, 20)}, ValueError, "outside 160x120"),
    ({"scale": 0}, ValueError, "scale must be above 0"),
    ({"at_ns": 10**12}, ValueError, "outside the recording"),
    ({"theme": "sepia"}, ValueError, "unknown theme 'sepia'"),
])
def test_bad_figure_options(app, handshake, tmp_path, kwargs, error, words):
    args = {"view": "ladder", "path": "f.png", **kwargs}
    view, path = args.pop("view"), tmp_path / args.pop("path")
    with pytest.raises(error, match=words):
        media.render_figure(handshake, view, path, **args)
    assert os.listdir(tmp_path) == []


# ================================================================================ the stage
def test_the_stage_feeds_the_recorded_trace_back_exactly(app, handshake):
    with media.Stage(handshake, "ladder", size=SMALL) as stage:
        assert len(stage.trace) == 0
        stage.advance(10_000_000)
        part = len(stage.trace)
        assert 0 < part < len(handshake.trace)
        assert stage.context.cursor == 10_000_000
        stage.advance(handshake.end_ns)
        assert stage.trace.fingerprint() == handshake.trace.fingerprint()
        assert [c.peer for c in stage.trace.conns] == [c.peer for c in handshake.trace.conns]
        assert len(stage.trace.packets) == len(handshake.trace.packets)
        frame = stage.frame()
        assert frame.shape == (SMALL[1], SMALL[0], 3) and frame.dtype == np.uint8


def test_the_canvas_follows_link_changes_during_the_run(app, sessions):
    """abort.toml takes router-server down at 2 s and up again at 3.5 s (faults)."""
    with media.Stage(sessions["abort"], "topology", size=SMALL) as stage:
        link = stage.scene.links["router-server"]
        assert link.up
        stage.advance(2_100_000_000)
        assert not link.up and "DOWN" in link.label
        stage.advance(3_600_000_000)
        assert link.up and "DOWN" not in link.label


def test_the_cli_and_the_gui_agree_on_views_and_sizes():
    assert cli.MEDIA_VIEWS == media.view_names()
    assert (cli.MEDIA_MIN_SIZE, cli.MEDIA_MAX_SIZE) == (media.MIN_SIZE, media.MAX_SIZE)
    assert cli.FIGURE_SUFFIXES == media.FIGURE_SUFFIXES


# ================================================================================== the CLI
def run_cli(capsys, *args):
    try:
        code = cli.main(["export", *map(str, args)])
    except SystemExit as e:     # argparse: usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_figures_and_movies(app, sessions, tmp_path, capsys):
    s = sessions["handshake"]
    code, out, err = run_cli(capsys, s, "--figure", f"ladder={tmp_path}/l.svg",
                             "--figure", f"topology={tmp_path}/t.png", "--gif",
                             tmp_path / "m.gif", "--mp4", tmp_path / "m.mp4", "--size", "320x180",
                             "--speed", "0.01", "--fps", "10", "--scale", "1", "--theme", "dark")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 4
    assert lines[0] == f"ladder figure (320x180) written to {tmp_path}/l.svg"
    assert lines[1] == f"topology figure (320x180, 320x180 pixels) written to {tmp_path}/t.png"
    assert lines[2].startswith("topology movie: 32 frames, 320x180, 10 fps, 3.2 s at 0.01x")
    assert lines[3].endswith(f"written to {tmp_path}/m.mp4")
    assert Image.open(tmp_path / "m.gif").n_frames == 32
    assert Image.open(tmp_path / "t.png").size == (320, 180)
    ET.parse(tmp_path / "l.svg")
    assert sorted(os.listdir(tmp_path)) == ["l.svg", "m.gif", "m.mp4", "t.png"]


@pytest.mark.parametrize("args, code, words", [
    (["--gif", "{d}/m.gif", "--size", "100x100"], 1, "--size 100x100: must be from 160x120"),
    (["--gif", "{d}/m.gif", "--size", "wide"], 1, "--size must be WIDTHxHEIGHT"),
    (["--mp4", "{d}/m.mp4", "--size", "321x180"], 1, "--mp4 {d}/m.mp4: size 321x180"),
    (["--gif", "{d}/m.gif", "--speed", "0"], 1, "--speed must be a positive number"),
    (["--gif", "{d}/m.gif", "--speed", "-1"], 1, "--speed must be a positive number"),
    (["--gif", "{d}/m.gif", "--speed", "fast"], 2, "argument --speed: invalid float value"),
    (["--gif", "{d}/m.gif", "--fps", "0"], 1, "--fps must be from 1 to 60"),
    (["--gif", "{d}/m.gif", "--fps", "55"], 1, "too fast for a GIF"),
    (["--gif", "{d}/m.gif", "--view", "radar"], 1, "--view radar: unknown view"),
    (["--figure", "radar={d}/f.png"], 1, "unknown view 'radar'"),
    (["--figure", "ladder={d}/f.jpg"], 1, "must end in .png, .svg or .pdf"),
    (["--figure", "ladder"], 1, "give VIEW=OUT"),
    (["--gif", "{d}/m.mp4"], 1, "--gif {d}/m.mp4: the file name must end in .gif"),
    (["--mp4", "{d}/m.avi"], 1, "--mp4 {d}/m.avi: the file name must end in .mp4"),
    (["--gif", "{d}/m.gif", "--to", "60"], 1, "--to 60: the session ends at"),
    (["--gif", "{d}/m.gif", "--from", "0.02", "--to", "0.01"], 1, "--to 0.01 must be after"),
    (["--gif", "{d}/m.gif", "--speed", "1e-7"], 1, "the movie would have"),
    (["--csv", "{d}/e.csv", "--speed", "2"], 1, "--speed is for movies"),
    (["--csv", "{d}/e.csv", "--size", "400x300"], 1, "--size is for figures and movies"),
    (["--gif", "{d}/m.gif", "--scale", "2"], 1, "--scale is for figures"),
    (["--gif", "{d}/m.gif", "--theme", "sepia"], 2, "argument --theme: invalid choice"),
    (["--figure", "ladder={d}/f.png", "--figure", "tsg={d}/f.png"], 1, "name the same file"),
    (["--csv", "{d}/e.csv", "--gif", "{d}/m.gif", "--speed", "0"], 1, "--speed must be"),
])
def test_cli_errors_are_one_line_and_nothing_is_written(sessions, tmp_path, capsys, args,
                                                        code, words):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = [a.replace("{d}", str(out_dir)) for a in args]
    got, out, err = run_cli(capsys, sessions["handshake"], *args)
    assert got == code
    assert err.count("\n") == 1 and err.startswith("tcplab: error: ")
    assert words.replace("{d}", str(out_dir)) in err
    assert os.listdir(out_dir) == []


BLOCKED = r"""
import sys
class NoQt:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6"):
            raise ImportError(f"{name} cannot be imported here")
sys.meta_path.insert(0, NoQt())
from tcplab.cli import main
codes = [main(["export", SESSION, "--csv", OUT + "/e.csv", "--json", OUT + "/e.json"]),
         main(["export", SESSION, "--gif", OUT + "/m.gif", "--size", "10x10"]),
         main(["export", SESSION, "--figure", "radar=" + OUT + "/f.png"])]
assert not [m for m in sys.modules if m.split(".")[0] in ("PySide6", "pyqtgraph")], "Qt imported"
codes.append(main(["export", SESSION, "--figure", "ladder=" + OUT + "/f.png"]))
print(codes)
"""


def test_event_exports_and_option_errors_need_no_qt(sessions, tmp_path):
    script = f"SESSION = {str(sessions['handshake'])!r}\nOUT = {str(tmp_path)!r}\n" + BLOCKED
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[0, 1, 1, 1]"
    assert "figures and movies need PySide6" in proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["e.csv", "e.json"]
