"""The editing docks: properties of the selection, connections with their TCP options, and the
knobs that change a link while the scenario runs."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout,
                               QLabel, QListWidget, QListWidgetItem, QMenu, QPushButton,
                               QScrollArea, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from tcplab.gui.forms import Field, FieldForm
from tcplab.net.link import ChannelParams
from tcplab.tcp.config import TcpConfig

LINK_FIELDS = [
    Field(("bandwidth",), "Bandwidth", tip='bits per second or with a unit: "10Mbps", "56kbit/s"; 0 = unlimited'),
    Field(("delay",), "Delay", tip='propagation delay: seconds or "5ms"'),
    Field(("jitter",), "Jitter", tip="extra delay drawn from [0, jitter]; order is kept"),
    Field(("loss",), "Loss", tip="probability of losing a packet, 0 to 1"),
    Field(("queue",), "Queue", tip="transmit queue capacity in packets (drop-tail)"),
    Field(("mtu",), "MTU", tip="largest datagram in bytes"),
    Field(("dup",), "Duplicate", tip="probability of duplicating a packet"),
    Field(("reorder",), "Reorder", tip="probability of holding a packet back"),
    Field(("reorder_delay",), "Reorder delay", tip="how long a held-back packet waits"),
    Field(("corrupt",), "Corrupt", tip="probability of flipping one bit"),
    Field(("up",), "Up", kind="bool", tip="whether the link works at all"),
]

TCP_FIELDS = [
    ("cc", "Congestion control", "choice"),
    ("mss", "MSS (bytes)", "text"),
    ("iw", "Initial window (segments)", "text"),
    ("isn", "ISN", "text"),
    ("delayed_ack", "Delayed ACK", "bool"),
    ("nagle", "Nagle", "bool"),
    ("sack", "SACK", "bool"),
    ("window_scale", "Window scale", "bool"),
    ("timestamps", "Timestamps", "bool"),
    ("min_rto", "Minimum RTO", "text"),
    ("rcv_buf", "Receive buffer (bytes)", "text"),
    ("snd_buf", "Send buffer (bytes)", "text"),
]

APP_TYPE_FIELDS = {
    "bulk": [("bytes", "Bytes to send"), ("chunk", "Bytes per write"), ("close", "Close when done")],
    "request": [("request", "Request bytes"), ("response", "Response bytes"), ("count", "Requests")],
    "echo": [("bytes", "Bytes echoed")],
    "typing": [("chunk", "Bytes per keystroke"), ("interval", "Interval"), ("count", "Keystrokes"),
               ("echo", "Server echoes")],
}
APP_TYPES = tuple(APP_TYPE_FIELDS)


def _cc_names() -> tuple[str, ...]:
    from tcplab.tcp.congestion.registry import available
    return tuple(available())


def _tcp_default_text(cfg: TcpConfig, name: str) -> str:
    v = getattr(cfg, name)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "unset"
    if name in ("min_rto",):
        return f"{v / 1e9:g} s"
    return str(v)


def field_values(window, fields: list[Field], prefix: tuple = ()) -> dict:
    """Current values of ``fields`` (under key path ``prefix``) as the form shows them: booleans
    and choices as stored, other values in display form; unset fields are left out."""
    out = {}
    for f in fields:
        full = prefix + f.path
        v = window.doc.get(full) if f.kind in ("bool", "choice") else window.doc_display(full)
        if v is not None:
            out[f.path] = v
    return out


def _scroll(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    # A fixed scroll bar: content that wraps text cannot make the bar come and go forever
    area.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOn)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    area.setWidget(widget)
    area.setFrameShape(QScrollArea.NoFrame)
    return area


class PropertiesPanel(QWidget):
    """What is selected on the canvas, editable: the scenario itself when nothing is."""

    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.title = QLabel()
        self.title.setObjectName("propertiesTitle")
        f = self.title.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.title.setFont(f)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.form = FieldForm(self._commit)
        self.tcp_box = QGroupBox("TCP defaults for every connection")
        self.tcp_form = FieldForm(self._commit)
        QVBoxLayout(self.tcp_box).addWidget(self.tcp_form)
        self.delete_button = QPushButton("Delete selection")
        self.delete_button.clicked.connect(lambda: self.window.delete_selection())
        inner = QWidget()
        lay = QVBoxLayout(inner)
        lay.addWidget(self.title)
        lay.addWidget(self.hint)
        lay.addWidget(self.form)
        lay.addWidget(self.tcp_box)
        lay.addWidget(self.delete_button)
        lay.addStretch(1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(_scroll(inner))
        self._prefix: tuple = ()
        self._selection: list[tuple[str, str]] = []

    def _commit(self, path: tuple, value: Any) -> str | None:
        if path == ("__name__",):
            return self.window.rename_node(self._selection[0][1], value)
        return self.window.set_doc_value(self._prefix + path, value)

    def show_selection(self, selection: list[tuple[str, str]]) -> None:
        self._selection = selection
        doc = self.window.doc
        self.delete_button.setVisible(bool(selection))
        self.tcp_box.setVisible(False)
        if not selection:
            self._prefix = ()
            self.title.setText("Scenario")
            self.hint.setText("Select a node or a link on the canvas to edit it.")
            fields = [Field(("scenario", "title"), "Title"),
                      Field(("scenario", "description"), "Description", kind="multiline"),
                      Field(("scenario", "seed"), "Seed"),
                      Field(("scenario", "duration"), "Duration", tip='simulated time: "60s"')]
            self.form.set_fields(fields, field_values(self.window, fields))
            tcp_fields = [Field(("tcp", name), label, kind=kind,
                                choices=_cc_names() if name == "cc" else ())
                          for name, label, kind in TCP_FIELDS]
            defaults = {("tcp", n): _tcp_default_text(TcpConfig(), n) for n, _l, _k in TCP_FIELDS}
            self.tcp_form.set_fields(tcp_fields, field_values(self.window, tcp_fields), defaults)
            self.tcp_box.setVisible(True)
            return
        if len(selection) > 1:
            self._prefix = ()
            self.title.setText(f"{len(selection)} items selected")
            self.hint.setText(", ".join(name for _k, name in selection))
            self.form.set_fields([], {})
            return
        kind, name = selection[0]
        if kind == "node":
            node_kind = dict(doc.nodes()).get(name, "node")
            self.title.setText(f"{node_kind.capitalize()} {name}")
            self._prefix = ()
            fields = [Field(("__name__",), "Name")]
            values: dict = {("__name__",): name}
            if node_kind == "host":
                fields += [Field(("hosts", name, "address"), "IPv4 address"),
                           Field(("hosts", name, "isn"), "ISN", tip="initial sequence number of "
                                                                     "this host's connections")]
                values.update(field_values(self.window, fields[1:]))
                self.hint.setText("A host runs applications; its connections start at its ISN "
                                  "when one is set.")
            else:
                self.hint.setText("A router forwards by destination address along the shortest "
                                  "path by delay.")
            self.form.set_fields(fields, values, {("hosts", name, "address"): "assigned in order",
                                                  ("hosts", name, "isn"): "random (seeded)"})
        else:
            self.title.setText(f"Link {name}")
            self.hint.setText("Values apply to both directions (a scenario file can set "
                              "each direction on its own). While a run plays, changes apply at once.")
            self._prefix = ("links", name)
            values = {f.path: self.window.doc_display(("links", name) + f.path) for f in LINK_FIELDS}
            values = {k: v for k, v in values.items() if v is not None}
            if ("up",) in values:
                values[("up",)] = doc.get(("links", name, "up"), True)
            defaults = {("bandwidth",): "100 Mb/s", ("delay",): "1 ms", ("jitter",): "0",
                        ("loss",): "0", ("queue",): "100", ("mtu",): "1500", ("dup",): "0",
                        ("reorder",): "0", ("reorder_delay",): "0", ("corrupt",): "0",
                        ("up",): "true"}
            self.form.set_fields(LINK_FIELDS, values, defaults)

class ConnectionsPanel(QWidget):
    """The applications (one connection each) and their per-connection TCP options."""

    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.list = QListWidget()
        self.list.setObjectName("appList")
        self.list.currentItemChanged.connect(lambda *_: self._show_current())
        self.add_button = QToolButton()
        self.add_button.setText("Add")
        self.add_button.setPopupMode(QToolButton.InstantPopup)
        menu = QMenu(self.add_button)
        for t in APP_TYPES:
            menu.addAction(f"{t} application", lambda t=t: self.window.add_app(t))
        self.add_button.setMenu(menu)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._remove)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        self.form = FieldForm(self._commit)
        self.tcp_box = QGroupBox("TCP options of this connection")
        self.tcp_form = FieldForm(self._commit)
        QVBoxLayout(self.tcp_box).addWidget(self.tcp_form)
        inner = QWidget()
        lay = QVBoxLayout(inner)
        lay.addWidget(self.list, 0)
        lay.addLayout(buttons)
        lay.addWidget(self.form)
        lay.addWidget(self.tcp_box)
        lay.addStretch(1)
        self.list.setMaximumHeight(130)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(_scroll(inner))

    def current(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.UserRole) if item is not None else None

    def refresh(self) -> None:
        doc = self.window.doc
        keep = self.current()
        self.list.blockSignals(True)
        self.list.clear()
        for name in doc.apps():
            t = doc.get(("apps", name, "type"), "?")
            item = QListWidgetItem(f"{name} — {t}: {doc.get(('apps', name, 'client'), '?')} → "
                                   f"{doc.get(('apps', name, 'server'), '?')}:{doc.get(('apps', name, 'port'), '?')}")
            item.setData(Qt.UserRole, name)
            self.list.addItem(item)
            if name == keep:
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)
        self.list.blockSignals(False)
        self._show_current()

    def _remove(self) -> None:
        name = self.current()
        if name is not None:
            self.window.remove_app(name)

    def _commit(self, path: tuple, value: Any) -> str | None:
        name = self.current()
        if name is None:
            return "no connection selected"
        if path == ("__name__",):
            return self.window.rename_app(name, value)
        return self.window.set_doc_value(("apps", name) + path, value)

    def _show_current(self) -> None:
        name = self.current()
        self.remove_button.setEnabled(name is not None)
        self.tcp_box.setVisible(name is not None)
        if name is None:
            self.form.set_fields([], {})
            return
        doc = self.window.doc
        kind = doc.get(("apps", name, "type"), "bulk")
        hosts = tuple(doc.hosts())
        fields = [Field(("__name__",), "Name"),
                  Field(("type",), "Application", kind="choice", choices=APP_TYPES,
                        tip="bulk: a one-way transfer; request: request/response exchanges; "
                            "echo: the server sends everything back; typing: small writes at "
                            "intervals"),
                  Field(("client",), "Client", kind="choice", choices=hosts),
                  Field(("server",), "Server", kind="choice", choices=hosts),
                  Field(("port",), "Server port"),
                  Field(("start",), "Start", tip="when the client connects (simulated time)"),
                  Field(("read_rate",), "Server reads (bytes/s)", tip="0: the application reads at once"),
                  Field(("close_delay",), "Close delay", tip="how long the side receiving the "
                                                              "first FIN waits before closing")]
        for key, label in APP_TYPE_FIELDS.get(kind, []):
            is_bool = key in ("close", "echo") and kind != "echo"
            fields.append(Field((key,), label, kind="bool" if is_bool else "text"))
        values: dict = {("__name__",): name, **field_values(self.window, fields[1:], ("apps", name))}
        defaults = {("start",): "0", ("read_rate",): "0", ("close_delay",): "0", ("close",): "true"}
        self.form.set_fields(fields, values, defaults)
        base = self.window.tcp_defaults()
        tcp_fields = [Field(("tcp", n), label, kind=k, choices=_cc_names() if n == "cc" else ())
                      for n, label, k in TCP_FIELDS]
        tvals = field_values(self.window, tcp_fields, ("apps", name))
        tdefaults = {("tcp", n): _tcp_default_text(base, n) for n, _l, _k in TCP_FIELDS}
        self.tcp_form.set_fields(tcp_fields, tvals, tdefaults)


class KnobsPanel(QWidget):
    """Live knobs for one link: they change the running engine at once and are recorded as user
    actions of the run. "Keep in scenario" writes the live values into the document."""

    KNOBS = (  # param, label, unit scale (engine value = shown * scale), maximum, decimals
        ("loss", "Loss (%)", 0.01, 100.0, 2),
        ("delay", "Delay (ms)", 1e6, 60_000.0, 3),
        ("jitter", "Jitter (ms)", 1e6, 60_000.0, 3),
        ("bandwidth", "Bandwidth (Mb/s)", 1e6, 100_000.0, 3),
        ("queue", "Queue (packets)", 1, 100_000, 0),
    )

    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.link = QComboBox()
        self.link.setObjectName("knobLink")
        self.link.currentIndexChanged.connect(lambda *_: self.show_values())
        self.direction = QComboBox()
        self.direction.setObjectName("knobDirection")
        self.direction.currentIndexChanged.connect(lambda *_: self.show_values())
        self.spins: dict[str, QDoubleSpinBox | QSpinBox] = {}
        form = QFormLayout()
        form.addRow("Link", self.link)
        form.addRow("Direction", self.direction)
        for param, label, _scale, hi, decimals in self.KNOBS:
            if decimals:
                spin = QDoubleSpinBox()
                spin.setDecimals(decimals)
                spin.setRange(0.0, hi)
                spin.setSingleStep(0.5 if param == "loss" else 1.0)
            else:
                spin = QSpinBox()
                spin.setRange(0, int(hi))
            if param == "bandwidth":
                spin.setSpecialValueText("unlimited")
            spin.setKeyboardTracking(False)
            spin.setObjectName(f"knob:{param}")
            spin.valueChanged.connect(lambda _v, p=param: self._changed(p))
            self.spins[param] = spin
            form.addRow(label, spin)
        self.drop_button = QPushButton("Drop the next segment")
        self.drop_button.setObjectName("dropNext")
        self.drop_button.clicked.connect(self._drop_next)
        self.keep_button = QPushButton("Keep in scenario")
        self.keep_button.setToolTip("Write these live values into the scenario (undoable)")
        self.keep_button.clicked.connect(self._keep)
        self.note = QLabel("Changes apply at once while the run plays and are recorded in it.")
        self.note.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.drop_button)
        lay.addWidget(self.keep_button)
        lay.addWidget(self.note)
        lay.addStretch(1)
        self.live: dict[str, list[ChannelParams]] = {}
        self._showing = False

    # values of the running engine, followed from the trace
    def reset(self, run) -> None:
        self.live = {}
        if run is not None:
            for ls in run.scenario.links:
                self.live[ls.name] = [ChannelParams(**vars(ls.ab)), ChannelParams(**vars(ls.ba))]
        keep = self.link.currentText()
        self._showing = True
        self.link.clear()
        self.link.addItems(list(self.live))
        if keep in self.live:
            self.link.setCurrentText(keep)
        self._showing = False
        self.setEnabled(bool(self.live))
        self.show_values()

    def link_changed(self, name: str, direction: int, param: str, value) -> None:
        """A LINK_SET row: the engine changed ``param`` of ``name`` (direction -1: both)."""
        if name not in self.live:
            return
        for d in ((0, 1) if direction < 0 else (direction,)):
            setattr(self.live[name][d], param, value)
        if name == self.link.currentText():
            self.show_values()

    def select_link(self, name: str) -> None:
        if name in self.live:
            self.link.setCurrentText(name)

    def show_values(self) -> None:
        name = self.link.currentText()
        a, _, b = name.partition("-")
        self._showing = True
        if self.direction.count() != 3 or self.direction.itemData(1) != (a, b):
            self.direction.blockSignals(True)
            self.direction.clear()
            self.direction.addItem("both directions", None)
            self.direction.addItem(f"{a} → {b}", (a, b))
            self.direction.addItem(f"{b} → {a}", (b, a))
            self.direction.blockSignals(False)
        if name in self.live:
            d = max(0, self.direction.currentIndex() - 1)
            params = self.live[name][d]
            for param, _label, scale, _hi, _dec in self.KNOBS:
                v = getattr(params, param)
                self.spins[param].setValue(v / scale if scale != 1 else v)
        self._showing = False

    def _direction(self) -> int | None:
        i = self.direction.currentIndex()
        return None if i <= 0 else i - 1

    def _changed(self, param: str) -> None:
        if self._showing:
            return
        name = self.link.currentText()
        if not name:
            return
        scale = next(s for p, _l, s, _h, _d in self.KNOBS if p == param)
        shown = self.spins[param].value()
        # Values go to the engine in scenario-file units (a bare number of seconds would be
        # read as seconds): durations as "12.5ms", the rest as numbers.
        value: Any
        if param in ("delay", "jitter"):
            value = f"{shown:g}ms"
        elif param in ("bandwidth", "queue"):
            value = int(round(shown * scale))
        else:
            value = shown * scale
        self.window.controller.apply({"op": "set_link", "link": name, "param": param,
                                      "value": value, "direction": self._direction()})

    def _drop_next(self) -> None:
        name = self.link.currentText()
        if not name:
            return
        d = self._direction()
        action: dict = {"op": "drop_next", "link": name}
        if d is not None:
            action["from"] = self.direction.itemData(d + 1)[0]
        self.window.controller.apply(action)

    def _keep(self) -> None:
        name = self.link.currentText()
        if name in self.live:
            self.window.keep_live_link(name, self.live[name])

