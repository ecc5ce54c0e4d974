"""Figures and movies of a recorded run, made offscreen: the engine behind the export dialogs
and ``tcplab export SESSION --figure/--gif/--mp4``.

    render_figure(source, view, path, ...) -> Path      PNG, SVG or PDF of one view at one time
    plan_movie(source, path, ...) -> MoviePlan          check a movie's options, count its frames
    write_movie(source, path, ...) -> int               GIF or MP4 of a replayed time range

``source`` is what was recorded: a :class:`~tcplab.session.format.Session`, the path of a
session file, or a :class:`Recording` (a trace and the scenario text it was run from: the
window's current run, say). ``view`` is ``"topology"`` (the canvas with its packets in flight)
or a key of :data:`tcplab.gui.mainwindow.VIEWS` (``ladder``, ``tsg``, ``plots``, ...).

Both are built on a :class:`Stage`: the view, a :class:`~tcplab.gui.context.TraceContext` of
its own and a fresh trace that is fed the recorded rows up to any time, in order, as the engine
would feed the window; the view is laid out at an exact size in a window that is never shown on
screen. A movie moves the stage forward frame by frame and grabs each frame as RGB pixels;
GIFs are written by Pillow through imageio, MP4s (H.264, yuv420p) by the ffmpeg that ships
with imageio-ffmpeg. Every file is written to a temporary file beside the target and renamed
over it at the end: a failed or cancelled export leaves what was there before.

A QApplication must exist (:func:`ensure_app` makes an offscreen one for scripts and the CLI).
"""

from __future__ import annotations

import importlib
import math
import os
import secrets
import stat
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QCoreApplication, QPoint, QRectF, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import (QApplication, QFrame, QHBoxLayout, QLabel, QSizePolicy,
                               QVBoxLayout, QWidget)

from tcplab.gui import fmt
from tcplab.gui.theme import THEMES, Theme, apply_theme, palette
from tcplab.session.export import ExportCancelled as _ExportCancelled
from tcplab.session.export import Progress
from tcplab.trace.events import EventKind
from tcplab.trace.store import Trace

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
MOVIE_SUFFIXES = (".gif", ".mp4")
#: Smallest and largest picture or frame, in pixels.
MIN_SIZE = (160, 120)
MAX_SIZE = (3840, 2160)
DEFAULT_FIGURE_SIZE = (1200, 750)
#: A movie's size and frame rate when none is chosen, by format: a GIF is kept small (every
#: frame is held in memory until it is written, and GIFs are for slides and pages); 20 fps is
#: a whole number of the GIF's hundredths of a second.
DEFAULT_MOVIE_SIZE = {"gif": (800, 450), "mp4": (1280, 720)}
DEFAULT_FPS = {"gif": 20, "mp4": 30}
MAX_FPS = 60
#: GIF frame delays are counted in hundredths of a second, and browsers show a delay under
#: 20 ms as 100 ms: a GIF plays at most 50 frames a second.
MAX_GIF_FPS = 50
MAX_FRAMES = 20_000
#: Pillow keeps every frame of a GIF in memory until it writes the file (two bytes a pixel at
#: the end): frames x width x height at most this, about 40 s of 800x450 at 20 fps.
MAX_GIF_PIXELS = 300_000_000
#: Without a chosen speed a movie plays at the window's default speed, unless it would then last
#: less or more than these seconds (see :func:`auto_speed`).
DEFAULT_SPEED = 0.05
AUTO_MOVIE_SECONDS = (5.0, 30.0)
#: H.264 constant rate factor: 18 keeps small text and one-pixel lines crisp.
MP4_CRF = 18

_LINK_SET = int(EventKind.LINK_SET)
_MS, _SEC = 1_000_000, 1_000_000_000


# The ``progress`` callback of :func:`write_movie` asked to stop; nothing was written. One class
# for every export (tcplab.session.export), so a dialog catches one thing.
ExportCancelled = _ExportCancelled


