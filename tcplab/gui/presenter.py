"""Presenter mode: a lesson played step by step in a full-screen lab window, for a classroom.

``Presenter(window)`` drives a :class:`~tcplab.gui.mainwindow.LabWindow`: :meth:`start` opens
the lesson's scenario, goes full screen with the high-contrast :data:`PRESENTER` theme, large
fonts and thick lines, puts the editing docks away, shows one view under the canvas (the
step's ``focus``), and a caption column on the right: the lesson, the simulated clock, the step
counter, the step's caption, its question and then its answer, the latest narration line and
the key to the packets. A clicker drives it:

===================  =================================================================
PageDown, Space      next: show the next step (its question first, if it has one) or
                     play to the step's stop; during an animation, finish it at once
PageUp               back one click: the run is replayed from time zero to the earlier
                     stop (the engine is deterministic, so it is the same run)
B or .               black screen on and off (PageDown, Space and PageUp also bring the
                     picture back, without moving on)
Escape               leave presenter mode: window, fonts and theme as they were
===================  =================================================================

The window's own controls keep working (play, step, the views, the knobs); the lesson resumes
from wherever the run is: a later step plays on from there, an earlier one replays from zero.

:func:`install` adds the "Lessons" menu (the built-in lessons in order, "Open Lesson File…",
and "Presenter Mode", F5) to a window.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QFont, QKeySequence, QPainter
from PySide6.QtWidgets import (QAbstractSpinBox, QApplication, QComboBox, QDockWidget,
                               QFileDialog, QFrame, QHBoxLayout, QLabel, QLineEdit, QMenu,
                               QMessageBox, QPlainTextEdit, QScrollArea, QSizePolicy, QTextEdit,
                               QVBoxLayout, QWidget)

from tcplab import lessons as L
from tcplab.gui import icons
from tcplab.gui.canvas import LEGEND, draw_shape
from tcplab.gui.theme import THEMES, Theme, apply_theme
from tcplab.scenario.document import ScenarioDocument
from tcplab.sim.clock import SEC
from tcplab.trace.narrate import Narrator

#: High contrast for projectors: black on white, saturated segment colours, dark links.
PRESENTER = Theme("presenter", window="#ffffff", base="#ffffff", text="#000000",
                  muted="#303a42", canvas="#ffffff", grid="#d5dade", link="#263238",
                  link_selected="#0039cb", label_bg="#f2ffffff", icon_stroke="#000000",
                  syn="#1b5e20", synack="#00695c", data="#0d47a1", ack="#424242",
                  fin="#6a1b9a", rst="#b71c1c", retx="#e65100", drop="#d50000",
                  queue="#f57f17", error="#b71c1c")
#: Widget text in presenter mode: 18 pt (24 px) on a 1080-line screen, about the smallest that
#: reads across a room; in proportion on other screens (12 pt on 720 lines), never smaller than
#: the desktop's own font.
FONT_PT = 18.0
FONT_SCREEN_LINES = 1080
#: Caption, question/answer and narration sizes relative to the widget text.
CAPTION_SCALE = 1.3
QA_SCALE = 1.15
NARRATION_SCALE = 1.0
#: The caption column's share of the window's width.
CAPTION_WIDTH = 0.33
QUESTION_BG, QUESTION_EDGE = "#fff1b8", "#e6a100"
ANSWER_BG, ANSWER_EDGE = "#d7ecc4", "#2e6b12"
#: Curves in the graph views are drawn this much thicker, their markers this much larger.
LINE_SCALE = 2.0
MARKER_SCALE = 1.5
#: A view below the canvas may be narrower than it would like (it is clipped, not the window
#: pushed past the screen).
MIN_VIEW_WIDTH = 200
#: The canvas may zoom in this far when fitting the topology (the window allows 2.2).
CANVAS_MAX_FIT = 4.0
#: Docks that are for editing, hidden while presenting.
EDIT_DOCKS = ("properties", "connections", "knobs")
#: The view shown below the canvas until a step asks for another.
DEFAULT_FOCUS = "ladder"
EDIT_TOOLBARS = ("file", "palette")
FRAME_MS = 16
#: A frame never plays more than this much wall time (a slow frame does not jump ahead).
MAX_FRAME_S = 0.1

NEXT_KEYS = (Qt.Key_PageDown, Qt.Key_Space)
PREVIOUS_KEYS = (Qt.Key_PageUp,)
BLACK_KEYS = (Qt.Key_B, Qt.Key_Period)
LEAVE_KEYS = (Qt.Key_Escape,)
#: Keys a text field needs for itself: not taken from it while presenting.
TYPING_KEYS = (Qt.Key_Space, Qt.Key_B, Qt.Key_Period)


@dataclass(frozen=True)
class Beat:
    """One click: the title card (step None), a step's question, or a step played."""

    step: int | None          # index into lesson.steps
    phase: str                # "title", "question" or "play"


