"""The shared time cursor as a control: a slider over the run so far, the cursor's time, and a
Live button. Dragging back shows every view as of that moment while the run may go on; Live
returns to the present (views follow the newest rows again)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from tcplab.gui import fmt
from tcplab.gui.context import TraceContext

STEPS = 10_000


class Timeline(QWidget):
    """``seekRequested(t_ns)``: the cursor was dragged past what the engine has run (a
    session's recorded end, ``context.horizon``, lies further): the engine should go there."""

    seekRequested = Signal(object)

    def __init__(self, context: TraceContext, parent=None) -> None:
        super().__init__(parent)
        self.context = context
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setObjectName("timeline")
        self.slider.setRange(0, STEPS)
        self.slider.setToolTip("The shared time cursor: drag back to see buffers, timers and "
                               "states as they were")
        self.label = QLabel()
        self.label.setObjectName("cursorTime")
        self.label.setMinimumWidth(150)
        self.live_button = QPushButton("Live")
        self.live_button.setObjectName("live")
        self.live_button.setCheckable(True)
        self.live_button.setToolTip("Follow the run as it goes")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 0, 6, 0)
        lay.addWidget(QLabel("Cursor"))
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.label)
        lay.addWidget(self.live_button)
        self.slider.valueChanged.connect(self._dragged)
        self.live_button.clicked.connect(self._live_clicked)
        context.cursorChanged.connect(lambda _t: self.refresh())
        context.advanced.connect(lambda _a, _b: self.refresh())
        context.reset.connect(self.refresh)
        self._updating = False
        self.refresh()

    def _end(self) -> int:
        ctx = self.context
        return max(ctx.now, ctx.end_time(), ctx.horizon if ctx.trace is not None else 0)

    def refresh(self) -> None:
        ctx = self.context
        end = self._end()
        self._updating = True
        self.slider.setEnabled(ctx.trace is not None and end > 0)
        self.slider.setValue(int(STEPS * ctx.cursor / end) if end else STEPS)
        self.live_button.setChecked(ctx.live)
        self.label.setText(f"{fmt.sim_time(ctx.cursor)}" + (
            "" if ctx.live else "  (replaying)" if ctx.following else "  (past)"))
        self._updating = False

    def _dragged(self, value: int) -> None:
        if self._updating:
            return
        ctx = self.context
        end = self._end()
        t = end * value // STEPS
        if t > max(ctx.now, ctx.end_time()):
            self.seekRequested.emit(t)
            return
        ctx.set_cursor(t, live=t >= max(ctx.now, ctx.end_time()))

    def _live_clicked(self) -> None:
        self.context.go_live()
        self.refresh()