# ===================================================================================== sources
@dataclass(frozen=True)
class Recording:
    """A run to export: its ``trace``, the ``scenario_text`` (TOML) it was run from, and the
    simulated time it reached (``end_ns``; None: the last row's time). A
    :class:`~tcplab.session.format.Session` has these three fields too."""

    trace: Trace
    scenario_text: str
    end_ns: int | None = None


def recording(source: Any) -> Recording:
    """``source`` as a :class:`Recording`: a Recording, a Session (or anything with ``trace``
    and ``scenario_text``), or the path of a session file (read with ``load_session``, whose
    SessionError, a ValueError, says what is wrong with it)."""
    if isinstance(source, Recording):
        return source
    if isinstance(source, (str, os.PathLike)):
        from tcplab.session import load_session
        source = load_session(source)
    try:
        trace, text = source.trace, source.scenario_text
    except AttributeError:
        raise TypeError(f"cannot export from {type(source).__name__}: give a Session, a session "
                        f"file or a Recording") from None
    return Recording(trace, text, getattr(source, "end_ns", None))


def end_time(rec: Recording) -> int:
    """The simulated time a recording reaches: ``end_ns``, or its last row's time."""
    trace = rec.trace
    last = int(trace.t[len(trace) - 1]) if len(trace) else 0
    return max(last, int(rec.end_ns or 0))


def ensure_app() -> QApplication:
    """The running QApplication, or a new one on Qt's offscreen platform (unless
    QT_QPA_PLATFORM names another) in the Fusion style: enough to render without a display."""
    app = QApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication(["tcplab"])
        apply_theme(app, THEMES["light"])
    return app


def _theme(theme: str | Theme) -> Theme:
    if isinstance(theme, Theme):
        return theme
    if theme not in THEMES:
        raise ValueError(f"unknown theme {theme!r}; themes: {', '.join(THEMES)}")
    return THEMES[theme]


# ============================================================================ a growing trace
class _Feed:
    """Copies a recorded trace into a fresh :class:`Trace` up to a row count, the way the engine
    fills one: rows with their extras, packets up to the newest uid the rows have used,
    connections up to the newest id (peers paired as they appear). Views built on the copy see
    the run unfold. What is copied is taken when the feed is made: the recorded trace is never
    changed, and may go on growing (or be rewound) meanwhile."""

    def __init__(self, source: Trace, rows: int) -> None:
        self.trace = Trace(list(source.nodes), list(source.node_kinds), list(source.links),
                           meta=dict(source.meta))
        self._rows = m = source.matrix(0, rows).copy()
        self._packets = list(source.packets)
        self._conns = [replace(c) for c in source.conns]
        self._extra = {i: v for i, v in source.extra.items() if i < rows}
        # packets and connections each row needs: the running maximum of its references
        self._pkt_need = np.maximum.accumulate(m[:, 4]) + 1 if rows else m[:, 4]
        self._conn_need = np.maximum.accumulate(m[:, 3]) + 1 if rows else m[:, 3]
        self._extra_rows = sorted(self._extra)
        self._next_extra = 0

    @property
    def rows(self) -> int:
        return len(self.trace)

    @property
    def limit(self) -> int:
        return len(self._rows)

    def times(self) -> np.ndarray:
        return self._rows[:, 0].copy()

    def feed(self, end: int) -> None:
        """Copy rows up to ``end`` (at most the limit)."""
        end = min(end, self.limit)
        start = len(self.trace)
        if end <= start:
            return
        dst = self.trace
        last = end == self.limit
        npk = len(self._packets) if last else int(self._pkt_need[end - 1])
        for uid in range(len(dst.packets), min(npk, len(self._packets))):
            dst.add_packet(self._packets[uid])
        nconn = len(self._conns) if last else int(self._conn_need[end - 1])
        for cid in range(len(dst.conns), min(nconn, len(self._conns))):
            dst.add_conn(replace(self._conns[cid], peer=-1))
        dst.push(self._rows[start:end].ravel().tolist())
        extra_rows = self._extra_rows
        while self._next_extra < len(extra_rows) and extra_rows[self._next_extra] < end:
            i = extra_rows[self._next_extra]
            dst.extra[i] = self._extra[i]
            self._next_extra += 1


