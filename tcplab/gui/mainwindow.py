"""The lab window: the topology canvas in the middle, docks around it, run controls on top.

Edits go through :meth:`LabWindow.edit`, which snapshots the document, applies the change and
pushes one undoable command; a refused change leaves the document as it was and returns the
reason. The run is rebuilt when the scenario changes (a changed link value is applied to the
running engine instead, as a knob would). Views follow the controller's trace batches.
"""

from __future__ import annotations

import random
import time
import tomllib
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QByteArray, QPointF, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoStack
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QInputDialog, QLabel,
                               QMainWindow, QMessageBox, QProgressDialog, QScrollArea, QSlider,
                               QToolBar, QWidget)

from tcplab import __version__
from tcplab.gui import fmt, icons, paths
from tcplab.gui.autosave import Autosaver, Orphan
from tcplab.gui.canvas import TopologyScene, TopologyView
from tcplab.gui.commands import DocCommand
from tcplab.gui.context import TraceContext
from tcplab.gui.controller import SPEEDS, DEFAULT_SPEED, EngineController, speed_label
from tcplab.gui.docks import ConnectionsPanel, KnobsPanel, PropertiesPanel
from tcplab.gui.theme import THEMES, apply_theme
from tcplab.gui.timeline import Timeline
from tcplab.net.link import ChannelParams
from tcplab.scenario.document import ScenarioDocument
from tcplab.scenario.spec import LINK_DEFAULTS, LINK_KEYS, ScenarioError
from tcplab.tcp.config import TcpConfig
from tcplab.trace.events import EventKind

DEFAULT_LESSON = "intro"
#: The views of issue 5: key, module, class. Each is built with the shared TraceContext.
VIEWS = (
    ("ladder", "tcplab.gui.views.ladder", "LadderView"),
    ("tsg", "tcplab.gui.views.tsg", "TimeSequenceView"),
    ("plots", "tcplab.gui.views.plots", "PlotsView"),
    ("narration", "tcplab.gui.views.narration", "NarrationLog"),
    ("buffers", "tcplab.gui.views.buffers", "BuffersView"),
    ("timers", "tcplab.gui.views.timers", "TimersView"),
    ("state", "tcplab.gui.views.statediagram", "StateView"),
    ("inspector", "tcplab.gui.views.inspector", "PacketInspector"),
)
MAX_RECENT = 8
_LINK_SET = int(EventKind.LINK_SET)