def beats_of(lesson: L.Lesson) -> list[Beat]:
    out = [Beat(None, "title")]
    for i, step in enumerate(lesson.steps):
        if step.question:
            out.append(Beat(i, "question"))
        out.append(Beat(i, "play"))
    return out


# ============================================================================ look
def apply_window_theme(window, theme: Theme) -> None:
    """Everything LabWindow.set_dark does to show ``theme``, without saving it as a setting."""
    window.theme = theme
    apply_theme(QApplication.instance(), theme)
    window.scene.set_theme(theme)
    for view in window.views.values():
        view.set_theme(theme)
    window._problem.setStyleSheet(f"color: {theme.error}; font-weight: bold;")
    for a in window.actions_by_key.values():
        if a.data():
            a.setIcon(icons.icon(a.data(), theme.icon_stroke))


class Legend(QWidget):
    """The key to packet shapes and colours, large enough to read across a room, in as many
    rows as its width needs."""

    TEXT_AT = 3.0       # where an entry's text starts, in shape sizes from the entry's left

    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Preferred)

    def _items(self, width: float) -> list[tuple[str, str, float, int]]:
        """(kind, text, x, row) of every entry laid out in ``width`` px."""
        fm = self.fontMetrics()
        s = fm.height() * 0.42
        out, x, row = [], 0.0, 0
        for kind, text in LEGEND:
            w = self.TEXT_AT * s + fm.horizontalAdvance(text) + 1.6 * s
            if x > 0 and x + w > width:
                x, row = 0.0, row + 1
            out.append((kind, text, x, row))
            x += w
        return out

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        rows = self._items(width)[-1][3] + 1
        return int(rows * self.fontMetrics().height() * 1.35)

    def sizeHint(self) -> QSize:
        return QSize(300, self.heightForWidth(300))

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        fm = self.fontMetrics()
        s = fm.height() * 0.42
        lh = fm.height() * 1.35
        for kind, text, x, row in self._items(self.width()):
            y = row * lh + lh / 2
            p.save()
            p.translate(x + s, y)
            draw_shape(p, kind, s, self.theme.color(kind))
            p.restore()
            p.setPen(self.theme.color("text"))
            p.drawText(int(x + self.TEXT_AT * s), int(y - fm.height() / 2),
                       fm.horizontalAdvance(text) + 4, fm.height(),
                       Qt.AlignVCenter | Qt.AlignLeft, text)
        p.end()