# ================================================================================== the stage
class _Root(QWidget):
    """The stage's top-level widget: the view, and under it (for movies) a caption strip with
    the scenario's title on the left and the simulated time on the right."""

    def __init__(self, title: str, view: QWidget, theme: Theme, caption: str) -> None:
        super().__init__()
        self.title = title              # export_widget names the drawing after it
        self.setWindowTitle(f"tcplab: {title}")
        self.setMinimumSize(1, 1)       # not the layout's minimum: the size asked for is kept
        self.setPalette(palette(theme))
        self.setAutoFillBackground(True)
        # The view gets what the strip leaves, even below its own minimum (then it is cut off
        # rather than the strip pushed out of the picture).
        view.setMinimumSize(0, 0)
        view.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)
        self.strip = QFrame()
        self.strip.setObjectName("stageStrip")
        self.strip.setStyleSheet(f"QFrame#stageStrip {{ background: {theme.window};"
                                 f" border-top: 1px solid {theme.link}; }}")
        self.caption = QLabel(caption)
        self.caption.setStyleSheet(f"color: {theme.muted};")
        # a narrow frame cuts the caption, never the clock
        self.caption.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.clock = QLabel()
        self.clock.setStyleSheet(f"color: {theme.text}; font-weight: bold;")
        self.clock.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        row = QHBoxLayout(self.strip)
        row.setContentsMargins(10, 3, 10, 3)
        row.addWidget(self.caption, 1)
        row.addWidget(self.clock)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(view, 1)
        lay.addWidget(self.strip)