def _scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` in a scroll area, so that a dock can be made smaller than its contents."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    # A fixed scroll bar: content that wraps text cannot make the bar come and go forever
    area.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOn)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    area.setFrameShape(QScrollArea.NoFrame)
    area.setWidget(widget)
    return area


def _without_layout(snapshot: dict) -> dict:
    return {k: v for k, v in snapshot.items() if k != "layout"}


class LabWindow(QMainWindow):
    """One scenario document, its run, and every control over them."""

    def __init__(self, doc: ScenarioDocument | None = None, autosave: bool = True) -> None:
        super().__init__()
        self.settings = paths.settings()
        self.theme = THEMES.get(str(self.settings.value("theme", "light")), THEMES["light"])
        app = QApplication.instance()
        if app is not None:
            apply_theme(app, self.theme)
        self.setWindowIcon(icons.app_icon())
        self.doc = doc or ScenarioDocument.from_builtin(DEFAULT_LESSON)
        self.doc.ensure_layout()
        self.undo = QUndoStack(self)
        self.undo.cleanChanged.connect(self._update_title)
        self.undo.indexChanged.connect(self._update_title)
        self._restored_dirty = False
        self.autosaver = Autosaver(paths.autosave_dir()) if autosave else None
        self.controller = EngineController(self)
        self._recorded = None       # a session's recorded trace while it is being replayed
        self._seeking = False       # running the engine to where the cursor was dragged
        self._seek_target: int | None = None
        self.context = TraceContext(self)
        self._canvas_past = False     # the canvas shows the cursor's past, not the present
        self.scene = TopologyScene(self.theme, self)
        self.view = TopologyView(self.scene, self)
        self.setCentralWidget(self.view)
        self._problem = QLabel()
        self._problem.setObjectName("problem")
        self._problem.setStyleSheet(f"color: {self.theme.error}; font-weight: bold;")
        self._wall_last = time.perf_counter()
        self._build_actions()
        self._build_docks()
        self._build_toolbars()
        self._build_menus()
        self._build_status()
        self._connect()
        self.set_speed(self._saved_speed())
        self._restore_layout()
        self._load_document_into_views(reset_run=True)
        self._default_relative()
        self._update_title()
        from tcplab.gui.presenter import install
        install(self)        # the Lessons menu and presenter mode (F5)

    # ======================================================================== construction
    def _act(self, key: str, text: str, slot: Callable, shortcut=None, icon: str | None = None,
             tip: str = "", checkable: bool = False) -> QAction:
        a = QAction(text, self)
        if icon:
            a.setIcon(icons.icon(icon, self.theme.icon_stroke))
            a.setData(icon)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                a.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                a.setShortcut(QKeySequence(shortcut))
        a.setToolTip(f"{tip or text.replace('&', '')}"
                     + (f" ({a.shortcut().toString(QKeySequence.NativeText)})" if shortcut else ""))
        a.setStatusTip(tip or text.replace("&", ""))
        a.setCheckable(checkable)
        if checkable:
            a.toggled.connect(slot)
        else:
            a.triggered.connect(lambda *_: slot())
        a.setObjectName(f"action:{key}")
        self.actions_by_key[key] = a
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        self.actions_by_key: dict[str, QAction] = {}
        A = self._act
        A("new", "&New", self.file_new, QKeySequence.New, "new", "New empty scenario")
        A("open", "&Open…", self.file_open, QKeySequence.Open, "open", "Open a scenario file")
        A("save", "&Save", self.file_save, QKeySequence.Save, "save", "Save the scenario")
        A("save_as", "Save &As…", self.file_save_as, QKeySequence.SaveAs, None)
        A("save_session", "Save Session…", self.save_session, "Ctrl+Alt+S", None,
          "Save this run (scenario, seed, your actions and the trace) as a session file")
        A("export", "&Export…", self.open_export, "Ctrl+E", None,
          "Export this run: a pcapng capture, the events as CSV or JSON, a picture of a view, "
          "a GIF or MP4 movie")
        A("quit", "&Quit", self.close, QKeySequence.Quit, None)
        u = self.undo.createUndoAction(self, "&Undo")
        u.setShortcut(QKeySequence.Undo)
        u.setIcon(icons.icon("undo", self.theme.icon_stroke))
        u.setData("undo")
        u.setObjectName("action:undo")
        r = self.undo.createRedoAction(self, "&Redo")
        r.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        r.setIcon(icons.icon("redo", self.theme.icon_stroke))
        r.setData("redo")
        r.setObjectName("action:redo")
        self.actions_by_key["undo"] = u
        self.actions_by_key["redo"] = r
        self.addAction(u)
        self.addAction(r)
        A("delete", "&Delete", self.delete_selection, [QKeySequence.Delete, "Backspace"], "delete",
          "Delete the selected nodes and links")
        A("select_all", "Select &All", self.select_all, QKeySequence.SelectAll, None)
        A("rename", "Re&name…", self.rename_selected, "F2", None, "Rename the selected node")
        A("layout", "Automatic &Layout", self.auto_layout, "Ctrl+L", "layout",
          "Place the nodes automatically")
        A("zoom_fit", "&Fit to Window", self.view.fit, "Ctrl+0", "zoom-fit")
        A("zoom_in", "Zoom &In", lambda: self.view.zoom(1.25), QKeySequence.ZoomIn, None)
        A("zoom_out", "Zoom &Out", lambda: self.view.zoom(0.8), QKeySequence.ZoomOut, None)
        self.mode_group = QActionGroup(self)
        for mode, text, icon, key in (("select", "Select and move", "select", "S"),
                                      ("host", "Add hosts", "add-host", "H"),
                                      ("router", "Add routers", "add-router", "R"),
                                      ("link", "Connect by dragging", "add-link", "C")):
            a = A(f"mode_{mode}", text, lambda on, m=mode: on and self.set_mode(m), key, icon,
                  checkable=True)
            self.mode_group.addAction(a)
        self.actions_by_key["mode_select"].setChecked(True)
        A("play", "&Play", self.controller.toggle, "Space", "play", "Play or pause the run")
        A("step", "Step one &event", self.controller.step_event, "Right", "step")
        A("step_back", "Step &back one event", self.step_back, "Left", "step-back",
          "Take the engine back one event (it re-runs from a snapshot)")
        A("seek_cursor", "&Go to the Cursor", self.seek_to_cursor, "Ctrl+G", None,
          "Put the engine where the time cursor is, back or forward: playing goes on from there")
        A("fork", "&Fork from Here…", self.fork_here, "Ctrl+K", "fork",
          "Go to the cursor and let the run take another course from there (change a knob and "
          "play); the graphs keep the run so far in grey to compare")
        A("clear_compare", "&Clear Comparison", self.clear_comparison, None, None,
          "Stop drawing the other run in grey")
        A("step_segment", "Step to the next &segment", self.controller.step_segment,
          "Shift+Right", "step-segment")
        A("reset", "&Reset", self.reset_run, "Home", "reset", "Back to time zero (same seed)")
        A("rerun", "Re-run", self.reset_run, "Ctrl+R", "rerun", "Run again with the same seed")
        A("new_seed", "Re-run with a new &seed", self.rerun_new_seed, "Ctrl+Shift+R", "new-seed")
        A("run_end", "Run to the &end", self.run_to_end, "End", None)
        A("fullscreen", "&Full Screen", self.toggle_fullscreen, "F11", "fullscreen", checkable=True)
        A("relative", "&Relative Sequence Numbers", self.set_relative, None, None,
          "Label packets with sequence numbers counted from each connection's ISN",
          checkable=True)
        A("theme", "&Dark Theme", self.set_dark, None, "theme", checkable=True)
        self.actions_by_key["theme"].blockSignals(True)
        self.actions_by_key["theme"].setChecked(self.theme.name == "dark")
        self.actions_by_key["theme"].blockSignals(False)
        A("about", "&About tcplab", self.about, None, "about")

    def _build_docks(self) -> None:
        self.properties = PropertiesPanel(self)
        self.connections = ConnectionsPanel(self)
        self.knobs = KnobsPanel(self)
        self.docks: dict[str, QDockWidget] = {}
        for key, title, widget, area in (("properties", "Properties", self.properties, Qt.RightDockWidgetArea),
                                         ("connections", "Connections", self.connections, Qt.RightDockWidgetArea),
                                         ("knobs", "Knobs", self.knobs, Qt.RightDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock:{key}")
            dock.setWidget(_scrolling(widget) if key == "knobs" else widget)
            self.addDockWidget(area, dock)
            self.docks[key] = dock
        self.splitDockWidget(self.docks["properties"], self.docks["knobs"], Qt.Vertical)
        self.tabifyDockWidget(self.docks["properties"], self.docks["connections"])
        self.views: dict[str, QWidget] = {}
        import importlib
        for key, module, cls in VIEWS:
            view = getattr(importlib.import_module(module), cls)(self.context)
            view.set_theme(self.theme)
            dock = QDockWidget(view.title, self)
            dock.setObjectName(f"dock:{key}")
            dock.setWidget(_scrolling(view) if key == "inspector" else view)
            self.views[key] = view
            self.docks[key] = dock
        # below the canvas: the time views on the left, the state of the endpoints on the right;
        # the packet inspector beside the properties
        d = self.docks
        self.addDockWidget(Qt.BottomDockWidgetArea, d["ladder"])
        self.splitDockWidget(d["ladder"], d["buffers"], Qt.Horizontal)
        for key in ("tsg", "plots", "narration"):
            self.tabifyDockWidget(d["ladder"], d[key])
        for key in ("timers", "state"):
            self.tabifyDockWidget(d["buffers"], d[key])
        self.tabifyDockWidget(d["connections"], d["inspector"])
        d["ladder"].raise_()
        d["buffers"].raise_()
        for dock in self.docks.values():
            dock.dockLocationChanged.connect(self._schedule_tab_cleanup)
        self._hide_stale_tab_bars()
        self.docks["properties"].raise_()
        self.resizeDocks([self.docks["properties"]], [340], Qt.Horizontal)
        self.resizeDocks([self.docks["properties"], self.docks["knobs"]], [520, 280], Qt.Vertical)

    def _build_toolbars(self) -> None:
        k = self.actions_by_key
        tb = QToolBar("File and edit", self)
        tb.setObjectName("toolbar:file")
        for key in ("new", "open", "save", None, "undo", "redo", None, "delete", "layout", "zoom_fit"):
            tb.addSeparator() if key is None else tb.addAction(k[key])
        self.addToolBar(tb)
        run = QToolBar("Run", self)
        run.setObjectName("toolbar:run")
        for key in ("play", "step_back", "step", "step_segment", "reset", "new_seed", "fork"):
            run.addAction(k[key])
        run.addSeparator()
        run.addWidget(QLabel(" Speed "))
        self.speed_slider = QSlider(Qt.Horizontal)
        self.speed_slider.setObjectName("speed")
        self.speed_slider.setRange(0, len(SPEEDS) - 1)
        self.speed_slider.setFixedWidth(150)
        self.speed_slider.setToolTip("Simulated seconds per wall second; the last step is as fast "
                                     "as possible")
        run.addWidget(self.speed_slider)
        self.speed_label = QLabel()
        self.speed_label.setMinimumWidth(44)
        run.addWidget(self.speed_label)
        run.addSeparator()
        self.clock_label = QLabel()
        self.clock_label.setObjectName("clock")
        f = self.clock_label.font()
        f.setFamily("monospace")
        f.setPointSizeF(f.pointSizeF() * 1.2)
        self.clock_label.setFont(f)
        run.addWidget(self.clock_label)
        self.addToolBar(run)
        time_bar = QToolBar("Time cursor", self)
        time_bar.setObjectName("toolbar:time")
        self.timeline = Timeline(self.context, self)
        time_bar.addWidget(self.timeline)
        self.addToolBar(Qt.BottomToolBarArea, time_bar)
        palette = QToolBar("Palette", self)
        palette.setObjectName("toolbar:palette")
        for key in ("mode_select", "mode_host", "mode_router", "mode_link"):
            palette.addAction(k[key])
        self.addToolBar(Qt.LeftToolBarArea, palette)
        for t in (tb, run, palette):
            t.setIconSize(icons.ICON_SIZE)
        self.toolbars = {"file": tb, "run": run, "palette": palette, "time": time_bar}

    def _build_menus(self) -> None:
        k = self.actions_by_key
        mb = self.menuBar()
        m = mb.addMenu("&File")
        for key in ("new", "open"):
            m.addAction(k[key])
        self.recent_menu = m.addMenu("Open &Recent")
        self.builtin_menu = m.addMenu("Open &Built-in Scenario")
        from tcplab.scenario import builtin_scenarios
        for name in builtin_scenarios():
            self.builtin_menu.addAction(name, lambda n=name: self.open_builtin(n))
        m.addSeparator()
        for key in ("save", "save_as", "save_session", "export"):
            m.addAction(k[key])
        m.addSeparator()
        m.addAction(k["quit"])
        m = mb.addMenu("&Edit")
        for key in ("undo", "redo", None, "delete", "rename", "select_all", None, "mode_select",
                    "mode_host", "mode_router", "mode_link", None, "layout"):
            m.addSeparator() if key is None else m.addAction(k[key])
        m = mb.addMenu("&Run")
        for key in ("play", "step", "step_segment", "step_back", "run_end", None, "seek_cursor",
                    "fork", "clear_compare", None, "reset", "new_seed"):
            m.addSeparator() if key is None else m.addAction(k[key])
        m = mb.addMenu("&View")
        for dock in self.docks.values():
            m.addAction(dock.toggleViewAction())
        m.addSeparator()
        export = m.addMenu("&Export View")
        export.addAction("Topology…", lambda: self.export_view("topology"))
        for key, _module, _cls in VIEWS:
            export.addAction(f"{self.docks[key].windowTitle()}…",
                             lambda k=key: self.export_view(k))
        m.addSeparator()
        for key in ("zoom_in", "zoom_out", "zoom_fit", None, "relative", None, "theme", "fullscreen"):
            m.addSeparator() if key is None else m.addAction(k[key])
        m = mb.addMenu("&Help")
        m.addAction(k["about"])
        self._refresh_recent_menu()

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.status_events = QLabel()
        self.status_events.setObjectName("events")
        self.status_seed = QLabel()
        self.status_time = QLabel()
        self.status_time.setObjectName("simTime")
        sb.addWidget(self._problem, 1)
        sb.addPermanentWidget(self.status_time)
        sb.addPermanentWidget(self.status_seed)
        sb.addPermanentWidget(self.status_events)

    def _connect(self) -> None:
        c = self.controller
        self.timeline.seekRequested.connect(self._seek_requested)
        c.reset.connect(self._on_run_reset)
        c.jumped.connect(self._on_jumped)
        c.advanced.connect(self._on_advanced)
        c.playingChanged.connect(self._on_playing)
        c.finished.connect(lambda: self.statusBar().showMessage("The run is over: nothing more "
                                                                "will happen", 5000))
        c.error.connect(self.report)
        c.actionApplied.connect(self._on_action)
        c.forked.connect(self._on_forked)
        s = self.scene
        s.selectionChanged.connect(self._on_selection)
        s.nodesMoved.connect(self.move_nodes)
        s.addNodeRequested.connect(self.add_node)
        s.linkRequested.connect(self.add_link)
        s.packetActionRequested.connect(self.packet_action)
        s.linkActionRequested.connect(self.link_action)
        s.nodeActionRequested.connect(self.node_action)
        s.packetSelected.connect(lambda uid: self.context.select(packet=uid, source="canvas"))
        self.context.selectionChanged.connect(lambda sel: self.scene.set_selected_packet(sel.packet))
        self.context.cursorChanged.connect(self._on_cursor)
        self.speed_slider.valueChanged.connect(lambda i: self.set_speed(SPEEDS[i]))

    # ======================================================================== document plumbing
    def edit(self, text: str, change: Callable[[], Any]) -> str | None:
        """Apply ``change`` to the document as one undoable step. Returns None when it was
        applied, or the reason it was refused (the document is then unchanged)."""
        before = self.doc.snapshot()
        try:
            change()
        except (ValueError, KeyError, ScenarioError) as e:
            self.doc.restore(before)
            return str(e).strip("'\"")
        after = self.doc.snapshot()
        if after == before:
            return None
        self.undo.push(DocCommand(self.doc, before, after, text, self._document_changed))
        return None

    def _document_changed(self, before: dict, after: dict) -> None:
        """The document went from ``before`` to ``after`` (an edit, undo or redo)."""
        if _without_layout(before) == _without_layout(after):
            self._load_document_into_views(reset_run=False)
        else:
            live = self._live_link_changes(before, after)
            if live is not None and self.controller.run is not None:
                for action in live:
                    self.controller.apply(action)
                self._load_document_into_views(reset_run=False)
            else:
                self._load_document_into_views(reset_run=True)
        self._autosave()
        self._update_title()

    def _live_link_changes(self, before: dict, after: dict) -> list[dict] | None:
        """When the only difference is link values (both directions), the knob actions that
        apply it to the running engine; otherwise None (the run must be rebuilt)."""
        b, a = _without_layout(before), _without_layout(after)
        if {k: v for k, v in b.items() if k != "links"} != {k: v for k, v in a.items() if k != "links"}:
            return None
        bl, al = b.get("links", {}), a.get("links", {})
        if set(bl) != set(al):
            return None
        actions = []
        for name in al:
            old, new = bl[name], al[name]
            if old == new:
                continue
            if old.get("forward") != new.get("forward") or old.get("reverse") != new.get("reverse"):
                return None
            for key in set(old) | set(new):
                if key in ("forward", "reverse") or old.get(key) == new.get(key):
                    continue
                value = new.get(key, LINK_DEFAULTS.get(key, ChannelParams.__dataclass_fields__[key].default))
                actions.append({"op": "set_link", "link": name, "param": key, "value": value,
                                "direction": None})
        return actions

    def _load_document_into_views(self, reset_run: bool) -> None:
        labels = {name: self._link_text(name) for name, _a, _b in self.doc.links()}
        self.scene.build(self.doc, labels, self._subtitles())
        for name in self.knobs.live:    # a running engine's values win over the document's
            self._refresh_live_link_label(name)
        self.properties.show_selection(self.scene.selection())
        self.connections.refresh()
        if reset_run:
            self._rebuild_run(self.controller.seed if self.controller.scenario is not None else None)
        self._show_problem()

    def _rebuild_run(self, seed: int | None) -> None:
        self._recorded = None
        self.context.horizon = 0
        if self.context.baseline is not None:
            self.context.set_baseline(None)
        problem = self.doc.problem()
        if problem is not None:
            self.controller.unload()
            return
        try:
            self.controller.load(self.doc.scenario(), seed)
        except ScenarioError as e:
            self.controller.unload()
            self.report(str(e))

    def _show_problem(self) -> None:
        problem = self.doc.problem()
        if problem:
            where = problem.split(": ", 1)[-1]
            self._problem.setText(f"Cannot run yet: {where}")
        else:
            self._problem.setText("")
        for key in ("play", "step", "step_segment", "reset", "new_seed", "run_end"):
            self.actions_by_key[key].setEnabled(problem is None)

    def _subtitles(self) -> dict[str, str]:
        out = {}
        for name, kind in self.doc.nodes():
            if kind == "host":
                addr = self.doc.get(("hosts", name, "address"))
                isn = self.doc.get(("hosts", name, "isn"))
                bits = [str(addr)] if addr else []
                if isn is not None:
                    bits.append(f"ISN {isn}")
                out[name] = " · ".join(bits)
        return out

    def doc_link_params(self, name: str) -> tuple[ChannelParams, ChannelParams]:
        """The link's two directions as the document sets them (file units converted)."""
        table = self.doc.get(("links", name), {}) or {}
        both = {k: LINK_KEYS[k](v) for k, v in table.items() if k in LINK_KEYS}
        base = {**LINK_DEFAULTS, **both}
        out = []
        for d in ("forward", "reverse"):
            extra = {k: LINK_KEYS[k](v) for k, v in (table.get(d) or {}).items() if k in LINK_KEYS}
            out.append(ChannelParams(**{**base, **extra}))
        return out[0], out[1]

    def _link_text(self, name: str) -> str:
        try:
            ab, ba = self.doc_link_params(name)
        except ValueError:
            return ""
        text = fmt.link_label(ab)
        return text if ab == ba else text + "  (→)"

    def doc_display(self, path: tuple) -> str | None:
        if self.doc.get(path) is None:
            return None
        return self.doc.display_value(path)

    def tcp_defaults(self) -> TcpConfig:
        try:
            return self.doc.scenario().tcp
        except ScenarioError:
            return TcpConfig()

    # ======================================================================== edits
    def set_doc_value(self, path: tuple, value: Any) -> str | None:
        label = ".".join(path)
        if value is None:
            return self.edit(f"Reset {label}", lambda: self.doc.unset_value(path))
        return self.edit(f"Set {label}", lambda: self.doc.set_value(path, value))

    def add_node(self, kind: str, pos: QPointF) -> None:
        problem = self.edit(f"Add {kind}", lambda: self.doc.add_node(kind, pos=(round(pos.x(), 1),
                                                                                 round(pos.y(), 1))))
        self.report(problem)

    def add_link(self, a: str, b: str) -> None:
        self.report(self.edit(f"Connect {a} and {b}", lambda: self.doc.add_link(a, b)))

    def move_nodes(self, moved: dict) -> None:
        def change():
            for name, (x, y) in moved.items():
                self.doc.move_node(name, x, y)
        names = ", ".join(moved)
        self.report(self.edit(f"Move {names}", change))

    def rename_node(self, old: str, new: Any) -> str | None:
        if not isinstance(new, str) or not new:
            return "a name is needed (letters, digits and _, starting with a letter)"
        if new == old:
            return None
        problem = self.edit(f"Rename {old} to {new}", lambda: self.doc.rename_node(old, new))
        if problem is None:
            self.scene.select([("node", new)])
        return problem

    def rename_selected(self) -> None:
        nodes = [n for k, n in self.scene.selection() if k == "node"]
        if len(nodes) != 1:
            self.report("Select one node to rename")
            return
        text, ok = QInputDialog.getText(self, "Rename", f"New name for {nodes[0]}:", text=nodes[0])
        if ok:
            self.report(self.rename_node(nodes[0], text.strip()))

    def delete_selection(self) -> None:
        sel = self.scene.selection()
        if not sel:
            return
        nodes = [n for k, n in sel if k == "node"]
        links = [n for k, n in sel if k == "link"]
        removed: dict = {}

        def change():
            for name in links:
                if name in {ln for ln, _a, _b in self.doc.links()}:
                    self.doc.remove_link(name)
            if nodes:
                removed.update(self.doc.remove_nodes(nodes))
        what = ", ".join(nodes + links)
        problem = self.edit(f"Delete {what}", change)
        if problem:
            self.report(problem)
            return
        extra = []
        for key, items in removed.items():
            if items and key != "nodes" and key != "layout":
                shown = [i for i in items if i not in links]
                if shown:
                    extra.append(f"{key} {', '.join(map(str, shown))}")
        if extra:
            self.statusBar().showMessage("Also deleted: " + "; ".join(extra), 6000)

    def select_all(self) -> None:
        self.scene.select([("node", n) for n, _k in self.doc.nodes()]
                          + [("link", n) for n, _a, _b in self.doc.links()])

    def auto_layout(self) -> None:
        rect = self.view.viewport().rect()
        self.report(self.edit("Automatic layout",
                              lambda: self.doc.auto_layout(max(600, rect.width() - 100),
                                                           max(360, rect.height() - 100))))
        self.view.fit()

    def add_app(self, kind: str) -> None:
        hosts = self.doc.hosts()
        if len(hosts) < 2:
            self.report("A connection needs two hosts: add them on the canvas first")
            return
        created: list[str] = []
        problem = self.edit(f"Add {kind} application",
                            lambda: created.append(self.doc.add_app(kind, hosts[0], hosts[-1])))
        self.report(problem)
        if created:
            self.connections.refresh()
            for i in range(self.connections.list.count()):
                if self.connections.list.item(i).data(Qt.UserRole) == created[0]:
                    self.connections.list.setCurrentRow(i)

    def remove_app(self, name: str) -> None:
        self.report(self.edit(f"Remove application {name}", lambda: self.doc.remove_app(name)))

    def rename_app(self, old: str, new: Any) -> str | None:
        if not isinstance(new, str) or not new or new == old:
            return None if new == old else "a name is needed"
        return self.edit(f"Rename application {old} to {new}", lambda: self.doc.rename_app(old, new))

    def keep_live_link(self, name: str, live: list[ChannelParams]) -> None:
        """Write the knobs' live values of link ``name`` into the document."""
        ab, ba = live

        def change():
            for param in ("loss", "delay", "jitter", "bandwidth", "queue"):
                if getattr(ab, param) == getattr(ba, param):
                    self.doc.set_value(("links", name, param), self._file_value(param, getattr(ab, param)))
                else:
                    for d, params in (("forward", ab), ("reverse", ba)):
                        self.doc.set_value(("links", name, d, param),
                                           self._file_value(param, getattr(params, param)))
        self.report(self.edit(f"Keep live values of {name}", change))

    @staticmethod
    def _file_value(param: str, value: Any) -> Any:
        if param in ("delay", "jitter"):
            return f"{value / 1e6:g}ms"
        if param == "bandwidth":
            return int(value)
        return value

    def set_mode(self, mode: str) -> None:
        self.scene.set_mode(mode)
        self.view.setDragMode(TopologyView.RubberBandDrag if mode == "select" else TopologyView.NoDrag)
        self.actions_by_key[f"mode_{mode}"].setChecked(True)

    # ======================================================================== canvas requests
    def packet_action(self, uid: int, what: str) -> None:
        action: dict = {"op": "packet", "uid": uid, "what": what}
        if what == "delay":
            action["delay"] = 100_000_000
        self.controller.apply(action)

    def link_action(self, name: str, what: str) -> None:
        if what == "delete":
            self.report(self.edit(f"Delete link {name}", lambda: self.doc.remove_link(name)))
        elif what.startswith("drop_next"):
            action: dict = {"op": "drop_next", "link": name}
            if ":" in what:
                action["from"] = what.split(":", 1)[1]
            self.controller.apply(action)

    def node_action(self, name: str, what: str) -> None:
        if what == "delete":
            self.scene.select([("node", name)])
            self.delete_selection()
        elif what == "rename":
            self.scene.select([("node", name)])
            self.rename_selected()

    def _on_selection(self) -> None:
        sel = self.scene.selection()
        self.properties.show_selection(sel)
        links = [n for k, n in sel if k == "link"]
        if len(links) == 1:
            self.knobs.select_link(links[0])
        if sel:
            self.docks["properties"].raise_()

    # ======================================================================== running
    def reset_run(self) -> None:
        self._rebuild_run(self.controller.seed)

    def rerun_new_seed(self) -> None:
        seed = random.SystemRandom().randrange(1, 2**31)
        self._rebuild_run(seed)
        self.statusBar().showMessage(f"New seed {seed}", 4000)

    # -- going back in time and forking ------------------------------------------------------
    def step_back(self) -> None:
        """Take the engine back one event (re-run from the nearest snapshot)."""
        if not self.controller.step_back():
            self.statusBar().showMessage("Already at the start of the run", 4000)

    def seek_to_cursor(self) -> None:
        """Put the engine where the shared time cursor is: playing goes on from there."""
        if self.controller.run is None:
            self.report("Nothing is running: open or fix the scenario first")
            return
        t = self.context.cursor
        self.controller.seek(t)
        self.statusBar().showMessage(f"The engine is at {fmt.sim_time(self.controller.now)}", 4000)

    def run_with_progress(self, until: int, title: str) -> bool:
        """Run the engine to ``until`` in chunks under a progress dialog that can cancel it.
        Returns False when the user cancelled."""
        c = self.controller
        run = c.run
        start = run.now
        span = max(1, until - start)
        dialog = None
        t0 = time.perf_counter()
        while run.now < until and not c.at_end:
            c.run_chunk(until, 20_000)
            run = c.run
            if dialog is None and time.perf_counter() - t0 > 0.3:
                dialog = QProgressDialog(title, "Cancel", 0, 1000, self)
                dialog.setWindowModality(Qt.WindowModal)
                dialog.setMinimumDuration(0)
            if dialog is not None:
                dialog.setValue(int(1000 * (run.now - start) / span))
                QApplication.processEvents()
                if dialog.wasCanceled():
                    dialog.close()
                    dialog.deleteLater()
                    return False
        if dialog is not None:
            dialog.close()
            dialog.deleteLater()
        return True

    def fork_here(self) -> None:
        """Fork at the cursor: the engine goes there and the recorded actions after it are
        dropped, so the run can take another course (change a knob, play). The graphs draw
        the run as it was, to its end, in grey."""
        c = self.controller
        if c.run is None:
            self.report("Nothing is running: open or fix the scenario first")
            return
        at = c.now if self.context.live else self.context.cursor
        recorded = self._recorded
        if recorded is None or len(recorded) <= len(c.display):
            # The comparison shows the first course to its end: finish it first (from the
            # furthest moment already known: the engine jumps there through its snapshots).
            c.pause()
            if len(c.display) > len(c.run.trace):
                c.seek(self.context.end_time())
            if not self.run_with_progress(c.run.scenario.duration,
                                          "Finishing the run to compare with…"):
                self.statusBar().showMessage("Fork cancelled", 4000)
                return
            recorded = None
        before = c.fork(at)
        self._recorded = None               # from now on the run differs from the recording
        baseline = recorded if recorded is not None and len(recorded) > len(before) else before
        self.context.set_baseline(baseline, f"the run before the fork at {fmt.sim_time(at)}")
        self.statusBar().showMessage(
            f"Forked at {fmt.sim_time(at)}: change a knob and play. The graphs show the first "
            "course in grey (Run → Clear Comparison hides it)", 10000)

    def clear_comparison(self) -> None:
        self.context.set_baseline(None)

    def _seek_requested(self, t: int) -> None:
        """The time cursor went past the engine (a session's recorded end is further): run the
        engine there, under a progress dialog when that takes a while. Requests that come
        while it runs (the slider is still being dragged) move the target."""
        if self.controller.run is None:
            return
        self._seek_target = t
        if self._seeking:
            return
        self._seeking = True
        try:
            while self._seek_target is not None:
                target, self._seek_target = self._seek_target, None
                self.controller.pause()
                if not self.run_with_progress(target, "Replaying the session…"):
                    break
        finally:
            self._seeking = False

    def run_to_end(self) -> None:
        """Run to the scenario's end (a progress dialog with Cancel appears when that takes a
        while)."""
        run = self.controller.run
        if run is not None:
            self.controller.pause()
            self.run_with_progress(run.scenario.duration, "Running to the end…")

    def set_speed(self, speed: float | None) -> None:
        self.controller.set_speed(speed)
        i = SPEEDS.index(speed) if speed in SPEEDS else SPEEDS.index(DEFAULT_SPEED)
        if self.speed_slider.value() != i:
            self.speed_slider.blockSignals(True)
            self.speed_slider.setValue(i)
            self.speed_slider.blockSignals(False)
        self.speed_label.setText(speed_label(speed))
        self.settings.setValue("speed", speed_label(speed))

    def _saved_speed(self) -> float | None:
        text = str(self.settings.value("speed", speed_label(DEFAULT_SPEED)))
        for s in SPEEDS:
            if speed_label(s) == text:
                return s
        return DEFAULT_SPEED

    def _on_run_reset(self, run) -> None:
        display = self.controller.display if run is not None else None
        self.scene.reset_live(display)
        self._canvas_past = False
        self.context.set_trace(display)
        self._show_run_knobs(run)

    def _show_run_knobs(self, run) -> None:
        self.knobs.reset(run)
        for name in self.knobs.live:
            self._refresh_live_link_label(name)
        self._update_clock()

    def _on_jumped(self, run) -> None:
        """The engine went to another moment of the same course: the views keep what they
        show and look at the engine's time; the knobs show the links as they are then."""
        self._show_run_knobs(run)
        self.context.follow_producer(run.now)

    def _on_advanced(self, first: int, end: int) -> None:
        run = self.controller.run
        if run is None:
            return
        trace = self.context.trace
        if end > first:
            kinds = trace.matrix(first, end)[:, 1]
            for i in (first + j for j in range(end - first) if kinds[j] == _LINK_SET):
                name, _old, new = trace.extra[i]
                link_name = trace.links[trace.a[i]].name
                self.knobs.link_changed(link_name, trace.d[i], name, new)
                self._refresh_live_link_label(link_name)
        if self.context.live and not self._canvas_past:
            self.scene.consume(first, end, run.now)
        self.context.append(first, end, run.now)
        wall = time.perf_counter()
        if self.controller.playing:
            self.scene.fade(wall - self._wall_last)
        self._wall_last = wall
        self._update_clock()

    def _on_cursor(self, t: int) -> None:
        """The shared cursor moved: the canvas shows that moment, or the present again."""
        run = self.controller.run
        if run is None:
            return
        if not self.context.live:
            self.scene.show_at(self.context.rows_until(t), t)
            self._canvas_past = True
        elif self._canvas_past:
            self.scene.show_at(len(self.context.trace), run.now)
            self._canvas_past = False

    def _refresh_live_link_label(self, name: str) -> None:
        live = self.knobs.live.get(name)
        if live:
            ab, ba = live
            text = fmt.link_label(ab) + ("" if ab == ba else "  (→)")
            self.scene.set_link_label(name, text, lossy=bool(ab.loss or ba.loss), up=ab.up and ba.up)
            self.scene.set_queue_capacity(name, 0, ab.queue)
            self.scene.set_queue_capacity(name, 1, ba.queue)

    def _on_playing(self, playing: bool) -> None:
        a = self.actions_by_key["play"]
        a.setIcon(icons.icon("pause" if playing else "play", self.theme.icon_stroke))
        a.setData("pause" if playing else "play")
        a.setText("&Pause" if playing else "&Play")
        self._wall_last = time.perf_counter()

    def _on_action(self, action: dict) -> None:
        op = action.get("op")
        if op == "drop_next":
            where = f" from {action['from']}" if action.get("from") else ""
            self.statusBar().showMessage(f"The next segment on {action['link']}{where} will be "
                                         "dropped", 5000)
        elif op == "packet":
            self.statusBar().showMessage(f"Packet {action['uid']}: {action['what']}", 4000)

    def _on_forked(self, dropped: int) -> None:
        self._recorded = None
        self.statusBar().showMessage(
            f"Your change takes the run another way: the {dropped} recorded "
            f"action{'s' if dropped != 1 else ''} due later will not happen (Run → Fork from "
            "Here first keeps the recorded course in grey to compare)", 10000)

    def _update_clock(self) -> None:
        run = self.controller.run
        if run is None:
            self.clock_label.setText(" t = —  ")
            self.status_events.setText("no run")
            self.status_seed.setText("")
            self.status_time.setText("")
            return
        self.clock_label.setText(f" t = {fmt.sim_time(run.now)} ")
        self.status_time.setText(f"simulated {fmt.sim_time(run.now)}")
        n = len(run.trace)
        self.status_events.setText(f"{n:,} event{'' if n == 1 else 's'}")
        self.status_seed.setText(f"seed {self.controller.seed}")

    # ======================================================================== files
    def _ask_save(self) -> bool:
        """Offer to save unsaved work. False when the user cancels what they were doing."""
        if not self.is_modified():
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes",
            f"Save the changes to {self._doc_name()} before continuing?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Cancel:
            return False
        if answer == QMessageBox.Save:
            return self.file_save()
        return True

    def is_modified(self) -> bool:
        return not self.undo.isClean() or self._restored_dirty

    def _doc_name(self) -> str:
        if self.doc.path is not None:
            return Path(self.doc.path).name
        return str(self.doc.get(("scenario", "title")) or "Untitled")

    def file_new(self) -> None:
        if self._ask_save():
            self.set_document(ScenarioDocument.new())

    def file_open(self) -> None:
        if not self._ask_save():
            return
        start = str(self.settings.value("last_dir", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(
            self, "Open scenario or session", start,
            "Scenarios and sessions (*.toml *.tcplab);;Scenarios (*.toml);;Sessions (*.tcplab);;"
            "All files (*)")
        if path:
            self.open_path(path, ask=False)

    def open_path(self, path: str | Path, ask: bool = True) -> bool:
        """Open a scenario file, or a session file (``.tcplab``). On error, say why and keep
        the current work."""
        if ask and not self._ask_save():
            return False
        if str(path).endswith(".tcplab"):
            return self.open_session(path)
        try:
            doc = ScenarioDocument.from_file(path, partial=True)
        except (ScenarioError, OSError) as e:
            QMessageBox.warning(self, "Cannot open", str(e))
            return False
        self.settings.setValue("last_dir", str(Path(path).resolve().parent))
        self._add_recent(str(Path(path).resolve()))
        self.set_document(doc)
        return True

    def open_session(self, path: str | Path) -> bool:
        """Open a session: its scenario becomes the document, and the run is rebuilt with the
        session's seed; its recorded actions are applied at their times as the run plays, so
        it repeats the recorded run exactly."""
        from tcplab.session import SessionError, load_session
        try:
            session = load_session(path)
        except SessionError as e:
            QMessageBox.warning(self, "Cannot open", str(e))
            return False
        doc = ScenarioDocument(tomllib.loads(session.scenario_text), None,
                               origin=Path(path).stem)
        self.set_document(doc)
        self.controller.load(session.scenario, session.seed, session.actions)
        self._recorded = session.trace      # the comparison for a fork during the replay
        self.context.horizon = session.end_ns
        self.timeline.refresh()
        self._add_recent(str(Path(path).resolve()))
        n = len(session.actions)
        self.statusBar().showMessage(
            f"Session {Path(path).name}: seed {session.seed}"
            + (f", {n} recorded action{'s' if n != 1 else ''} replayed as it plays" if n else ""),
            8000)
        return True

    def save_session(self, path: str | None = None) -> Path | None:
        """Save the current run as a session file (asking where when ``path`` is None)."""
        from tcplab.session import SessionError, save_session
        run = self.controller.run
        if run is None:
            self.report("Nothing has run yet: there is no session to save")
            return None
        if path is None:
            start = str(Path(str(self.settings.value("last_dir", str(Path.home()))))
                        / f"{self.doc.name}.tcplab")
            path, _ = QFileDialog.getSaveFileName(self, "Save session", start,
                                                  "Sessions (*.tcplab)")
            if not path:
                return None
        target = Path(path if str(path).endswith(".tcplab") else f"{path}.tcplab")
        try:
            written = save_session(target, self.doc.to_toml(), run)
        except (SessionError, OSError) as e:
            QMessageBox.warning(self, "Cannot save the session", str(e))
            return None
        self.statusBar().showMessage(f"Saved session {written}", 5000)
        return written

    def open_builtin(self, name: str) -> None:
        if self._ask_save():
            self.set_document(ScenarioDocument.from_builtin(name))

    def set_document(self, doc: ScenarioDocument, dirty: bool = False) -> None:
        self.controller.pause()
        self.doc = doc
        self.doc.ensure_layout()
        self.undo.clear()
        self._restored_dirty = dirty
        self.controller.scenario = None
        self.scene.clearSelection()
        self._load_document_into_views(reset_run=True)
        self._default_relative()
        self.view.fit()
        self._autosave() if dirty else self._discard_autosave()
        self._update_title()

    def file_save(self) -> bool:
        if self.doc.path is None:
            return self.file_save_as()
        return self._save_to(Path(self.doc.path))

    def file_save_as(self) -> bool:
        start = str(self.settings.value("last_dir", str(Path.home())))
        suggested = str(Path(start) / f"{self.doc.origin or 'scenario'}.toml") if hasattr(self.doc, "origin") else start
        path, _ = QFileDialog.getSaveFileName(self, "Save scenario", suggested, "Scenarios (*.toml)")
        if not path:
            return False
        if not path.endswith(".toml"):
            path += ".toml"
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        try:
            self.doc.save(path)
        except OSError as e:
            QMessageBox.warning(self, "Cannot save", f"{path}: {e.strerror or e}")
            return False
        self.undo.setClean()
        self._restored_dirty = False
        self._discard_autosave()
        self._add_recent(str(path.resolve()))
        self.settings.setValue("last_dir", str(path.resolve().parent))
        self.statusBar().showMessage(f"Saved {path}", 4000)
        self._update_title()
        return True

    def _add_recent(self, path: str) -> None:
        recent = [p for p in self.recent_files() if p != path]
        recent.insert(0, path)
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self._refresh_recent_menu()

    def recent_files(self) -> list[str]:
        v = self.settings.value("recent", [])
        if isinstance(v, str):
            v = [v]
        return [str(p) for p in (v or [])]

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for p in files:
            self.recent_menu.addAction(p, lambda p=p: self.open_path(p))
        self.recent_menu.setEnabled(bool(files))

    # ======================================================================== autosave
    def _autosave(self) -> None:
        if self.autosaver is None:
            return
        if not self.is_modified():
            self._discard_autosave()
            return
        try:
            self.autosaver.write(self.doc.to_toml(), str(self.doc.path) if self.doc.path else None,
                                 self._doc_name())
        except OSError as e:
            self.report(f"Autosave failed: {e}")

    def _discard_autosave(self) -> None:
        if self.autosaver is not None:
            self.autosaver.discard()

    def offer_restore(self, ask: Callable[[Orphan], bool] | None = None) -> bool:
        """Offer the newest unsaved work left by a process that ended without closing. Returns
        True when it was restored."""
        orphans = Autosaver.orphans(paths.autosave_dir())
        if not orphans:
            return False
        o = orphans[0]
        if ask is None:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(o.saved_at))
            answer = QMessageBox.question(
                self, "Restore unsaved work?",
                f"tcplab ended without saving “{o.title}” (last edit {when}).\nRestore it?",
                QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
            accepted = answer == QMessageBox.Yes
        else:
            accepted = ask(o)
        if not accepted:
            for other in orphans:
                other.discard()
            return False
        try:
            raw = tomllib.loads(o.text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            self.report(f"The autosave could not be read ({e}); it was left in {o.toml}")
            return False
        doc = ScenarioDocument(raw, Path(o.origin) if o.origin else None)
        self.set_document(doc, dirty=True)
        for other in orphans:
            other.discard()
        self.statusBar().showMessage("Restored unsaved work", 5000)
        return True

    # ======================================================================== window
    def report(self, problem: str | None) -> None:
        """Show a refusal or error in the status bar (never a crash, never lost work)."""
        if problem:
            self.statusBar().showMessage(problem, 8000)

    def _update_title(self, *_args) -> None:
        self.setWindowTitle(f"{self._doc_name()}[*] — tcplab")
        self.setWindowModified(self.is_modified())

    def toggle_fullscreen(self, on: bool) -> None:
        self.showFullScreen() if on else self.showNormal()

    def set_relative(self, on: bool) -> None:
        """Relative or absolute sequence numbers on the canvas and in every view that has the
        choice."""
        self.scene.set_relative(on)
        for view in self.views.values():
            if hasattr(view, "set_relative"):
                view.set_relative(on)

    def _default_relative(self) -> None:
        """Absolute numbers when the scenario chose its ISNs (the lessons' 100 and 500),
        relative ones when they are random."""
        chosen = any(self.doc.get(("hosts", h, "isn")) is not None for h in self.doc.hosts())
        chosen = chosen or self.doc.get(("tcp", "isn")) is not None
        action = self.actions_by_key["relative"]
        action.blockSignals(True)
        action.setChecked(not chosen)
        action.blockSignals(False)
        self.set_relative(not chosen)

    def set_dark(self, on: bool) -> None:
        self.theme = THEMES["dark" if on else "light"]
        self.settings.setValue("theme", self.theme.name)
        apply_theme(QApplication.instance(), self.theme)
        self.scene.set_theme(self.theme)
        for view in self.views.values():
            view.set_theme(self.theme)
        self._problem.setStyleSheet(f"color: {self.theme.error}; font-weight: bold;")
        for a in self.actions_by_key.values():
            if a.data():
                a.setIcon(icons.icon(a.data(), self.theme.icon_stroke))

    def export_view(self, key: str, path: str | None = None) -> Path | None:
        """Save view ``key`` ("topology" or a dock key) as PNG, SVG or PDF, asking where when
        ``path`` is not given. Problems are reported; nothing half-written is left."""
        from tcplab.gui.views.export import EXPORT_FILTERS, export_widget, path_with_suffix
        widget = self.view if key == "topology" else self.views[key]
        if key != "topology":
            self.docks[key].show()
            self.docks[key].raise_()
        chosen_filter = ""
        if path is None:
            start = str(Path(str(self.settings.value("last_dir", str(Path.home())))) / f"{key}.png")
            path, chosen_filter = QFileDialog.getSaveFileName(self, "Export view", start,
                                                              EXPORT_FILTERS)
            if not path:
                return None
        target = path_with_suffix(path, chosen_filter)
        try:
            written = export_widget(widget, target)
        except (ValueError, OSError) as e:
            QMessageBox.warning(self, "Cannot export", str(e))
            return None
        self.statusBar().showMessage(f"Exported {written}", 5000)
        return written

    def open_export(self, kind: str = "pcapng"):
        """File → Export: the export dialog for the current run."""
        from tcplab.gui.exportdialog import open_export
        return open_export(self, kind)

    def about(self) -> None:
        QMessageBox.about(self, "About tcplab",
                          f"<h3>tcplab {__version__}</h3><p>A visual lab for TCP: a deterministic "
                          "TCP engine between virtual hosts, and views of everything it does.</p>"
                          "<p>Released under the MIT licence.</p>")

    def _restore_layout(self) -> None:
        geo = self.settings.value("geometry")
        state = self.settings.value("windowState")
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
        else:
            self.resize(1280, 800)
        self._default_sizes = True
        if isinstance(state, QByteArray) and not state.isEmpty():
            self._default_sizes = not self.restoreState(state)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._default_sizes:
            self._default_sizes = False
            self.apply_default_sizes()
        QTimer.singleShot(0, self.view.fit)

    def _schedule_tab_cleanup(self, *_args) -> None:
        QTimer.singleShot(0, self, self._hide_stale_tab_bars)

    def _hide_stale_tab_bars(self) -> None:
        """Work around a Qt 6 dock layout bug: when a second tab group forms in the same dock
        area, the tab bar of its earlier, smaller state stays visible on top of the docks (a
        bare QMainWindow shows it too). A bar whose tabs are a strict subset of another bar's
        is such a leftover: hide it."""
        from PySide6.QtWidgets import QTabBar
        bars = [b for b in self.findChildren(QTabBar) if b.parent() is self and not b.isHidden()]
        tabs = {b: {b.tabText(i) for i in range(b.count())} for b in bars}
        for b in bars:
            if any(other is not b and tabs[b] < tabs[other] for other in bars):
                b.hide()

    def apply_default_sizes(self) -> None:
        """The first-start arrangement: the canvas above, the views below taking about 40% of
        the height, the time views wider than the endpoint views."""
        d = self.docks
        h, w = self.height(), self.width()
        self.resizeDocks([d["ladder"]], [int(h * 0.4)], Qt.Vertical)
        self.resizeDocks([d["ladder"], d["buffers"]], [int(w * 0.5), int(w * 0.3)], Qt.Horizontal)
        self.resizeDocks([d["properties"]], [max(320, int(w * 0.2))], Qt.Horizontal)

    def closeEvent(self, event) -> None:
        if not self._ask_save():
            event.ignore()
            return
        self.controller.pause()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("windowState", self.saveState())
        self.settings.sync()
        self._discard_autosave()
        event.accept()