class CaptionBar(QFrame):
    """What the room reads, in a column beside the lab: the lesson and the step counter, the
    simulated clock, the caption, the question and then its answer, the latest narration line,
    and the key to the packets."""

    def __init__(self, theme: Theme, base_pt: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("presenterCaption")
        t = theme
        self.setStyleSheet(
            f"#presenterCaption {{ background: {t.base}; }}"
            f"QLabel {{ color: {t.text}; }}"
            f"QLabel#question {{ background: {QUESTION_BG}; border-left: 12px solid "
            f"{QUESTION_EDGE}; padding: 8px 12px; }}"
            f"QLabel#answer {{ background: {ANSWER_BG}; border-left: 12px solid {ANSWER_EDGE};"
            f" padding: 8px 12px; }}"
            f"QLabel#narration {{ border-top: 2px solid {t.grid}; padding-top: 8px; }}"
            f"QLabel#hint {{ color: {t.muted}; }}")

        def label(name: str, scale: float, bold: bool = False, wrap: bool = True) -> QLabel:
            lab = QLabel()
            lab.setObjectName(name)
            f = QFont(self.font())
            f.setPointSizeF(base_pt * scale)
            f.setBold(bold)
            lab.setFont(f)
            lab.setWordWrap(wrap)
            lab.setTextFormat(Qt.PlainText)
            return lab

        self.title = label("lessonTitle", 1.15, bold=True)
        self.counter = label("counter", 1.15, bold=True, wrap=False)
        self.clock = label("clock", 1.0, bold=False, wrap=False)
        self.clock.setFont(QFont("monospace", int(base_pt)))
        self.caption = label("caption", CAPTION_SCALE)
        self.question = label("question", QA_SCALE, bold=True)
        self.answer = label("answer", QA_SCALE)
        for lab in (self.question, self.answer):
            lab.setTextFormat(Qt.RichText)
        self.narration = label("narration", NARRATION_SCALE)
        self.hint = label("hint", 0.8)
        self.legend = Legend(theme)
        f = QFont(self.font())
        f.setPointSizeF(base_pt * 0.9)
        self.legend.setFont(f)
        self.counter.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.question_text: str | None = None       # as given, without the markup
        self.answer_text: str | None = None

        top = QHBoxLayout()
        top.setSpacing(16)
        top.addWidget(self.clock, 1)
        top.addWidget(self.counter)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 16, 24, 16)
        lay.setSpacing(14)
        lay.addWidget(self.title)
        lay.addLayout(top)
        lay.addWidget(self.caption)
        lay.addWidget(self.question)
        lay.addWidget(self.answer)
        lay.addWidget(self.narration)
        lay.addStretch(1)
        lay.addWidget(self.hint)
        lay.addWidget(self.legend)

    def show_text(self, caption: str, question: str | None, answer: str | None) -> None:
        """Show a caption, with a question (None: none) and its answer (None: not yet)."""
        self.question_text, self.answer_text = question, answer
        self.caption.setText(caption)
        self.question.setText(f"Question<br>{_html(question)}" if question else "")
        self.question.setVisible(bool(question))
        self.answer.setText(f"<b>Answer</b><br>{_html(answer)}" if answer else "")
        self.answer.setVisible(bool(answer))

    def show_narration(self, t_ns: int | None, text: str | None) -> None:
        self.narration.setText(f"{t_ns / 1e9:.4f} s: {text}" if text else "")
        self.narration.setVisible(bool(text))


def _html(text: str) -> str:
    return html.escape(text, quote=False).replace("\n", "<br>")