class Stage:
    """One view of a recording, offscreen, at an exact size, shown at any simulated time.

    ``Stage(source, view, size=(w, h), theme="light", clock=False)`` builds it at time 0 (no
    row yet); :meth:`advance` plays it forward to a time (rows are fed as the engine would,
    the cursor follows); :meth:`image` and :meth:`frame` grab what it shows. ``widget`` is what
    :func:`~tcplab.gui.views.export.export_widget` exports. With ``clock`` a strip under the
    view gives the scenario's title, the simulated time and ``speed`` (simulated seconds per
    second, if given). Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, source: Any, view: str = "topology", *,
                 size: tuple[int, int] = DEFAULT_FIGURE_SIZE, theme: str | Theme = "light",
                 clock: bool = False, speed: float | None = None) -> None:
        check_view(view)
        w, h = check_size(size)
        ensure_app()
        self.recording = rec = recording(source)
        self.view_key = view
        self.theme = _theme(theme)
        self.end_ns = end_time(rec)
        self.now = 0
        self._clock_digits = 3
        self._feed = _Feed(rec.trace, len(rec.trace))
        self._times = self._feed.times()

        from tcplab.gui.context import TraceContext
        from tcplab.scenario.document import ScenarioDocument
        self.doc = ScenarioDocument(tomllib.loads(rec.scenario_text))
        self.doc.ensure_layout()
        self.context = TraceContext()
        self.scene = None
        self._live_links: dict[str, list] = {}
        if view == "topology":
            inner = self._build_topology()
            title = "Network"
        else:
            module, cls = view_classes()[view]
            inner = getattr(importlib.import_module(module), cls)(self.context)
            inner.set_theme(self.theme)
            title = getattr(inner, "title", view)
        self.view = inner
        caption = f"{self.doc.get(('scenario', 'title')) or self.doc.name}  \u00b7  {title}"
        if speed:
            caption += f"  \u00b7  {_number(speed)}\u00d7 real time"
        root = self.widget = _Root(title, inner, self.theme, caption)
        root.setAttribute(Qt.WA_DontShowOnScreen)
        root.strip.setVisible(clock)
        root.resize(w, h)
        root.show()
        self.context.set_trace(self._feed.trace)
        if self.scene is not None:
            self.scene.reset_live(self._feed.trace)
        self._relative()
        self._settle()
        if root.width() != w or root.height() != h:
            root.resize(w, h)
            self._settle()
        self._show_clock()

    @property
    def trace(self) -> Trace:
        """The trace the view is fed: the recorded rows up to the time shown."""
        return self._feed.trace

    # -- building -------------------------------------------------------------------------------
    def _build_topology(self) -> QWidget:
        from tcplab.gui.canvas import TopologyScene, TopologyView
        from tcplab.scenario.spec import ScenarioError
        doc = self.doc
        try:
            links = {spec.name: [replace(spec.ab), replace(spec.ba)]
                     for spec in doc.scenario().links}
        except ScenarioError:
            links = {}
        self._live_links = links
        scene = self.scene = TopologyScene(self.theme)
        labels = {name: _link_text(*params) for name, params in links.items()}
        scene.build(doc, labels, _subtitles(doc))
        for name, (ab, ba) in links.items():
            self._show_link(name, ab, ba)
        view = TopologyView(scene)
        view.setInteractive(False)
        view.setFrameShape(QFrame.NoFrame)
        # The scene's rectangle would grow with the first packets' labels and shift the picture
        # between frames: fix it to the network, which the view then fits.
        rect = QRectF()
        for item in list(scene.nodes.values()) + list(scene.links.values()):
            rect = rect.united(item.sceneBoundingRect())
        if not rect.isEmpty():
            scene.setSceneRect(rect.adjusted(-60, -60, 60, 60))
        return view

    def _show_link(self, name: str, ab, ba) -> None:
        self.scene.set_link_label(name, _link_text(ab, ba), lossy=bool(ab.loss or ba.loss),
                                  up=ab.up and ba.up)
        self.scene.set_queue_capacity(name, 0, ab.queue)
        self.scene.set_queue_capacity(name, 1, ba.queue)

    def _relative(self) -> None:
        """Sequence numbers as the window shows them: absolute when the scenario chose the ISNs
        (the lessons' 100 and 500), else relative to each connection's ISN."""
        doc = self.doc
        chosen = any(doc.get(("hosts", h, "isn")) is not None for h in doc.hosts())
        relative = not (chosen or doc.get(("tcp", "isn")) is not None)
        if self.scene is not None:
            self.scene.set_relative(relative)
        if hasattr(self.view, "set_relative"):
            self.view.set_relative(relative)

    # -- playing --------------------------------------------------------------------------------
    def advance(self, t_ns: int, wall_dt: float = 0.0) -> None:
        """Show the run at simulated time ``t_ns`` (not before the time shown): rows up to it
        are fed to the view as one batch and the cursor moves there. ``wall_dt`` ages the
        canvas's drop marks as that many seconds of playing would."""
        t_ns = max(int(t_ns), self.now)
        first = self._feed.rows
        end = int(np.searchsorted(self._times, t_ns, side="right"))
        self._feed.feed(end)
        trace = self._feed.trace
        end = len(trace)
        if self.scene is not None:
            self._link_changes(first, end)
            self.scene.consume(first, end, t_ns)
            if wall_dt > 0:
                self.scene.fade(wall_dt)
        self.now = t_ns
        self.context.append(first, end, t_ns)
        self._show_clock()
        self._settle()

    def _link_changes(self, first: int, end: int) -> None:
        """LINK_SET rows (knobs, faults): the canvas's link labels follow, as in the window."""
        trace = self._feed.trace
        if end <= first or not self._live_links:
            return
        kinds = trace.matrix(first, end)[:, 1]
        for j in np.flatnonzero(kinds == _LINK_SET).tolist():
            i = first + j
            param, _old, new = trace.extra[i]
            name = trace.links[trace.a[i]].name
            params = self._live_links.get(name)
            if params is None:
                continue
            d = trace.d[i]
            for k in ((0, 1) if d < 0 else (d,)):
                if hasattr(params[k], param):
                    setattr(params[k], param, new)
            self._show_link(name, *params)

    def set_clock_resolution(self, step_ns: float) -> None:
        """Show the clock with enough digits that times ``step_ns`` apart read differently."""
        unit = self._clock_unit()[0]
        step = max(step_ns, 1.0) / unit
        self._clock_digits = max(0, min(6, math.ceil(-math.log10(step) - 1e-9)))

    def _clock_unit(self) -> tuple[int, str]:
        return (_MS, "ms") if self.end_ns < _SEC else (_SEC, "s")

    def _show_clock(self) -> None:
        root = self.widget
        if root.strip.isHidden():
            return
        unit, name = self._clock_unit()
        text = f"t = {self.now / unit:.{self._clock_digits}f} {name}"
        root.clock.setText(text)

    def _settle(self) -> None:
        """Let posted work happen (layouts, deferred view updates) without taking input."""
        QCoreApplication.sendPostedEvents()

    # -- grabbing -------------------------------------------------------------------------------
    def image(self) -> QImage:
        """What the stage shows, exactly its size in pixels (device pixel ratio 1)."""
        root = self.widget
        img = QImage(root.width(), root.height(), QImage.Format_RGB32)
        img.setDevicePixelRatio(1.0)
        img.fill(root.palette().window().color())
        painter = QPainter(img)
        try:
            painter.setRenderHint(QPainter.Antialiasing)
            painter.setRenderHint(QPainter.TextAntialiasing)
            root.render(painter, QPoint())
        finally:
            painter.end()
        return img

    def frame(self) -> np.ndarray:
        """:meth:`image` as an (height, width, 3) uint8 RGB array."""
        img = self.image().convertToFormat(QImage.Format_RGB888)
        w, h, stride = img.width(), img.height(), img.bytesPerLine()
        buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=stride * h)
        return buf.reshape(h, stride)[:, :w * 3].reshape(h, w, 3).copy()

    def close(self) -> None:
        root = self.widget
        root.hide()
        root.deleteLater()
        if self.scene is not None:
            self.scene.deleteLater()
        self.context.deleteLater()

    def __enter__(self) -> "Stage":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _number(x: float) -> str:
    return f"{x:g}"


