"""File → Export: the run on screen as a capture, events, a picture or a movie.

One dialog for every export of the current run (live or replayed), with the options each needs:

* **Capture for Wireshark (pcapng)**: what one node's interfaces saw (``session.export``);
* **Events as CSV / JSON**: every trace row with its narration;
* **Picture of a view (PNG, SVG, PDF)**: the topology, ladder, graphs... as of a moment;
* **Animation (GIF) / Video (MP4)**: a time range replayed at a chosen speed, frame rate and
  size (``gui.media``); the frame count and length are shown as the options change.

Exports run under a progress dialog that can cancel them; a cancelled or failed export leaves
no file behind and an existing file as it was (every writer goes through a temporary file).
Bad options are explained in the dialog, which stays open so they can be fixed.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QApplication, QComboBox, QDialog, QDialogButtonBox,
                               QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QProgressDialog, QPushButton, QSpinBox,
                               QStackedWidget, QVBoxLayout, QWidget)

from tcplab.gui import fmt
from tcplab.sim.clock import SEC

#: key, label, suffixes (the first is the default), file dialog filter.
KINDS = (
    ("pcapng", "Capture for Wireshark (pcapng)", (".pcapng",), "pcapng capture (*.pcapng)"),
    ("csv", "Every event (CSV)", (".csv",), "CSV table (*.csv)"),
    ("json", "Every event (JSON)", (".json",), "JSON document (*.json)"),
    ("figure", "Picture of a view (PNG, SVG, PDF)", (".png", ".svg", ".pdf"),
     "PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)"),
    ("gif", "Animation (GIF)", (".gif",), "GIF animation (*.gif)"),
    ("mp4", "Video (MP4, H.264)", (".mp4",), "MP4 video (*.mp4)"),
)
_KIND = {k: (label, suffixes, filt) for k, label, suffixes, filt in KINDS}
VIEW_TITLES = {"topology": "Topology", "ladder": "Ladder", "tsg": "Time-sequence graph",
               "plots": "Plots", "narration": "Narration", "buffers": "Buffers",
               "timers": "Timers", "state": "State", "inspector": "Packet inspector"}
#: Movie speeds offered besides "automatic" (0): simulated seconds per second of movie.
SPEEDS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def _seconds_box(end_s: float, value: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(6)
    box.setRange(0.0, max(end_s, 1e-6))
    box.setSingleStep(max(end_s / 100, 1e-6))
    box.setSuffix(" s")
    box.setValue(value)
    return box


def _size_row(w: int, h: int) -> tuple[QWidget, QSpinBox, QSpinBox]:
    from tcplab.gui.media import MAX_SIZE, MIN_SIZE
    row = QWidget()
    lay = QHBoxLayout(row)
    lay.setContentsMargins(0, 0, 0, 0)
    wb, hb = QSpinBox(), QSpinBox()
    wb.setRange(MIN_SIZE[0], MAX_SIZE[0])
    hb.setRange(MIN_SIZE[1], MAX_SIZE[1])
    wb.setValue(w)
    hb.setValue(h)
    lay.addWidget(wb)
    lay.addWidget(QLabel("×"))
    lay.addWidget(hb)
    lay.addWidget(QLabel("pixels"))
    lay.addStretch(1)
    return row, wb, hb


class ExportDialog(QDialog):
    """The export dialog for ``window``'s current run. :meth:`export` does the work (the
    Export button calls it); tests set the fields and call it too."""

    def __init__(self, window, kind: str = "pcapng") -> None:
        super().__init__(window)
        from tcplab.gui.media import DEFAULT_FIGURE_SIZE, DEFAULT_MOVIE_SIZE, Recording, view_names
        self.setWindowTitle("Export")
        self.setObjectName("exportDialog")
        self.window_ = window
        run = window.controller.run
        self.run = run
        self.recording = Recording(run.trace, window.doc.to_toml(), run.now)
        self.end_s = run.now / SEC
        self.last_written: Path | None = None
        trace = run.trace

        self.kind = QComboBox()
        for key, label, *_ in KINDS:
            self.kind.addItem(label, key)
        self.stack = QStackedWidget()
        self.pages: dict[str, QWidget] = {}

        # capture
        page = QWidget()
        form = QFormLayout(page)
        self.node = QComboBox()
        for i, name in enumerate(trace.nodes):
            kind_name = trace.node_kinds[i] if i < len(trace.node_kinds) else ""
            self.node.addItem(f"{name} ({kind_name})" if kind_name else name, i)
        from tcplab.session.export import default_capture_node
        default = default_capture_node(trace, run.scenario)
        self.node.setCurrentIndex(max(0, self.node.findData(default)))
        form.addRow("Capture at", self.node)
        form.addRow(QLabel("What this node's interfaces saw, one pcapng interface per link, "
                           "with simulated timestamps. Wireshark and tshark read it."))
        self._add_page("pcapng", page)
        # events (CSV and JSON share a page)
        for key in ("csv", "json"):
            page = QWidget()
            form = QFormLayout(page)
            note = QLabel(f"{len(trace):,} events, each with its time, kind, node, connection, "
                          "fields and the narration shown in the window.")
            note.setWordWrap(True)
            form.addRow(note)
            self._add_page(key, page)
        # figure
        page = QWidget()
        form = QFormLayout(page)
        self.fig_view = QComboBox()
        for name in view_names():
            self.fig_view.addItem(VIEW_TITLES.get(name, name), name)
        self.fig_view.setCurrentIndex(max(0, self.fig_view.findData("ladder")))
        row, self.fig_w, self.fig_h = _size_row(*DEFAULT_FIGURE_SIZE)
        cursor = window.context.cursor / SEC
        self.fig_at = _seconds_box(self.end_s, min(cursor, self.end_s))
        self.fig_theme = self._theme_box()
        self.fig_scale = QDoubleSpinBox()
        self.fig_scale.setRange(1.0, 4.0)
        self.fig_scale.setSingleStep(0.5)
        self.fig_scale.setValue(2.0)
        self.fig_scale.setToolTip("PNG only: pixels per screen pixel (2 = sharp on slides)")
        form.addRow("View", self.fig_view)
        form.addRow("Size", row)
        form.addRow("As of", self.fig_at)
        form.addRow("Theme", self.fig_theme)
        form.addRow("PNG scale", self.fig_scale)
        self._add_page("figure", page)
        # movies (GIF and MP4 share one page)
        page = QWidget()
        form = QFormLayout(page)
        self.mov_view = QComboBox()
        for name in view_names():
            self.mov_view.addItem(VIEW_TITLES.get(name, name), name)
        self.mov_from = _seconds_box(self.end_s, 0.0)
        self.mov_to = _seconds_box(self.end_s, self.end_s)
        self.mov_speed = QComboBox()
        self.mov_speed.addItem("automatic (5 to 30 s of movie)", None)
        for v in SPEEDS:
            self.mov_speed.addItem(f"{v:g}x (1 s of movie = {fmt.sim_time(int(v * SEC))})", v)
        self.mov_fps = QSpinBox()
        self.mov_fps.setRange(1, 60)
        self.mov_fps.setSuffix(" frames/s")
        row, self.mov_w, self.mov_h = _size_row(*DEFAULT_MOVIE_SIZE["gif"])
        self.mov_theme = self._theme_box()
        self.plan = QLabel()
        self.plan.setObjectName("plan")
        self.plan.setWordWrap(True)
        form.addRow("View", self.mov_view)
        form.addRow("From", self.mov_from)
        form.addRow("To", self.mov_to)
        form.addRow("Speed", self.mov_speed)
        form.addRow("Frame rate", self.mov_fps)
        form.addRow("Size", row)
        form.addRow("Theme", self.mov_theme)
        form.addRow(self.plan)
        self.pages["gif"] = self.pages["mp4"] = page
        self.stack.addWidget(page)
        for w in (self.mov_view, self.mov_speed):
            w.currentIndexChanged.connect(self._update_plan)
        for w in (self.mov_from, self.mov_to, self.mov_fps, self.mov_w, self.mov_h):
            w.valueChanged.connect(self._update_plan)

        # the file
        self.path = QLineEdit()
        self.path.setObjectName("exportPath")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        file_row = QHBoxLayout()
        file_row.addWidget(self.path, 1)
        file_row.addWidget(browse)
        self.problem = QLabel()
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #c62828")
        self.path.textChanged.connect(self._update_plan)

        buttons = QDialogButtonBox()
        self.export_button = buttons.addButton("Export", QDialogButtonBox.AcceptRole)
        buttons.addButton(QDialogButtonBox.Close)
        buttons.accepted.connect(self._export_clicked)
        buttons.rejected.connect(self.reject)

        top = QFormLayout()
        top.addRow("Export", self.kind)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.stack)
        out = QFormLayout()
        out.addRow("File", file_row)
        lay.addLayout(out)
        lay.addWidget(self.problem)
        lay.addWidget(buttons)
        self._suggested = ""
        self.fig_view.currentIndexChanged.connect(self._suggest_path)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.set_kind(kind)

    # -- building ------------------------------------------------------------------------------
    def _add_page(self, key: str, page: QWidget) -> None:
        self.pages[key] = page
        self.stack.addWidget(page)

    def _theme_box(self) -> QComboBox:
        box = QComboBox()
        box.addItem("light", "light")
        box.addItem("dark", "dark")
        box.setCurrentIndex(1 if self.window_.theme.name == "dark" else 0)
        return box

    # -- fields --------------------------------------------------------------------------------
    def current_kind(self) -> str:
        return self.kind.currentData()

    def set_kind(self, kind: str) -> None:
        """Choose what to export (a key of :data:`KINDS`)."""
        if kind not in _KIND:
            raise ValueError(f"unknown export {kind!r}")
        self.kind.setCurrentIndex(self.kind.findData(kind))
        self._kind_changed()

    def _kind_changed(self, *_args) -> None:
        from tcplab.gui.media import DEFAULT_FPS, DEFAULT_MOVIE_SIZE
        kind = self.current_kind()
        self.stack.setCurrentWidget(self.pages[kind])
        if kind in ("gif", "mp4"):
            self.mov_fps.setValue(DEFAULT_FPS[kind])
            w, h = DEFAULT_MOVIE_SIZE[kind]
            self.mov_w.setValue(w)
            self.mov_h.setValue(h)
        self._suggest_path()
        self._update_plan()

    def _suggest_path(self, *_args) -> None:
        """A file name for the export: the scenario's name (and the view's, for a picture) in
        the last folder used, until the user types one of their own; then only the suffix
        follows the kind."""
        kind = self.current_kind()
        suffixes = _KIND[kind][1]
        text = self.path.text().strip()
        if text and text != self._suggested:
            p = Path(text)
            if p.suffix.lower() not in suffixes:
                self.path.setText(str(p.with_suffix(suffixes[0])))
            return
        folder = Path(text).parent if text else \
            Path(str(self.window_.settings.value("last_dir", str(Path.home()))))
        stem = self.window_.doc.name or "tcplab"
        if kind == "figure":
            stem = f"{stem}-{self.fig_view.currentData()}"
        self._suggested = str(folder / f"{stem}{suffixes[0]}")
        self.path.setText(self._suggested)

    def _browse(self) -> None:
        kind = self.current_kind()
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text(), _KIND[kind][2])
        if path:
            if Path(path).suffix.lower() not in _KIND[kind][1]:
                path += _KIND[kind][1][0]
            self.path.setText(path)

    def _ns(self, box: QDoubleSpinBox) -> int:
        """A time box's value in ns; its maximum is exactly the run's end (the box shows
        microseconds)."""
        if box.value() >= box.maximum():
            return self.run.now
        return min(round(box.value() * SEC), self.run.now)

    def _movie_options(self) -> dict:
        return {"view": self.mov_view.currentData(), "start_ns": self._ns(self.mov_from),
                "end_ns": self._ns(self.mov_to), "speed": self.mov_speed.currentData(),
                "fps": self.mov_fps.value(), "size": (self.mov_w.value(), self.mov_h.value())}

    def _update_plan(self, *_args) -> None:
        """Say what the movie will be (frames, length) or what is wrong with the options."""
        self.problem.clear()
        if self.current_kind() not in ("gif", "mp4"):
            return
        from tcplab.gui.media import plan_movie
        path = Path(self.path.text().strip() or f"movie.{self.current_kind()}")
        try:
            plan = plan_movie(self.recording, path, **self._movie_options())
        except ValueError as e:
            self.plan.setText("")
            self.problem.setText(str(e))
            self.export_button.setEnabled(False)
            return
        self.export_button.setEnabled(True)
        self.plan.setText(f"{plan.frames:,} frames, {plan.seconds:.1f} s of {plan.format.upper()} "
                          f"at {plan.speed:g}x ({fmt.sim_time(plan.start_ns)} to "
                          f"{fmt.sim_time(plan.end_ns)})")

    # -- doing it ------------------------------------------------------------------------------
    def _export_clicked(self) -> None:
        if self.export() is not None:
            self.accept()

    def export(self, progress=None) -> Path | None:
        """Write the chosen export to the chosen file. ``progress(done, total)`` (default: a
        progress dialog with Cancel) may return False to stop. Returns the path written, or
        None when cancelled or refused (the reason is shown in the dialog)."""
        from tcplab.gui.media import render_figure, write_movie
        from tcplab.session.export import (ExportCancelled, write_capture, write_csv,
                                           write_json)
        kind = self.current_kind()
        text = self.path.text().strip()
        if not text:
            self.problem.setText("Choose a file to write")
            return None
        path = Path(text).expanduser()
        if path.suffix.lower() not in _KIND[kind][1]:
            self.problem.setText(f"{path.name}: a {_KIND[kind][0].lower()} file ends in "
                                 f"{' or '.join(_KIND[kind][1])}")
            return None
        if not path.parent.is_dir():
            self.problem.setText(f"{path.parent}: no such folder")
            return None
        self.window_.controller.pause()
        owned = progress is None
        if owned:
            progress = self._progress_dialog(f"Exporting {path.name}…")
        trace = self.run.trace
        try:
            if kind == "pcapng":
                n = write_capture(path, trace, self.node.currentData(), progress)
                done = f"{n:,} packets captured at {trace.nodes[self.node.currentData()]}"
            elif kind == "csv":
                n = write_csv(path, trace, progress)
                done = f"{n:,} events"
            elif kind == "json":
                sc = self.run.scenario
                n = write_json(path, trace, {"scenario": sc.name, "title": sc.title,
                                             "seed": self.run.seed}, progress)
                done = f"{n:,} events"
            elif kind == "figure":
                render_figure(self.recording, self.fig_view.currentData(), path,
                              size=(self.fig_w.value(), self.fig_h.value()),
                              theme=self.fig_theme.currentData(),
                              at_ns=self._ns(self.fig_at),
                              scale=self.fig_scale.value())
                done = f"the {VIEW_TITLES.get(self.fig_view.currentData(), '')} as of " \
                       f"{fmt.sim_time(self._ns(self.fig_at))}"
            else:
                n = write_movie(self.recording, path, theme=self.mov_theme.currentData(),
                                progress=progress, **self._movie_options())
                done = f"{n:,} frames"
        except ExportCancelled:
            self.problem.setText("Cancelled: nothing was written")
            return None
        except (ValueError, OSError) as e:
            self.problem.setText(str(e))
            return None
        finally:
            if owned:
                progress.close()
        self.last_written = path
        self.window_.settings.setValue("last_dir", str(path.parent))
        self.window_.statusBar().showMessage(f"Exported {path.name}: {done}", 8000)
        return path

    def _progress_dialog(self, title: str):
        """A progress dialog as a ``progress(done, total)`` callable with ``close()``."""
        dialog = QProgressDialog(title, "Cancel", 0, 1000, self)
        dialog.setWindowModality(Qt.WindowModal)
        dialog.setMinimumDuration(400)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)

        class Callback:
            def __call__(self, done: int, total: int) -> bool:
                dialog.setValue(int(1000 * done / total) if total else 0)
                QApplication.processEvents()
                return not dialog.wasCanceled()

            def close(self) -> None:
                dialog.close()
                dialog.deleteLater()

        return Callback()


def open_export(window, kind: str = "pcapng") -> ExportDialog | None:
    """File → Export: the dialog for the current run (None, with a message, when nothing has
    run)."""
    if window.controller.run is None or not len(window.controller.run.trace):
        window.report("Nothing has run yet: there is nothing to export")
        return None
    dialog = ExportDialog(window, kind)
    dialog.setAttribute(Qt.WA_DeleteOnClose)
    dialog.open()
    return dialog
