"""Stacked plots of one data direction over time, x axes linked and one shared time cursor.

From top to bottom, all for the connection that sends the data (picked as in the
time-sequence graph) and read from trace rows only:

``window``  cwnd and ssthresh (RFC 5681 2: the sender's congestion window and slow-start
            threshold; ssthresh is "arbitrarily high" until the first loss, 3.1, and is not
            drawn while it is) and the bytes outstanding, SND.MAX − SND.UNA: sent and not yet
            cumulatively acknowledged (RFC 5681's FlightSize; SND.MAX rather than SND.NXT,
            which rewinds after a timeout while the data beyond it is still in the network).
            Bytes.
``rtt``     SRTT and RTTVAR (RFC 6298 2), in ms: absent until the first RTT measurement.
``rto``     the retransmission timeout RTO (RFC 6298 2.4, 5.5: at least 1 s by default,
            doubled by each expiry), in ms.
``rate``    throughput: payload bytes the sender handed to IP, retransmissions included
            (``SEG_SENT`` rows), and goodput: bytes delivered in order to the receiving
            application (``DELIVER`` rows of the peer connection), per time bin, in bits per
            second. The bin width follows the time span shown (a 1-2-5 step giving at most
            :data:`TARGET_BINS` bins) so the bars stay readable live and in replay; bins start
            at multiples of the width and the newest one is still filling.

Variables are traced as VAR rows (one per change, ``a`` = Var, ``c`` = new value). A curve holds
each value until the next change, and several changes at the same instant count as one: the
value the step ended with.

Each plot's title line is its legend and shows the values at the cursor.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from tcplab.gui.theme import LIGHT, Theme
from tcplab.gui.views.tsg import (DOWNSAMPLE_FACTOR, MASK, NS, DirectionBox, FollowsDirection,
                                  GridLines, Grow, PaintCatchUp, QuietAxis, SenderTally, StepLine,
                                  comparison_text, covered, direction_for, following, ghost_of,
                                  peer_of, refit_on_resize, same_endpoint, theme_pen)
from tcplab.trace.events import EventKind, Var

#: The initial ssthresh the engine uses for "arbitrarily high" (RFC 5681 3.1): 2**31 - 1.
ARBITRARILY_HIGH = 2**31 - 1
#: At most this many bins over the time span of the rate plot.
TARGET_BINS = 80
#: The narrowest bin (ns).
MIN_BIN = 100_000

#: Curves drawn for the comparison run: key (as in CURVES), panel.
GHOSTS = (("cwnd", "window"), ("srtt", "rtt"), ("rto", "rto"), ("goodput", "rate"))

_VAR = int(EventKind.VAR)
_SENT = int(EventKind.SEG_SENT)
_DELIVER = int(EventKind.DELIVER)
_UNA = int(Var.SND_UNA)
_MAX = int(Var.SND_MAX)

#: Panels in order: key, button text, y-axis label, units (None: no SI prefix).
PANELS = (
    ("window", "Window", "window", "B"),
    ("rtt", "RTT", "RTT (ms)", None),
    ("rto", "RTO", "RTO (ms)", None),
    ("rate", "Rate", "rate", "b/s"),
)

#: Curves: key, panel, label, theme colour, width, dashed.
CURVES = (
    ("cwnd", "window", "cwnd", "data", 3.2, False),
    ("ssthresh", "window", "ssthresh", "fin", 1.8, True),
    ("outstanding", "window", "outstanding (SND.MAX − SND.UNA)", "synack", 1.4, False),
    ("srtt", "rtt", "SRTT", "data", 2.0, False),
    ("rttvar", "rtt", "RTTVAR", "synack", 1.6, False),
    ("rto", "rto", "RTO", "retx", 2.0, False),
    ("throughput", "rate", "throughput (sent, incl. retransmissions)", "data", 1.8, False),
    ("goodput", "rate", "goodput (delivered to the application)", "syn", 2.0, False),
)
_VAR_CURVES = {"cwnd": int(Var.CWND), "ssthresh": int(Var.SSTHRESH), "srtt": int(Var.SRTT),
               "rttvar": int(Var.RTTVAR), "rto": int(Var.RTO)}


def nice_bin(span_ns: int) -> int:
    """The smallest width of the 1-2-5 sequence (ns) that cuts ``span_ns`` into at most
    :data:`TARGET_BINS` bins, and at least :data:`MIN_BIN`."""
    want = max(MIN_BIN, span_ns / TARGET_BINS)
    decade = 10 ** int(np.floor(np.log10(want)))
    for step in (1, 2, 5, 10):
        if step * decade >= want:
            return int(step * decade)
    return int(10 * decade)


class Rate:
    """Bytes at times, summed into bins of a width that follows the span. New events are added
    to the current bins; only a change of width sums everything again (a handful of times in
    a run, as the span doubles)."""

    def __init__(self) -> None:
        self.t = Grow(np.int64)
        self.nbytes = Grow(np.int64)
        self.width = 0
        self.counts = np.zeros(0)
        self._binned = 0

    def clear(self) -> None:
        self.__init__()

    def extend(self, t: np.ndarray, nbytes: np.ndarray) -> None:
        self.t.extend(t)
        self.nbytes.extend(nbytes)

    def update(self, end_ns: int) -> None:
        """Bring the bins up to date for a span from 0 to ``end_ns``."""
        width = nice_bin(end_ns)
        nbins = end_ns // width + 1
        if width != self.width:
            self.width = width
            self.counts = np.zeros(nbins)
            self._binned = 0
        elif nbins > len(self.counts):
            self.counts = np.concatenate([self.counts, np.zeros(nbins - len(self.counts))])
        t = self.t.data[self._binned:]
        if len(t):
            idx = t // width
            top = int(idx.max()) + 1
            if top > len(self.counts):
                self.counts = np.concatenate([self.counts, np.zeros(top - len(self.counts))])
            self.counts += np.bincount(idx, weights=self.nbytes.data[self._binned:],
                                       minlength=len(self.counts))[:len(self.counts)]
            self._binned = len(self.t)

    def display(self) -> tuple[np.ndarray, np.ndarray]:
        """Bin edges (s) and the rate in each bin (bits per second)."""
        n = len(self.counts)
        if not n or not self.width:
            return np.zeros(0), np.zeros(0)
        edges = np.arange(n + 1, dtype=np.float64) * (self.width / NS)
        return edges, self.counts * 8.0 / (self.width / NS)

    def value_at(self, t_ns: int) -> float:
        """The rate (bits/s) of the bin holding ``t_ns``; NaN outside the bins."""
        if not self.width:
            return float("nan")
        i = t_ns // self.width
        if 0 <= i < len(self.counts):
            return float(self.counts[i] * 8.0 / (self.width / NS))
        return float("nan")


def fmt_value(key: str, v: float) -> str:
    if not np.isfinite(v):
        return "∞" if key == "ssthresh" else "–"
    if key in ("srtt", "rttvar", "rto"):
        return f"{v:,.1f} ms" if v < 100 else f"{v:,.0f} ms"
    if key in ("throughput", "goodput"):
        for scale, unit in ((1e9, "Gb/s"), (1e6, "Mb/s"), (1e3, "kb/s")):
            if v >= scale:
                return f"{v / scale:.2f} {unit}"
        return f"{v:.0f} b/s"
    return f"{v:,.0f} B"


class PlotsView(FollowsDirection, QWidget):
    """Stacked plots of cwnd, ssthresh, outstanding bytes, SRTT/RTTVAR, RTO, throughput and
    goodput for one data direction (see the module docstring).

    Public: :meth:`set_direction`, :meth:`direction`, :meth:`series` (the change points of a
    variable), :meth:`rates` (bin edges and rates), :attr:`curves` (PlotDataItems by key),
    :attr:`plots` (PlotItems by panel), :attr:`grids` (their GridLines), :attr:`cursor_lines`,
    :meth:`set_panel_visible`, :meth:`value_at` and :meth:`set_theme`.
    """

    title = "Plots"
    source = "plots"

    def __init__(self, context, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.theme = LIGHT
        self._conn: int | None = None
        self._auto = True
        self._seen = 0
        self._senders = SenderTally()
        self._moving_cursor = False
        self._following = True              # x shows the whole connection as it grows
        self._titles: dict[str, tuple] = {}  # what each title line shows now
        self._visible = {key: True for key, *_ in PANELS}
        self._new_state()

        self.box = DirectionBox(self)
        self.box.picked.connect(self._on_picked)
        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        top.addWidget(QLabel("Data from", self))
        top.addWidget(self.box)
        top.addSpacing(12)
        self.buttons: dict[str, QToolButton] = {}
        for key, text, *_ in PANELS:
            b = QToolButton(self)
            b.setText(text)
            b.setCheckable(True)
            b.setChecked(True)
            b.setToolTip(f"Show or hide the {text} plot")
            b.toggled.connect(lambda on, k=key: self.set_panel_visible(k, on))
            top.addWidget(b)
            self.buttons[key] = b
        top.addStretch(1)
        self.fit_button = QToolButton(self)
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Show the whole connection again and follow it as it grows")
        self.fit_button.clicked.connect(self.follow)
        top.addWidget(self.fit_button)

        self.graph = pg.GraphicsLayoutWidget(self)
        # Behind another dock's tab the picture waits for the next paint (see covered()).
        self.catch_up = PaintCatchUp(self.graph.viewport(), self.graph.scene(), self._refresh)
        self.plots: dict[str, pg.PlotItem] = {}
        self.cursor_lines: dict[str, pg.InfiniteLine] = {}
        self.grids: dict[str, GridLines] = {}
        for key, *_ in PANELS:
            plot = pg.PlotItem(axisItems={side: QuietAxis(side) for side in ("left", "bottom")})
            plot.setMenuEnabled(False)
            for side in ("left", "bottom"):
                # major and medium levels; no tick marks: the grid lines are the ticks
                plot.getAxis(side).setStyle(maxTickLevel=1, tickLength=0)
            # The grid, drawn behind the data in two opaque colours: pyqtgraph's own
            # (showGrid) blends every axis tick across the panel and took most of the paint.
            self.grids[key] = GridLines(plot)
            plot.hideButtons()
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
            vb = plot.getViewBox()
            vb.setMouseEnabled(x=True, y=False)
            vb.disableAutoRange()
            vb.sigRangeChangedManually.connect(self._on_manual_range)
            vb.sigXRangeChanged.connect(self._on_x_range)
            refit_on_resize(plot)
            vb.sigResized.connect(lambda *_: self._fit_y())   # the margin below 0 is in pixels
            line = pg.InfiniteLine(pos=0.0, angle=90, movable=True)
            line.setZValue(20)
            line.sigDragged.connect(self._on_cursor_dragged)
            plot.addItem(line, ignoreBounds=True)
            self.plots[key] = plot
            self.cursor_lines[key] = line
        self.curves: dict[str, pg.PlotDataItem] = {}
        for key, panel, *_ in CURVES:
            kw = {"stepMode": "center"} if panel == "rate" else {}
            item = pg.PlotDataItem(autoDownsampleFactor=DOWNSAMPLE_FACTOR, **kw)
            self.plots[panel].addItem(item)     # takes the plot's clipping and downsampling
            if panel == "rate":
                # Bars between bin edges (one more edge than bars) cannot be downsampled by
                # points; there are at most a few hundred bins anyway.
                item.setDownsampling(ds=1, auto=False)
                item.setClipToView(False)
            self.curves[key] = item
        # The comparison run (context.baseline): its main curve in each panel, in grey.
        self.ghosts: dict[str, pg.PlotDataItem] = {}
        for key, panel in GHOSTS:
            kw = {"stepMode": "center"} if panel == "rate" else {}
            item = pg.PlotDataItem(autoDownsampleFactor=DOWNSAMPLE_FACTOR, **kw)
            item.setZValue(-1)
            self.plots[panel].addItem(item)
            if panel == "rate":
                item.setDownsampling(ds=1, auto=False)
                item.setClipToView(False)
            self.ghosts[key] = item
        self._ghost_key: tuple | None = None
        self._ghost_tops: dict[str, float] = {}    # each panel's highest grey value
        self._ghost_end = 0                          # the comparison run's last time (ns)
        self.graph.scene().sigMouseClicked.connect(self._on_click)
        self._master = self.plots["window"]    # the visible plot the others' time axes follow

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.compare_note = QLabel(self)
        self.compare_note.setContentsMargins(6, 0, 6, 0)
        self.compare_note.hide()
        layout.addLayout(top)
        layout.addWidget(self.compare_note)
        layout.addWidget(self.graph, 1)
        context.baselineChanged.connect(self._show_baseline)

        self._arrange()
        self.set_theme(self.theme)
        context.reset.connect(self._on_reset)
        context.advanced.connect(self._on_advanced)
        context.cursorChanged.connect(self._on_cursor)
        context.selectionChanged.connect(self._on_selection)
        if context.trace is not None:
            self._on_reset()

    # ------------------------------------------------------------------ state
    def _new_state(self) -> None:
        self._peer = -1
        self._start: int | None = None      # first row of the sender or its peer (ns)
        self._end = 0                       # newest row of the sender or its peer (ns)
        self._lines: dict[str, StepLine] = {key: StepLine() for key in
                                            ("cwnd", "ssthresh", "outstanding", "srtt",
                                             "rttvar", "rto")}
        self._una: int | None = None
        self._max: int | None = None
        self._rates = {"throughput": Rate(), "goodput": Rate()}

    # ------------------------------------------------------------------ public API
    def direction(self) -> int | None:
        return self._conn

    def set_direction(self, conn: int | None) -> None:
        """Plot the connection ``conn`` as the sender; None: choose by itself, the connection
        that has sent the most data (see :class:`~tcplab.gui.views.tsg.SenderTally`)."""
        self._auto = conn is None
        if conn is None:
            conn = self._senders.leader(None)
        if conn != self._conn:
            self._conn = conn
            self._rebuild()
        self.box.show_conn(self._conn)

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """Change points of a step curve: times (ns) and values in the plotted unit (bytes;
        ms for srtt, rttvar, rto; NaN where undefined)."""
        line = self._lines[key]
        return line.t.data.copy(), line.v.data.copy()

    def rates(self, key: str) -> tuple[np.ndarray, np.ndarray, int]:
        """``throughput`` or ``goodput``: bin edges (s), rates (bits/s), bin width (ns)."""
        edges, rate = self._rates[key].display()
        return edges, rate, self._rates[key].width

    def value_at(self, key: str, t_ns: int) -> float:
        """A curve's value at ``t_ns``, as the title line shows it at the cursor."""
        if key in self._rates:
            return self._rates[key].value_at(t_ns)
        return self._lines[key].value_at(t_ns)

    def set_panel_visible(self, key: str, on: bool) -> None:
        """Show or hide one of the stacked plots (``window``, ``rtt``, ``rto``, ``rate``)."""
        if self._visible[key] == bool(on):
            return
        self._visible[key] = bool(on)
        b = self.buttons[key]
        b.blockSignals(True)
        b.setChecked(bool(on))
        b.blockSignals(False)
        self._arrange()

    def set_theme(self, theme: Theme) -> None:
        self.theme = t = theme
        self.graph.setBackground(t.color("base"))
        for grid in self.grids.values():
            grid.set_colors(t.color("base"), t.color("muted"))
        for plot in self.plots.values():
            for side in ("left", "bottom"):
                ax = plot.getAxis(side)
                ax.setPen(theme_pen(t, "muted", 1))
                ax.setTextPen(theme_pen(t, "text", 1))
        for key, panel, label, color, width, dashed in CURVES:
            self.curves[key].setPen(theme_pen(t, color, width, Qt.DashLine if dashed else Qt.SolidLine))
        fill = t.color("data")
        fill.setAlphaF(0.18)
        self.curves["throughput"].setFillLevel(0)
        self.curves["throughput"].setBrush(pg.mkBrush(fill))
        for line in self.cursor_lines.values():
            line.setPen(theme_pen(t, "text", 1.5, Qt.DashLine))
            line.setHoverPen(theme_pen(t, "link_selected", 3))
        ghost = QColor(t.muted)
        ghost.setAlphaF(0.7)
        for item in self.ghosts.values():
            item.setPen(pg.mkPen(ghost, width=2.2, cosmetic=True))
        self._ghost_key = None
        self._apply_fonts()
        self._update_titles()

    # ------------------------------------------------------------------ layout and fonts
    def _arrange(self) -> None:
        """Put the visible plots in the layout, top to bottom; only the lowest shows the time
        axis labels."""
        ci = self.graph.ci
        for plot in self.plots.values():
            if plot.scene() is not None:
                ci.removeItem(plot)
        shown = [key for key, *_ in PANELS if self._visible[key]]
        for row, key in enumerate(shown):
            ci.addItem(self.plots[key], row=row, col=0)
        # Time axes are linked among the visible plots only: a hidden plot keeps its last
        # geometry, and pyqtgraph would line the others up with that.
        for plot in self.plots.values():
            plot.setXLink(None)
        if shown:
            master = self.plots[shown[0]]
            x_range = self._master.getViewBox().viewRange()[0]
            self._master = master
            for key in shown:
                self.plots[key].setXRange(*x_range, padding=0)
                if key != shown[0]:
                    self.plots[key].setXLink(master)
        for key, plot in self.plots.items():
            plot.setVisible(key in shown)
            last = bool(shown) and key == shown[-1]
            plot.getAxis("bottom").setStyle(showValues=last)
            if last:
                plot.setLabel("bottom", "time", units="s", **self._label_style())
            else:
                plot.setLabel("bottom", "")
                plot.getAxis("bottom").showLabel(False)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.FontChange:
            self._apply_fonts()
            self._update_titles()

    def _label_style(self) -> dict:
        return {"color": self.theme.text, "font-size": f"{self.font().pointSizeF():.1f}pt"}

    def _apply_fonts(self) -> None:
        font = QFont(self.font())
        width = int(self.fontMetrics().horizontalAdvance("0,000,000 ") + 30)
        for key, text, label, units in PANELS:
            plot = self.plots[key]
            for side in ("left", "bottom"):
                plot.getAxis(side).setStyle(tickFont=font)
            plot.getAxis("left").setWidth(width)
            plot.setLabel("left", label, units=units, **self._label_style())
        self._arrange()

    # ------------------------------------------------------------------ context signals
    def _on_reset(self) -> None:
        self._seen = 0
        self._senders = SenderTally()
        if self._auto:
            self._conn = None
        self._new_state()
        self.box.clear_all()
        trace = self.context.trace
        if trace is not None:
            if self._conn is not None and self._conn >= len(trace.conns):
                self._conn, self._auto = None, True
            self._take(0, len(trace))
        self._redraw()
        self._on_cursor(self.context.cursor)
        self._autorange_x()

    def _on_advanced(self, first: int, end: int) -> None:
        if self.context.trace is None or end <= self._seen:
            return
        self._take(max(first, self._seen), end)
        for rate in self._rates.values():
            rate.update(self._end)          # the state value_at() and rates() read
        if covered(self, self.graph.viewport()):
            self.catch_up.defer()
            return
        self._redraw()
        self._fit_x()
        if not following(self.context):
            self._update_titles()           # else the cursor's move does it next

    def _refresh(self) -> None:
        """The curves, the time range and the title lines from the state taken so far."""
        self._redraw()
        self._fit_x()
        self._update_titles()

    def _leader_changed(self) -> None:
        self.follow()

    def _rebuild(self) -> None:
        self._new_state()
        trace = self.context.trace
        if trace is not None and self._seen:
            self._consume(trace.matrix(0, self._seen))
        self._redraw()
        self._update_titles()
        self._autorange_x()

    def _consume(self, m: np.ndarray, first: int = 0) -> None:
        """Add the rows of ``m`` that concern the shown sender and its peer: O(rows) numpy.
        (``first``, the rows' index, is not needed here: plots keep no row references.)"""
        trace = self.context.trace
        s = self._conn
        if s is None or trace is None or s >= len(trace.conns):
            return
        if self._peer < 0:
            self._peer = peer_of(trace, s)
        kind, conn = m[:, 1], m[:, 3]
        mine = conn == s
        theirs = (conn == self._peer) if self._peer >= 0 else np.zeros(len(m), dtype=bool)
        touched = m[mine | theirs]
        if len(touched):
            self._end = max(self._end, int(touched[-1, 0]))
            if self._start is None:
                self._start = int(touched[0, 0])
        var = m[mine & (kind == _VAR)]
        if len(var):
            code = var[:, 5]
            for key, v in _VAR_CURVES.items():
                rows = var[code == v]
                if not len(rows):
                    continue
                vals = rows[:, 7].astype(np.float64)
                if key == "ssthresh":
                    vals[rows[:, 7] >= ARBITRARILY_HIGH] = np.nan
                elif key in ("srtt", "rttvar"):
                    vals[rows[:, 7] < 0] = np.nan
                    vals /= 1e6
                else:
                    if key == "rto":
                        vals /= 1e6
                self._lines[key].extend(rows[:, 0], vals)
            self._take_outstanding(var)
        sent = m[mine & (kind == _SENT)]
        sent = sent[sent[:, 7] > 0]
        if len(sent):
            self._rates["throughput"].extend(sent[:, 0], sent[:, 7])
        if self._peer >= 0:
            got = m[theirs & (kind == _DELIVER)]
            if len(got):
                self._rates["goodput"].extend(got[:, 0], got[:, 5])

    def _take_outstanding(self, var: np.ndarray) -> None:
        """SND.MAX − SND.UNA (mod 2**32) after every change of either, carried across
        batches: each row's value uses the newest of both as of that row."""
        code = var[:, 5]
        rows = var[(code == _UNA) | (code == _MAX)]
        if not len(rows):
            return
        is_una = rows[:, 5] == _UNA
        n = len(rows)
        pos = np.arange(1, n + 1)

        def filled(mask: np.ndarray, carry: int | None) -> np.ndarray:
            vals = np.concatenate([[-1 if carry is None else carry], rows[:, 7]])
            idx = np.maximum.accumulate(np.where(mask, pos, 0))
            return vals[idx]

        una = filled(is_una, self._una)
        mx = filled(~is_una, self._max)
        self._una = int(una[-1]) if una[-1] >= 0 else None
        self._max = int(mx[-1]) if mx[-1] >= 0 else None
        out = ((mx - una) & MASK).astype(np.float64)
        out[(una < 0) | (mx < 0)] = np.nan
        self._lines["outstanding"].extend(rows[:, 0], out)

    # ------------------------------------------------------------------ drawing
    def _redraw(self) -> None:
        end = self._end
        for key, line in self._lines.items():
            x, y = line.display(end)
            self.curves[key].setData(x, y)
        for key, rate in self._rates.items():
            rate.update(end)
            x, y = rate.display()
            if len(x):
                self.curves[key].setData(x, y, stepMode="center")
            else:
                self.curves[key].setData([], [])
        self._show_baseline()

    def _show_baseline(self) -> None:
        """Draw the comparison run's cwnd, SRTT, RTO and goodput in grey for the same
        direction (computed once per run and direction)."""
        ctx = self.context
        base, conn = ctx.baseline, self._conn
        ok = base is not None and ctx.trace is not None and same_endpoint(base, ctx.trace, conn)
        key = (id(base), conn, self._start is None) if ok else None
        if key == self._ghost_key:
            return
        self._ghost_key = key
        ghost = ghost_of(PlotsView, base, conn, ("_take_outstanding",)) if ok else None
        self.compare_note.setVisible(base is not None)
        if base is not None:
            extra = "" if ghost is not None else " (nothing to compare in this direction)"
            self.compare_note.setText(comparison_text(self.theme, ctx.baseline_label + extra))
        self._ghost_tops = {}
        self._ghost_end = ghost._end if ghost is not None else 0
        for key, panel in GHOSTS:
            item = self.ghosts[key]
            if ghost is None:
                item.setData([], [])
                continue
            if key in ghost._lines:
                x, y = ghost._lines[key].display(ghost._end)
                item.setData(x, y)
            else:
                rate = ghost._rates[key]
                rate.update(ghost._end)
                x, y = rate.display()
                item.setData(x, y, stepMode="center") if len(x) else item.setData([], [])
            if len(y) and np.isfinite(y).any():
                self._ghost_tops[panel] = float(np.nanmax(y))
        self._fit_x()

    def follow(self) -> None:
        """Show the connection from its first to its newest row, and keep doing so as rows
        arrive (until the user pans or zooms the time axis)."""
        self._following = True
        self._fit_x()

    def _autorange_x(self) -> None:
        self.follow()

    def _on_x_range(self, vb, *args) -> None:
        if vb is self._master.getViewBox():
            self._fit_y()

    def _on_manual_range(self, *args) -> None:
        self._following = False
        self._fit_y()

    def _fit_x(self) -> None:
        """The x range of every plot (they are linked): the connection's lifetime so far."""
        if self._following:
            start = (self._start or 0) / NS
            end = max(self._end, self._ghost_end) / NS      # the comparison to its end too
            end = max(end, start + 1e-3)
            self._master.setXRange(start, end, padding=0.02)
        self._fit_y()

    def _fit_y(self) -> None:
        """Each plot's y range: from 0 to a little above the largest value in the time range
        shown (0 keeps the sizes honest; the largest value is taken in view so a zoom shows
        detail)."""
        x0, x1 = self._master.getViewBox().viewRange()[0]
        t0, t1 = int(x0 * NS), int(x1 * NS)
        tops = {key: 0.0 for key, *_ in PANELS}
        for key, panel, *_ in CURVES:
            if key in self._rates:
                rate = self._rates[key]
                if not rate.width or not len(rate.counts):
                    continue
                i0 = max(0, t0 // rate.width)
                i1 = max(i0, min(len(rate.counts), t1 // rate.width + 1))
                vals = rate.counts[i0:i1] * 8.0 / (rate.width / NS)
            else:
                line = self._lines[key]
                t = line.t.data
                i0 = max(0, int(np.searchsorted(t, t0, side="right")) - 1)
                i1 = int(np.searchsorted(t, t1, side="right"))
                vals = line.v.data[i0:max(i0, i1)]
            if len(vals):
                top = np.nanmax(vals) if np.isfinite(vals).any() else 0.0
                tops[panel] = max(tops[panel], float(top))
        for panel, top in self._ghost_tops.items():
            tops[panel] = max(tops[panel], top)
        half_line = 0.6 * self.fontMetrics().height()
        for key, top in tops.items():
            top = top if top > 0 else 1.0
            # A margin below 0, half a text line tall, so that the "0" label fits beside the
            # axis at any plot height and font size.
            height = max(1.0, self.plots[key].getViewBox().height())
            below = min(0.4, half_line / height)
            self.plots[key].setYRange(-top * 1.1 * below / (1 - below), top * 1.1, padding=0)
        # Apply the new ranges now rather than when the scene prepares its paint: the items
        # then mark their new bounds before the paint instead of during it, which cost a
        # second (partial) paint in every other frame.
        for plot in self.plots.values():
            plot.getViewBox().updateMatrix()

    def _update_titles(self) -> None:
        """Each plot's title line: its curves' colours and names, with the values at the
        cursor (this is the legend)."""
        t = self.theme
        cursor = self.context.cursor
        pt = self.font().pointSizeF()
        titles: dict[str, list[str]] = {key: [] for key, *_ in PANELS}
        for key, panel, label, color, width, dashed in CURVES:
            mark = "╍" if dashed else "━"
            value = fmt_value(key, self.value_at(key, cursor)) if self._conn is not None else "–"
            titles[panel].append(
                f"<span style='color:{getattr(t, color)}; font-weight:bold'>{mark}</span>"
                f"&nbsp;{label.replace(' ', '&nbsp;')}&nbsp;<b>{value}</b>")
        for key, parts in titles.items():
            if key == "rate":
                w = self._rates["throughput"].width
                if w:
                    parts.append(f"<span style='color:{t.muted}'>bins&nbsp;of&nbsp;"
                                 f"{fmt_bin(w)}</span>")
            html = " &nbsp; ".join(parts)
            shown = (html, t.text, pt)
            if self._titles.get(key) != shown:        # setting rich text costs a layout pass
                self._titles[key] = shown
                self.plots[key].setTitle(html, color=t.text, size=f"{pt:.1f}pt")

    # ------------------------------------------------------------------ cursor and selection
    def _on_cursor(self, t_ns: int) -> None:
        self._moving_cursor = True
        for line in self.cursor_lines.values():
            line.setPos(t_ns / NS)
        self._moving_cursor = False
        if covered(self, self.graph.viewport()):
            self.catch_up.defer()
        else:
            self._update_titles()

    def _on_cursor_dragged(self, line) -> None:
        if self._moving_cursor:
            return
        t = max(0, int(round(line.value() * NS)))
        self._moving_cursor = True
        for other in self.cursor_lines.values():
            if other is not line:
                other.setPos(line.value())
        self._moving_cursor = False
        self.context.set_cursor(t)

    def _on_click(self, ev) -> None:
        """A click in a plot moves the cursor there."""
        if ev.button() != Qt.LeftButton or ev.isAccepted():
            return
        pos = ev.scenePos()
        for plot in self.plots.values():
            vb = plot.getViewBox()
            if plot.isVisible() and vb.sceneBoundingRect().contains(pos):
                ev.accept()
                self.context.set_cursor(max(0, int(round(vb.mapSceneToView(pos).x() * NS))))
                return

    def _on_selection(self, sel) -> None:
        if sel.source == self.source:
            return
        target = direction_for(self.context.trace, sel, self._conn, self._senders,
                               self.context, lambda uid: False)
        if target is not None and target != self._conn:
            self._auto = False
            self._conn = target
            self.box.show_conn(target)
            self._rebuild()

    def _on_picked(self, conn: int) -> None:
        self.set_direction(conn)
        self.context.select_conn(conn, source=self.source)


def fmt_bin(width_ns: int) -> str:
    if width_ns >= NS:
        return f"{width_ns / NS:g} s"
    if width_ns >= 1e6:
        return f"{width_ns / 1e6:g} ms"
    return f"{width_ns / 1e3:g} µs"