def _link_text(ab, ba) -> str:
    text = fmt.link_label(ab)
    return text if ab == ba else text + "  (\u2192)"


def _subtitles(doc) -> dict[str, str]:
    """Under each host: its address and its ISN when the scenario sets them (as the window)."""
    out = {}
    for name in doc.hosts():
        addr = doc.get(("hosts", name, "address"))
        isn = doc.get(("hosts", name, "isn"))
        bits = [str(addr)] if addr else []
        if isn is not None:
            bits.append(f"ISN {isn}")
        out[name] = " \u00b7 ".join(bits)
    return out


# ================================================================================== checking
def view_classes() -> dict[str, tuple[str, str] | None]:
    """The views a figure or a movie can show: key -> (module, class) as in the window's
    ``VIEWS``, after ``"topology"`` (the canvas, None)."""
    from tcplab.gui.mainwindow import VIEWS     # here: the window may import this module
    return {"topology": None, **{key: (module, cls) for key, module, cls in VIEWS}}


def view_names() -> tuple[str, ...]:
    return tuple(view_classes())


def check_view(view: str) -> str:
    if view not in view_classes():
        raise ValueError(f"unknown view {view!r}; views: {', '.join(view_names())}")
    return view


def check_size(size) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be two whole numbers of pixels (width, height), got "
                         f"{size!r}") from None
    (w0, h0), (w1, h1) = MIN_SIZE, MAX_SIZE
    if not (w0 <= w <= w1 and h0 <= h <= h1):
        raise ValueError(f"size {w}x{h} is outside {w0}x{h0} to {w1}x{h1} pixels")
    return w, h