class BlackScreen(QWidget):
    """Covers the whole window in black (the clicker's "B")."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("presenterBlack")
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(self.backgroundRole(), QColor("#000000"))
        self.setPalette(pal)
        self.hide()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#000000"))
        p.end()


# ============================================================================ presenter
class Presenter(QObject):
    """Presents lessons in a LabWindow. ``changed`` is emitted after every click and when a
    step's animation ends (tests and the menu follow it)."""

    changed = Signal()
    activeChanged = Signal(bool)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.lesson: L.Lesson | None = None
        self.active = False
        self.stops: list[int] = []
        self.beats: list[Beat] = []
        self.pos = 0
        #: Multiplies every step's speed (rehearsing, tests); 1: as the lesson says.
        self.speed_scale = 1.0
        self.last_lesson: L.Lesson | None = None
        self.focused: str | None = None
        self.bar: CaptionBar | None = None
        self._dock: QDockWidget | None = None
        self._black: BlackScreen | None = None
        self._saved: dict | None = None
        self._narrator: Narrator | None = None
        self._narrator_trace = None
        self._target: int | None = None
        self._start_row = 0
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._tick)
        self._last_wall = 0.0
        self._sim = 0.0
        self._speed = L.DEFAULT_SPEED
        self._rows: L.CaptionRows | None = None
        self._restore: list = []        # (callable, args) undoing what presenting changed
        self._watcher = _WindowWatcher(self)

    # -- state -------------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        """An animation towards the current step's stop is running."""
        return self._timer.isActive()

    @property
    def is_black(self) -> bool:
        return self._black is not None and self._black.isVisible()

    @property
    def beat(self) -> Beat | None:
        return self.beats[self.pos] if self.active and self.beats else None

    @property
    def step_number(self) -> int:
        """The step shown, counted from 1 (0: the title card)."""
        b = self.beat
        return 0 if b is None or b.step is None else b.step + 1

    def counter_text(self) -> str:
        return f"{self.step_number} / {len(self.lesson.steps) if self.lesson else 0}"

    def target_time(self, pos: int | None = None) -> int | None:
        """Where the run stands once beat ``pos`` is shown (None: at the start, nothing run)."""
        b = self.beats[self.pos if pos is None else pos]
        if b.step is None:
            return None
        if b.phase == "play":
            return self.stops[b.step]
        return self.stops[b.step - 1] if b.step > 0 else None

    # -- public ------------------------------------------------------------------------------
    def start(self, lesson: L.Lesson | str | Path) -> bool:
        """Open ``lesson`` (a Lesson, a built-in name or a file) in presenter mode. Problems
        with the lesson are shown in a message box; returns whether it started."""
        w = self.window
        try:
            if not isinstance(lesson, L.Lesson):
                p = Path(lesson)
                lesson = L.load_lesson(p) if p.suffix == ".toml" or p.exists() \
                    else L.load_builtin(str(lesson))
            stops = lesson.stop_times()
        except L.LessonError as e:
            QMessageBox.warning(w, "Cannot present the lesson", str(e))
            return False
        if not self.active and not w._ask_save():
            return False
        self._stop_animation()
        w.controller.pause()
        self.lesson, self.last_lesson, self.stops = lesson, lesson, stops
        self.beats = beats_of(lesson)
        self.pos = 0
        doc = ScenarioDocument(lesson.raw, None, origin=lesson.scenario_name)
        if not self.active:
            self._save_window()
        w.set_document(doc)
        if lesson.numbering and "ladder" in w.views:
            w.views["ladder"].set_numbering(lesson.numbering)
        plots = w.views.get("plots")
        if plots is not None and hasattr(plots, "set_panel_visible"):
            shown = lesson.plots or tuple(self._saved.get("panels", L.PLOT_PANELS))
            for key in L.PLOT_PANELS:
                plots.set_panel_visible(key, key in shown)
        if not self.active:
            self._enter_look()
            self.active = True
            QApplication.instance().installEventFilter(self)
            self._sync_action(True)
            self.activeChanged.emit(True)
        self.bar.title.setText(lesson.title)
        self._show_beat(animate=False)
        return True

    def stop(self) -> None:
        """Leave presenter mode: the window as it was before (the lesson's scenario stays
        open)."""
        if not self.active:
            return
        self._stop_animation()
        QApplication.instance().removeEventFilter(self)
        self.active = False
        self._leave_look()
        self._sync_action(False)
        self.activeChanged.emit(False)
        self.changed.emit()

    def next(self) -> None:
        """One click forward (finishes a running animation first)."""
        if not self.active:
            return
        if self.is_black:
            self.black(False)
            return
        if self.playing:
            self._finish()
            return
        if self.pos + 1 >= len(self.beats):
            self.bar.hint.setText("End of the lesson · PageUp goes back · Esc leaves")
            return
        self.pos += 1
        self._show_beat(animate=True)

    def previous(self) -> None:
        """One click back: the engine goes back to where that click stood (from its nearest
        snapshot; actions made after that moment are dropped)."""
        if not self.active:
            return
        if self.is_black:
            self.black(False)
            return
        self._stop_animation()
        if self.pos == 0:
            return
        self.pos -= 1
        self._show_beat(animate=False)

    def focus(self, key: str) -> None:
        """Show view ``key`` below the canvas, alone and full width (the others are hidden;
        View in the menu bar brings any of them back)."""
        w = self.window
        if key not in w.docks:
            return
        for other in L.VIEWS:
            if other != key and other in w.docks:
                w.docks[other].hide()
        w.docks[key].show()
        w.docks[key].raise_()
        self.focused = key
        if self.active:
            QTimer.singleShot(0, self._arrange)

    def black(self, on: bool | None = None) -> None:
        """Black screen on, off, or toggled (None)."""
        if not self.active or self._black is None:
            return
        on = not self.is_black if on is None else on
        if on:
            self._black.setGeometry(self.window.rect())
            self._black.show()
            self._black.raise_()
        else:
            self._black.hide()
        self.changed.emit()

    # -- beats -------------------------------------------------------------------------------
    def _show_beat(self, animate: bool) -> None:
        w = self.window
        lesson = self.lesson
        beat = self.beats[self.pos]
        target = self.target_time()
        step = lesson.steps[beat.step] if beat.step is not None else None
        focus = step.focus if step is not None and step.focus else None
        if beat.step is None:
            focus = lesson.focus or DEFAULT_FOCUS
        if focus:
            self.focus(focus)
        if step is None:
            self.bar.show_text(lesson.description or lesson.title, None, None)
            self.bar.hint.setText("PageDown or Space: next · PageUp: back · B: black screen · "
                                  "Esc: leave")
        else:
            self.bar.show_text(step.caption, step.question,
                               step.answer if beat.phase == "play" else None)
            self.bar.hint.setText("")
        self.bar.counter.setText(self.counter_text())
        prev = self.stops[beat.step - 1] if step is not None and beat.step > 0 else None
        self._target = target
        run = w.controller.run
        if run is None:
            self.changed.emit()
            return
        w.controller.pause()
        if target is None:
            if run.now > 0 or run.net.sched.events_processed > 0:
                w.controller.restart()
        elif run.now > target:
            # Back to the click's moment through the engine's snapshots (fast even late in a
            # long lesson); what was done in the class after it is forgotten.
            w.controller.seek(target, keep_future=False)
        self._start_row = L.rows_until(w.controller.run.trace, prev) if step is not None else 0
        if beat.phase == "play" and target is not None and self._behind(target):
            speed = lesson.step_speed(step) * self.speed_scale
            w.set_speed(None if math.isinf(speed) else speed)
            if animate and not math.isinf(speed):
                self._speed = speed
                self._last_wall = time.perf_counter()
                self._sim = float(w.controller.run.now)
                self._rows = None
                self._timer.start()
                self._update_live()
                self.changed.emit()
                return
            w.controller.run_to(target)
        self._arrived()

    def _tick(self) -> None:
        w = self.window
        run = w.controller.run
        if run is None or self._target is None:
            self._stop_animation()
            return
        wall = time.perf_counter()
        dt = max(0.0, min(wall - self._last_wall, MAX_FRAME_S))
        self._last_wall = wall
        self._sim = max(self._sim, float(run.now)) + dt * self._speed * SEC
        t = min(int(self._sim), self._target)
        w.controller.run_to(t)
        if not self._behind(self._target) or w.controller.at_end:
            self._finish()
        else:
            self._update_live()

    def _behind(self, t: int) -> bool:
        """Events due at or before ``t`` are still waiting to run."""
        run = self.window.controller.run
        if run is None:
            return False
        nxt = run.next_time()
        return nxt is not None and nxt <= t and nxt <= run.scenario.duration

    def _finish(self) -> None:
        """Play the rest of the current step at once."""
        self._stop_animation()
        w = self.window
        if self._target is not None and w.controller.run is not None:
            if self._behind(self._target):
                w.controller.run_to(self._target)
        self._arrived()

    def _stop_animation(self) -> None:
        if self._timer.isActive():
            self._timer.stop()

    def _narr(self):
        trace = self.window.controller.run.trace
        if self._narrator is None or self._narrator_trace is not trace:
            self._narrator = Narrator(trace)
            self._narrator_trace = trace
        return self._narrator

    def _update_live(self) -> None:
        run = self.window.controller.run
        self._show_clock()
        if run is None:
            return
        if self._rows is None or self._rows.trace is not run.trace:
            self._rows = L.CaptionRows(run.trace, self._start_row)
        self._show_row(self._rows.update())

    def _show_row(self, row: int | None) -> None:
        run = self.window.controller.run
        if row is None:
            self.bar.show_narration(None, None)
        else:
            self.bar.show_narration(run.trace.t[row], self._narr().explain(row))

    def _show_clock(self) -> None:
        run = self.window.controller.run
        now = run.now if run is not None else 0
        self.bar.clock.setText(f"t = {now / 1e9:.4f} s")

    def step_row(self, k: int) -> int | None:
        """The trace row step ``k`` (an index) is told by once played: the event it stops at,
        or else its latest notable row (:func:`tcplab.lessons.caption_row`), or else, when
        nothing happened in it, the last one before."""
        run = self.window.controller.run
        if run is None:
            return None
        start = L.rows_until(run.trace, self.stops[k - 1] if k > 0 else None)
        step = self.lesson.steps[k]
        row = step.event.find(run.trace, start) if step.event is not None else None
        if row is None:
            row = L.caption_row(run.trace, start)
        if row is None:         # nothing happened in the step: what happened last
            row = L.caption_row(run.trace, 0)
        return row

    def _arrived(self) -> None:
        """The run stands where the beat wants it: the narration line and the selection (the
        event a step stops at is selected in every view)."""
        w = self.window
        beat = self.beats[self.pos]
        self._show_clock()
        row = None
        if beat.phase == "play":
            row = self.step_row(beat.step)
            if row is not None and self.lesson.steps[beat.step].event is not None:
                w.context.select(event=row, source="presenter")
        elif beat.phase == "question" and beat.step > 0:
            row = self.step_row(beat.step - 1)
        self._show_row(row)
        self.changed.emit()

    # -- keys --------------------------------------------------------------------------------
    def _ours(self, obj) -> bool:
        w = self.window
        if obj is w or obj is w.windowHandle():
            return True
        return isinstance(obj, QWidget) and obj.window() is w

    def eventFilter(self, obj, event) -> bool:
        et = event.type()
        if et not in (QEvent.ShortcutOverride, QEvent.KeyPress) or not self.active:
            return False
        if not self._ours(obj):
            return False
        if event.modifiers() & (Qt.ControlModifier | Qt.AltModifier | Qt.MetaModifier):
            return False
        key = event.key()
        typing = isinstance(obj, (QLineEdit, QAbstractSpinBox)) or (
            isinstance(obj, (QTextEdit, QPlainTextEdit)) and not obj.isReadOnly()) or (
            isinstance(obj, QComboBox) and obj.isEditable())
        if typing and key in TYPING_KEYS:
            return False
        if key in NEXT_KEYS:
            act = self.next
        elif key in PREVIOUS_KEYS:
            act = self.previous
        elif key in BLACK_KEYS:
            act = self.black
        elif key in LEAVE_KEYS:
            act = self.stop
        else:
            return False
        if et == QEvent.ShortcutOverride:
            event.accept()      # the window's own shortcut for this key (Space: play) waits
            return True
        if not event.isAutoRepeat():
            act()
        return True

    # -- entering and leaving the look -------------------------------------------------------
    def _save_window(self) -> None:
        w = self.window
        app = QApplication.instance()
        self._saved = {
            "state": w.saveState(),
            "rect": w.geometry(),
            "full_screen": w.isFullScreen(),
            "corners": {c: w.corner(c) for c in (Qt.TopRightCorner, Qt.BottomRightCorner)},
            "maximized": w.isMaximized(),
            "font": QFont(app.font()),
            "clock_font": QFont(w.clock_label.font()),
            "speed": w.controller.speed,
            "numbering": getattr(w.views.get("ladder"), "numbering", None),
            "numbering_chosen": getattr(w.views.get("ladder"), "_numbering_chosen", False),
        }
        plots = w.views.get("plots")
        if plots is not None and hasattr(plots, "buttons"):
            self._saved["panels"] = tuple(k for k in L.PLOT_PANELS
                                          if k in plots.buttons and plots.buttons[k].isChecked())

    def _enter_look(self) -> None:
        w = self.window
        app = QApplication.instance()
        base = app.font()
        screen = w.screen().geometry() if w.screen() is not None else None
        lines = screen.height() if screen is not None else FONT_SCREEN_LINES
        pt = max(base.pointSizeF(), round(FONT_PT * lines / FONT_SCREEN_LINES, 1))
        big = QFont(base)
        big.setPointSizeF(pt)
        app.setFont(big)
        cf = QFont(w.clock_label.font())
        cf.setPointSizeF(pt * 1.1)
        w.clock_label.setFont(cf)
        apply_window_theme(w, PRESENTER)
        for key in EDIT_DOCKS:
            if key in w.docks:
                w.docks[key].hide()
        for key in EDIT_TOOLBARS:
            if key in w.toolbars:
                w.toolbars[key].hide()
        # A view's own minimum width (a long status line, a row of controls at 18 pt) must not
        # push the window past the screen: the view is clipped instead.
        for key in L.VIEWS:
            if key in w.docks and w.docks[key].widget() is not None:
                inner = w.docks[key].widget()
                self._restore.append((inner.setMinimumSize, (inner.minimumSize(),)))
                inner.setMinimumWidth(MIN_VIEW_WIDTH)
        self._thicken()
        w.view.show_legend = False        # the caption bar has a legend the room can read
        w.view.MAX_FIT = CANVAS_MAX_FIT
        self.bar = CaptionBar(PRESENTER, pt)
        # Long texts never push the window larger: the column scrolls (with the wheel). No scroll
        # bar is shown: one that comes and goes would change the width the text wraps to, and
        # so the height that decides whether it is needed.
        scroll = QScrollArea()
        scroll.setObjectName("presenterScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(self.bar)
        dock = QDockWidget("Lesson", w)
        dock.setObjectName("dock:presenter")
        dock.setFeatures(QDockWidget.NoDockWidgetFeatures)
        dock.setTitleBarWidget(QWidget())
        dock.setWidget(scroll)
        # the caption column takes the whole height on the right
        w.setCorner(Qt.TopRightCorner, Qt.RightDockWidgetArea)
        w.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
        w.addDockWidget(Qt.RightDockWidgetArea, dock)
        if screen is not None:
            dock.setMinimumWidth(int(screen.width() * CAPTION_WIDTH * 0.9))
        self._dock = dock
        self._black = BlackScreen(w)
        w.installEventFilter(self._watcher)
        w.showFullScreen()
        self._sync_fullscreen(True)
        QTimer.singleShot(0, self._arrange)
        self._arrange()

    def _thicken(self) -> None:
        """Thicker curves and larger markers in the graph views (the ladder and the canvas grow
        their lines with the font and the zoom). Pens come back with the theme on leaving;
        marker sizes are put back explicitly."""
        try:
            import pyqtgraph as pg
        except ImportError:     # pragma: no cover - a dependency of the views
            return
        for view in self.window.views.values():
            for gv in view.findChildren(pg.GraphicsView):
                for item in gv.scene().items():
                    if isinstance(item, pg.PlotDataItem) or (
                            isinstance(item, pg.PlotCurveItem)
                            and not isinstance(item.parentItem(), pg.PlotDataItem)):
                        pen = pg.mkPen(item.opts.get("pen"))
                        if pen.style() != Qt.NoPen:
                            pen.setWidthF(max(pen.widthF(), 1.0) * LINE_SCALE)
                            item.setPen(pen)
                    if isinstance(item, pg.PlotDataItem) and item.opts.get("symbol") is not None:
                        size = item.opts.get("symbolSize", 10)
                        self._restore.append((item.setSymbolSize, (size,)))
                        item.setSymbolSize(size * MARKER_SCALE)
                    elif isinstance(item, pg.ScatterPlotItem) and not isinstance(
                            item.parentItem(), pg.PlotDataItem):
                        size = item.opts.get("size", 7)
                        self._restore.append((item.setSize, (size,)))
                        item.setSize(size * MARKER_SCALE)

    def _arrange(self) -> None:
        """Share the screen: the caption column on the right, the canvas above the views on
        the left (the ladder wider than the endpoint views)."""
        w = self.window
        if self._dock is None:
            return
        width, h = max(w.width(), 800), max(w.height(), 600)
        d = w.docks
        w.resizeDocks([self._dock], [int(width * CAPTION_WIDTH)], Qt.Horizontal)
        if self.focused in d:
            w.resizeDocks([d[self.focused]], [int(h * 0.52)], Qt.Vertical)
        w.view.fit()

    def _leave_look(self) -> None:
        w = self.window
        s = self._saved or {}
        w.removeEventFilter(self._watcher)
        if self._black is not None:
            self._black.hide()
            self._black.deleteLater()
            self._black = None
        if self._dock is not None:
            w.removeDockWidget(self._dock)
            self._dock.setParent(None)
            self._dock.deleteLater()
            self._dock = None
            self.bar = None
        QApplication.instance().setFont(s.get("font", QApplication.instance().font()))
        if "clock_font" in s:
            w.clock_label.setFont(s["clock_font"])
        dark = w.actions_by_key["theme"].isChecked()
        apply_window_theme(w, THEMES["dark" if dark else "light"])
        w.view.show_legend = True
        if "MAX_FIT" in vars(w.view):
            del w.view.MAX_FIT
        plots = w.views.get("plots")
        if plots is not None and "panels" in s:
            for key in L.PLOT_PANELS:
                plots.set_panel_visible(key, key in s["panels"])
        for undo, args in reversed(self._restore):
            try:
                undo(*args)
            except RuntimeError:        # the object is gone
                pass
        self._restore = []
        ladder = w.views.get("ladder")
        if ladder is not None and s.get("numbering"):
            ladder.set_numbering(s["numbering"], chosen=False)
            ladder._numbering_chosen = s.get("numbering_chosen", False)
        if "speed" in s:
            w.set_speed(s["speed"])
        # let the widgets take the normal fonts and sizes before the window's geometry is put
        # back (else the presenter's larger minimum sizes would still hold it)
        QApplication.sendPostedEvents()
        if s.get("full_screen"):
            w.showFullScreen()
        elif s.get("maximized"):
            w.showMaximized()
        else:
            w.showNormal()
        if "rect" in s and not s.get("full_screen") and not s.get("maximized"):
            w.setGeometry(s["rect"])
        for corner, area in s.get("corners", {}).items():
            w.setCorner(corner, area)
        if "state" in s:
            w.restoreState(s["state"])
        self._sync_fullscreen(bool(s.get("full_screen")))
        if "rect" in s and not s.get("full_screen") and not s.get("maximized"):
            QTimer.singleShot(0, lambda r=s["rect"]: w.setGeometry(r))
        QTimer.singleShot(0, w.view.fit)
        self._saved = None

    def _sync_fullscreen(self, on: bool) -> None:
        a = self.window.actions_by_key.get("fullscreen")
        if a is not None:
            a.blockSignals(True)
            a.setChecked(on)
            a.blockSignals(False)

    def _sync_action(self, on: bool) -> None:
        a = self.window.actions_by_key.get("presenter")
        if a is not None:
            a.blockSignals(True)
            a.setChecked(on)
            a.blockSignals(False)


class _WindowWatcher(QObject):
    """While presenting: the black screen follows the window's size, the layout is shared out
    again after a resize, and closing the window leaves presenter mode first (so the window
    saves its own layout, not the presenter's)."""

    def __init__(self, presenter: Presenter) -> None:
        super().__init__(presenter)
        self.presenter = presenter

    def eventFilter(self, obj, event) -> bool:
        p = self.presenter
        et = event.type()
        if et == QEvent.Resize:
            if p._black is not None:
                p._black.setGeometry(p.window.rect())
            if p.active:
                QTimer.singleShot(0, p._arrange)
        elif et == QEvent.Close and p.active:
            p.stop()
        return False


# ============================================================================ the menu
def install(window) -> None:
    """Give ``window`` a presenter (``window.presenter``) and a "Lessons" menu: the built-in
    lessons in order, "Open Lesson File…", and "Presenter Mode" (F5) for the last lesson.
    Installing twice changes nothing (the window installs it itself)."""
    if isinstance(getattr(window, "presenter", None), Presenter):
        return
    presenter = Presenter(window)
    window.presenter = presenter
    bar = window.menuBar()
    menu = QMenu("&Lessons", bar)
    menu.setObjectName("menu:lessons")
    help_menu = next((a for a in bar.actions() if a.text() == "&Help"), None)
    if help_menu is not None:
        bar.insertMenu(help_menu, menu)
    else:
        bar.addMenu(menu)
    for number, (name, path) in enumerate(L.builtin_lessons().items(), start=1):
        try:
            title = L.load_lesson(path).title
        except L.LessonError:
            title = name
        text = f"{number}. {title}".replace("&", "&&")
        text = f"&{text}" if number < 10 else f"1&0{text[2:]}" if number == 10 else text
        a = menu.addAction(text, lambda p=path: presenter.start(p))
        a.setObjectName(f"lesson:{name}")
    menu.addSeparator()
    menu.addAction("&Open Lesson File…", lambda: _open_lesson_file(window))
    menu.addSeparator()
    action = QAction("&Presenter Mode", window)
    action.setObjectName("action:presenter")
    action.setShortcut(QKeySequence("F5"))
    action.setCheckable(True)
    action.setStatusTip("Present a lesson full screen, one click at a time (Esc leaves)")
    action.setToolTip("Presenter Mode (F5)")

    def toggled(on: bool) -> None:
        if on:
            lesson = presenter.last_lesson
            if lesson is None:
                lessons = L.builtin_lessons()
                lesson = next(iter(lessons.values()), None)
            if lesson is None or not presenter.start(lesson):
                action.blockSignals(True)
                action.setChecked(False)
                action.blockSignals(False)
        else:
            presenter.stop()

    action.toggled.connect(toggled)
    window.actions_by_key["presenter"] = action
    window.addAction(action)
    menu.addAction(action)
    window.lessons_menu = menu


def _open_lesson_file(window) -> None:
    start = str(window.settings.value("last_lesson_dir", str(L.lessons_dir())))
    path, _ = QFileDialog.getOpenFileName(window, "Open lesson", start,
                                          "Lessons (*.toml);;All files (*)")
    if path:
        window.settings.setValue("last_lesson_dir", str(Path(path).resolve().parent))
        window.presenter.start(Path(path))