def _suffix(path: Path, allowed: tuple[str, ...], what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        given = f"'{path.suffix}'" if path.suffix else "no suffix"
        raise ValueError(f"cannot write {what} to {path.name!r}: {given} is not one of "
                         f"{', '.join(allowed)}")
    return suffix


# =================================================================================== figures
def render_figure(source: Any, view: str, path: str | os.PathLike, *,
                  size: tuple[int, int] = DEFAULT_FIGURE_SIZE, theme: str | Theme = "light",
                  at_ns: int | None = None, scale: float = 2.0, clock: bool = False,
                  fit: bool = True) -> Path:
    """Write a picture of ``view`` showing the recording up to ``at_ns`` (default: the end) to
    ``path``, in the format its suffix names: ``.png`` (``size`` times ``scale`` pixels),
    ``.svg`` or ``.pdf`` (vector drawings of ``size`` screen pixels). ``fit`` zooms a view
    that has a Fit button (the ladder) to the whole run up to that time, instead of its latest
    moments; ``clock`` adds a strip with the title and the simulated time. Returns the path.

    Raises ValueError for an unknown view, suffix or theme, a size outside :data:`MIN_SIZE` to
    :data:`MAX_SIZE`, a time outside the recording or a scale that is not positive; OSError
    when the file cannot be written (nothing is left at ``path`` then)."""
    from tcplab.gui.views.export import export_widget
    path = Path(path)
    check_view(view)
    _suffix(path, FIGURE_SUFFIXES, "a figure")
    check_size(size)
    _theme(theme)
    if not scale > 0 or scale > 8:
        raise ValueError(f"scale must be above 0 and at most 8, got {scale!r}")
    rec = recording(source)
    end = end_time(rec)
    at = end if at_ns is None else int(at_ns)
    if not 0 <= at <= end:
        raise ValueError(f"time {at / _SEC:g} s is outside the recording (0 to {end / _SEC:g} s)")
    with Stage(rec, view, size=size, theme=theme, clock=clock) as stage:
        stage.set_clock_resolution(1_000)
        stage.advance(at)
        if fit and hasattr(stage.view, "fit"):
            stage.view.fit()
            stage._settle()
        return export_widget(stage.widget, path, scale=scale)


# ==================================================================================== movies
@dataclass(frozen=True)
class MoviePlan:
    """A checked movie: frame ``i`` shows simulated time ``start_ns + i * step_ns``, from the
    start to the first frame at or after ``end_ns``; ``frames`` frames at ``fps`` make
    ``seconds`` of movie."""

    path: Path
    format: str             # "gif" | "mp4"
    view: str
    start_ns: int
    end_ns: int
    speed: float            # simulated seconds per second of movie
    fps: int
    size: tuple[int, int]
    frames: int

    @property
    def step_ns(self) -> float:
        return self.speed * _SEC / self.fps

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def frame_time(self, i: int) -> int:
        return self.start_ns + round(i * self.step_ns)


def auto_speed(duration_ns: int) -> float:
    """The speed a movie of ``duration_ns`` of simulated time gets when none is chosen: the
    window's default (0.05: a 20 ms hop takes 0.4 s), made faster when the movie would last
    more than :data:`AUTO_MOVIE_SECONDS` ``[1]``, slower when it would last less than ``[0]``,
    in 1-2-5 steps."""
    shortest, longest = AUTO_MOVIE_SECONDS
    seconds = max(duration_ns, 1) / _SEC
    speed = DEFAULT_SPEED
    if seconds / speed > longest:
        speed = _nice(seconds / longest, up=True)
    elif seconds / speed < shortest:
        speed = _nice(seconds / shortest, up=False)
    return speed


def _nice(x: float, up: bool) -> float:
    """The nearest 1, 2 or 5 times a power of ten at or above ``x`` (``up``) or at or below."""
    exp = math.floor(math.log10(x))
    steps = [m * 10.0 ** e for e in (exp - 1, exp, exp + 1) for m in (1, 2, 5)]
    if up:
        value = min(v for v in steps if v >= x * (1 - 1e-9))
    else:
        value = max(v for v in steps if v <= x * (1 + 1e-9))
    return float(f"{value:.6g}")


def plan_movie(source: Any, path: str | os.PathLike, *, view: str = "topology",
               start_ns: int = 0, end_ns: int | None = None, speed: float | None = None,
               fps: int | None = None, size: tuple[int, int] | None = None) -> MoviePlan:
    """Check a movie's options against the recording and count its frames, without rendering
    anything (a dialog can show the frame count and length before it starts). ``speed`` None
    picks :func:`auto_speed`; ``fps`` and ``size`` None take the format's defaults
    (:data:`DEFAULT_FPS`, :data:`DEFAULT_MOVIE_SIZE`). Raises ValueError naming the option and
    the problem."""
    path = Path(path)
    fmt_ = _suffix(path, MOVIE_SUFFIXES, "a movie")[1:]
    check_view(view)
    w, h = check_size(DEFAULT_MOVIE_SIZE[fmt_] if size is None else size)
    fps = DEFAULT_FPS[fmt_] if fps is None else fps
    if isinstance(fps, bool) or not isinstance(fps, (int, np.integer)) \
            or not 1 <= fps <= MAX_FPS:
        raise ValueError(f"fps must be a whole number from 1 to {MAX_FPS}, got {fps!r}")
    if fmt_ == "gif" and fps > MAX_GIF_FPS:
        raise ValueError(f"fps {fps} is too fast for a GIF (viewers slow down frames shorter "
                         f"than 20 ms): use at most {MAX_GIF_FPS}, or MP4")
    if fmt_ == "mp4" and (w % 2 or h % 2):
        raise ValueError(f"size {w}x{h}: an MP4 (H.264, 4:2:0 colour) needs an even width and "
                         f"height")
    rec = recording(source)
    end = end_time(rec)
    start = int(start_ns)
    stop = end if end_ns is None else int(end_ns)
    if not 0 <= start <= end:
        raise ValueError(f"start {start / _SEC:g} s is outside the recording "
                         f"(0 to {end / _SEC:g} s)")
    if not 0 <= stop <= end:
        raise ValueError(f"end {stop / _SEC:g} s is outside the recording "
                         f"(0 to {end / _SEC:g} s)")
    if stop <= start:
        raise ValueError(f"the time range is empty: end {stop / _SEC:g} s is not after start "
                         f"{start / _SEC:g} s")
    if speed is None:
        speed = auto_speed(stop - start)
    elif isinstance(speed, bool) or not (isinstance(speed, (int, float))
                                         and math.isfinite(speed) and speed > 0):
        raise ValueError(f"speed must be a positive number of simulated seconds per second of "
                         f"movie, got {speed!r}")
    speed = float(speed)
    step = speed * _SEC / fps
    frames = math.ceil((stop - start) / step - 1e-9) + 1
    if frames > MAX_FRAMES:
        raise ValueError(f"the movie would have {frames:,} frames (at most {MAX_FRAMES:,}): "
                         f"raise the speed, lower the frame rate or shorten the time range")
    if fmt_ == "gif" and frames * w * h > MAX_GIF_PIXELS:
        raise ValueError(f"a GIF of {frames:,} frames of {w}x{h} is too big to make "
                         f"(at most {MAX_GIF_PIXELS // 1_000_000} megapixels in all): make an "
                         f"MP4, or lower the size, the frame rate or the time range, or raise "
                         f"the speed")
    return MoviePlan(path, fmt_, view, start, stop, speed, int(fps), (w, h), frames)


def write_movie(source: Any, path: str | os.PathLike, *, view: str = "topology",
                start_ns: int = 0, end_ns: int | None = None, speed: float | None = None,
                fps: int | None = None, size: tuple[int, int] | None = None,
                theme: str | Theme = "light", clock: bool = True,
                progress: Progress | None = None) -> int:
    """Replay ``[start_ns, end_ns]`` of the recording in ``view`` and write it to ``path`` as
    an animated GIF (loops for ever) or an MP4 (H.264, yuv420p), by suffix. Returns the number
    of frames written.

    Frame ``i`` shows simulated time ``start_ns + i * speed / fps`` seconds, for ``i`` from 0
    to the first frame at or after ``end_ns`` (default: the end of the recording); ``speed``
    is simulated seconds per second of movie (None: :func:`auto_speed`). ``fps`` and ``size``
    None take the format's defaults. ``clock`` adds a strip under the view with the scenario's
    title, the simulated time and the speed; its clock also makes every frame differ from the
    one before, so a GIF keeps every frame (Pillow merges identical neighbours into one
    longer frame, which plays the same but counts one).

    ``progress(done, total)`` is called once before the first frame (``done`` 0) and after
    every frame; when it returns False (not merely a falsy value) the export stops, its
    temporary file is deleted and :class:`ExportCancelled` is raised. Options are checked
    first (:func:`plan_movie`): ValueError says which is wrong. OSError when the file cannot be
    written. In every failure the file at ``path``, if any, is left as it was.
    """
    rec = recording(source)
    plan = plan_movie(rec, path, view=view, start_ns=start_ns, end_ns=end_ns, speed=speed,
                      fps=fps, size=size)
    _theme(theme)
    path = plan.path
    if path.is_dir():
        raise OSError(f"cannot write {path}: it is a folder")
    tmp = _temp_beside(path)
    writer = None
    try:
        writer = _GifWriter(tmp, plan) if plan.format == "gif" else _Mp4Writer(tmp, plan)
        with Stage(rec, plan.view, size=plan.size, theme=theme, clock=clock,
                   speed=plan.speed) as stage:
            stage.set_clock_resolution(plan.step_ns)
            if progress is not None and progress(0, plan.frames) is False:
                raise ExportCancelled(f"export of {path.name} cancelled before it started")
            for i in range(plan.frames):
                stage.advance(plan.frame_time(i), wall_dt=0.0 if i == 0 else 1.0 / plan.fps)
                writer.add(stage.frame())
                if progress is not None and progress(i + 1, plan.frames) is False:
                    raise ExportCancelled(f"export of {path.name} cancelled after {i + 1} of "
                                          f"{plan.frames} frames")
        writer.finish()
        writer = None
        os.replace(tmp, path.resolve() if path.is_symlink() else path)
    except BaseException:
        if writer is not None:
            writer.abort()
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return plan.frames


def _temp_beside(path: Path) -> str:
    """A new empty file beside ``path`` to write into and rename over it (as
    :func:`tcplab.fileio.write_atomic` does: the umask's permissions, or the existing file's;
    a symbolic link keeps pointing where it did)."""
    target = path.resolve() if path.is_symlink() else path
    tmp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.part{path.suffix}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as e:
        raise OSError(e.errno, f"cannot write {path}: {e.strerror or e} "
                               f"(folder {target.parent})") from None
    try:
        if target.exists():
            os.fchmod(fd, stat.S_IMODE(target.stat().st_mode))
    finally:
        os.close(fd)
    return str(tmp)


class _GifWriter:
    """Frames to an animated GIF through imageio's Pillow plugin, looping for ever. GIF counts
    frame delays in hundredths of a second: at a frame rate that does not divide 100 the delays
    alternate (30 fps: 30, 40, 30 ms...) so that frame ``i`` still starts at ``i / fps``. Each
    frame is reduced to a 256-colour palette of its own as it comes, so the frames held until
    the file is written take a third of the memory."""

    def __init__(self, tmp: str, plan: MoviePlan) -> None:
        import imageio.v3 as iio
        self._file = iio.imopen(tmp, "w", plugin="pillow", extension=".gif")
        starts = [round(i * 100 / plan.fps) * 10 for i in range(plan.frames + 1)]
        self._durations = [b - a for a, b in zip(starts, starts[1:])]

    def add(self, frame: np.ndarray) -> None:
        self._file.write(frame, duration=self._durations, loop=0, bits=8)

    def finish(self) -> None:
        self._file.close()

    def abort(self) -> None:
        try:
            self._file.images_to_write.clear()  # nothing to flush on close
        except AttributeError:
            pass
        try:
            self._file.close()
        except Exception:
            pass


class _Mp4Writer:
    """Frames to an MP4 file (H.264 in yuv420p, the colour format every player takes) through
    the ffmpeg binary of imageio-ffmpeg, streamed: no frame is kept."""

    def __init__(self, tmp: str, plan: MoviePlan) -> None:
        import imageio_ffmpeg
        self._gen = imageio_ffmpeg.write_frames(
            tmp, plan.size, fps=plan.fps, codec="libx264", pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p", quality=None, macro_block_size=2,
            output_params=["-crf", str(MP4_CRF), "-movflags", "+faststart", "-f", "mp4"])
        self._gen.send(None)

    def add(self, frame: np.ndarray) -> None:
        self._gen.send(np.ascontiguousarray(frame))

    def finish(self) -> None:
        self._gen.close()

    def abort(self) -> None:
        try:
            self._gen.close()
        except Exception:
            pass
