"""The topology canvas: nodes, links, queues, and packets moving at simulated speed.

The scene is built from the scenario document (nodes, links, positions) and animated from the
trace through a :class:`~tcplab.trace.flight.FlightTracker`: it never looks at engine objects.
Edits made with the mouse are not applied here; the scene emits what the user asked for
(``nodesMoved``, ``addNodeRequested``, ``linkRequested``...) and the window turns that into an
undoable document change, after which the scene is rebuilt from the document.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (QColor, QFont, QFontMetricsF, QPainter, QPainterPath,
                           QPainterPathStroker, QPen, QPolygonF)
from PySide6.QtWidgets import (QGraphicsItem, QGraphicsLineItem, QGraphicsObject,
                               QGraphicsScene, QGraphicsView, QMenu)

from tcplab.gui import icons
from tcplab.gui.theme import LIGHT, Theme
from tcplab.trace.flight import DropMark, FlightTracker, segment_kind

NODE_SIZE = 56.0
MODES = ("select", "host", "router", "link")
#: A drop mark stays this long in simulated time (and fades over about 3 s of playing).
DROP_LINGER_NS = 300_000_000
#: Rows between two checkpoints of the packet tracker (TopologyScene.show_at goes back from the
#: nearest one).
CHECKPOINT_ROWS = 8192


def _label_font(pt: float = 9.0, bold: bool = False) -> QFont:
    f = QFont()
    f.setPointSizeF(pt)
    f.setBold(bold)
    return f


class NodeItem(QGraphicsObject):
    """A host or router: its icon and its name. Movable and selectable."""

    def __init__(self, name: str, kind: str, theme: Theme) -> None:
        super().__init__()
        self.name = name
        self.kind = kind
        self.theme = theme
        self.links: list["LinkItem"] = []
        self.subtitle = ""
        self.setFlags(QGraphicsItem.ItemIsSelectable | QGraphicsItem.ItemIsMovable
                      | QGraphicsItem.ItemSendsGeometryChanges)
        self.setAcceptHoverEvents(True)
        self.setZValue(10)
        self.setToolTip(f"{kind} {name}")
        self._font = _label_font(10, True)
        self._sub_font = _label_font(8)

    def boundingRect(self) -> QRectF:
        h = NODE_SIZE / 2
        return QRectF(-h - 40, -h - 6, NODE_SIZE + 80, NODE_SIZE + 44)

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        h = NODE_SIZE / 2
        p.addRoundedRect(QRectF(-h, -h, NODE_SIZE, NODE_SIZE + 18), 8, 8)
        return p

    def paint(self, painter: QPainter, option, widget=None) -> None:
        h = NODE_SIZE / 2
        painter.setRenderHint(QPainter.Antialiasing)
        if self.isSelected():
            painter.setPen(QPen(self.theme.color("link_selected"), 2.5))
            fill = self.theme.color("link_selected")
            fill.setAlpha(38)
            painter.setBrush(fill)
            extra = 50 if self.subtitle else 34
            painter.drawRoundedRect(QRectF(-h - 6, -h - 6, NODE_SIZE + 12, NODE_SIZE + extra), 10, 10)
        icons.renderer(self.kind if self.kind in ("host", "router") else "host").render(
            painter, QRectF(-h, -h, NODE_SIZE, NODE_SIZE))
        painter.setPen(self.theme.color("text"))
        painter.setFont(self._font)
        painter.drawText(QRectF(-h - 40, h + 1, NODE_SIZE + 80, 18), Qt.AlignHCenter | Qt.AlignTop,
                         self.name)
        if self.subtitle:
            painter.setPen(self.theme.color("muted"))
            painter.setFont(self._sub_font)
            painter.drawText(QRectF(-h - 40, h + 18, NODE_SIZE + 80, 16),
                             Qt.AlignHCenter | Qt.AlignTop, self.subtitle)

    def itemChange(self, change, value):
        # A link's bounds follow its nodes: tell the scene before a node moves, redraw after.
        if change == QGraphicsItem.ItemPositionChange:
            for link in self.links:
                link.prepareGeometryChange()
        elif change == QGraphicsItem.ItemPositionHasChanged:
            for link in self.links:
                link.update()
            scene = self.scene()
            if isinstance(scene, TopologyScene):
                scene.place_gauges(self.links)
        return super().itemChange(change, value)


class LinkItem(QGraphicsObject):
    """A full-duplex link: a line, a label with its delay, bandwidth and loss, and a queue gauge
    at each sending interface."""

    def __init__(self, name: str, a: NodeItem, b: NodeItem, theme: Theme) -> None:
        super().__init__()
        self.name = name
        self.a = a
        self.b = b
        self.theme = theme
        self.label = ""
        self.queue_len = [0, 0]
        self.queue_cap = [100, 100]
        self.lossy = False
        self.up = True
        self.setFlags(QGraphicsItem.ItemIsSelectable)
        self.setZValue(1)
        self._font = _label_font(9.5)
        a.links.append(self)
        b.links.append(self)
        self.update_geometry()

    # geometry: the line between the node centres, trimmed by the icons
    def ends(self) -> tuple[QPointF, QPointF]:
        pa, pb = self.a.pos(), self.b.pos()
        line = QLineF(pa, pb)
        length = line.length()
        if length < 1:
            return pa, pb
        trim = min(NODE_SIZE * 0.55, length / 3)
        ux, uy = (pb.x() - pa.x()) / length, (pb.y() - pa.y()) / length
        return (QPointF(pa.x() + ux * trim, pa.y() + uy * trim),
                QPointF(pb.x() - ux * trim, pb.y() - uy * trim))

    def lane(self, direction: int) -> tuple[QPointF, QPointF]:
        """Start and end of the lane packets travel in one direction (offset to its right)."""
        p1, p2 = self.ends()
        if direction == 1:
            p1, p2 = p2, p1
        dx, dy = p2.x() - p1.x(), p2.y() - p1.y()
        length = math.hypot(dx, dy) or 1.0
        nx, ny = -dy / length * 7, dx / length * 7
        return QPointF(p1.x() + nx, p1.y() + ny), QPointF(p2.x() + nx, p2.y() + ny)

    def point_at(self, direction: int, fraction: float) -> QPointF:
        s, e = self.lane(direction)
        return QPointF(s.x() + (e.x() - s.x()) * fraction, s.y() + (e.y() - s.y()) * fraction)

    def lane_is_above(self, direction: int) -> bool:
        """Whether the lane of ``direction`` lies above the line: its packets then put their
        labels above themselves, on the outer side, away from the link's own label."""
        s, _e = self.lane(direction)
        p1, p2 = self.ends()
        return s.y() < (p1.y() if direction == 0 else p2.y())

    def angle(self, direction: int) -> float:
        s, e = self.lane(direction)
        return math.degrees(math.atan2(e.y() - s.y(), e.x() - s.x()))

    def update_geometry(self) -> None:
        self.prepareGeometryChange()
        self.update()

    def _label_rect(self) -> QRectF:
        p1, p2 = self.ends()
        mid = QPointF((p1.x() + p2.x()) / 2, (p1.y() + p2.y()) / 2)
        fm = QFontMetricsF(self._font)
        lines = self.label.split("\n") if self.label else [""]
        w = max(fm.horizontalAdvance(t) for t in lines) + 12
        h = fm.height() * len(lines) + 6
        dx, dy = p2.x() - p1.x(), p2.y() - p1.y()
        length = math.hypot(dx, dy) or 1.0
        # below the line (or to its left for vertical links), clear of both lanes
        nx, ny = -dy / length, dx / length
        if ny < 0 or (abs(ny) < 1e-6 and nx < 0):
            nx, ny = -nx, -ny
        off = 30 + h / 2     # clear of the lane below the line and of its packets' labels
        c = QPointF(mid.x() + nx * off, mid.y() + ny * off)
        return QRectF(c.x() - w / 2, c.y() - h / 2, w, h)

    def boundingRect(self) -> QRectF:
        p1, p2 = self.ends()
        r = QRectF(p1, p2).normalized().adjusted(-40, -40, 40, 40)
        return r.united(self._label_rect().adjusted(-4, -4, 4, 4))

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        p1, p2 = self.ends()
        path.moveTo(p1)
        path.lineTo(p2)
        stroker = QPainterPathStroker()
        stroker.setWidth(16)
        s = stroker.createStroke(path)
        s.addRect(self._label_rect())
        return s

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.Antialiasing)
        t = self.theme
        p1, p2 = self.ends()
        color = t.color("link_selected") if self.isSelected() else t.color("link")
        pen = QPen(color, 4 if self.isSelected() else 3)
        pen.setCapStyle(Qt.RoundCap)
        if not self.up:
            pen.setStyle(Qt.DashLine)
            pen.setColor(t.color("drop"))
        painter.setPen(pen)
        painter.drawLine(p1, p2)
        # label
        if self.label:
            r = self._label_rect()
            painter.setPen(QPen(color, 1))
            painter.setBrush(QColor(t.label_bg))
            painter.drawRoundedRect(r, 4, 4)
            painter.setFont(self._font)
            painter.setPen(t.color("error") if self.lossy or not self.up else t.color("text"))
            painter.drawText(r, Qt.AlignCenter, self.label)


class QueueGauge(QGraphicsItem):
    """The transmit queue at one sending interface: a bar filling up to the queue's capacity,
    and the count, red when full. Drawn under the sending node, above packets."""

    W, H = 44.0, 11.0

    def __init__(self, link: "LinkItem", direction: int) -> None:
        super().__init__()
        self.link = link
        self.direction = direction
        self.setZValue(25)
        self.setAcceptedMouseButtons(Qt.NoButton)
        self._font = _label_font(7.5, True)

    def boundingRect(self) -> QRectF:
        return QRectF(-60, -self.H / 2 - 2, 120, self.H + 18)

    def place(self) -> None:
        """Under the sending node's name, shifted toward the link it feeds (so that a router
        with several busy interfaces shows each queue on its own side)."""
        node = self.link.a if self.direction == 0 else self.link.b
        other = self.link.b if self.direction == 0 else self.link.a
        dx, dy = other.pos().x() - node.pos().x(), other.pos().y() - node.pos().y()
        length = math.hypot(dx, dy) or 1.0
        self.setPos(node.pos() + QPointF(dx / length * 40, NODE_SIZE / 2 + 44 + dy / length * 12))

    def paint(self, painter: QPainter, option, widget=None) -> None:
        link = self.link
        n, cap = link.queue_len[self.direction], max(1, link.queue_cap[self.direction])
        t = link.theme
        painter.setRenderHint(QPainter.Antialiasing)
        w, h = self.W, self.H
        painter.setPen(QPen(t.color("muted"), 1))
        painter.setBrush(QColor(t.base))
        painter.drawRoundedRect(QRectF(-w / 2, -h / 2, w, h), 2, 2)
        fill = min(1.0, n / cap)
        painter.setPen(Qt.NoPen)
        painter.setBrush(t.color("drop") if fill >= 1.0 else t.color("queue"))
        painter.drawRoundedRect(QRectF(-w / 2, -h / 2, w * fill, h), 2, 2)
        painter.setFont(self._font)
        painter.setPen(t.color("text"))
        painter.drawText(QRectF(-60, h / 2, 120, 14), Qt.AlignCenter, f"queue {n}/{cap}")


def draw_shape(painter: QPainter, kind: str, s: float, color: QColor) -> None:
    """The shape of a segment kind, centred on the origin, ``s`` its half size: diamonds for
    SYNs, a block for data, a dot for ACKs, an octagon for FIN, a triangle for RST, a block with
    a heavy outline for a retransmission."""
    painter.setPen(QPen(color.darker(140), 1.2))
    painter.setBrush(color)
    if kind in ("syn", "synack"):
        painter.drawPolygon(QPolygonF([QPointF(0, -s), QPointF(s, 0), QPointF(0, s), QPointF(-s, 0)]))
    elif kind == "data":
        painter.drawRoundedRect(QRectF(-s * 1.3, -s * 0.75, s * 2.6, s * 1.5), 2, 2)
    elif kind == "ack":
        painter.drawEllipse(QPointF(0, 0), s * 0.65, s * 0.65)
    elif kind == "fin":
        pts = [QPointF(s * math.cos(math.radians(22.5 + 45 * i)),
                       s * math.sin(math.radians(22.5 + 45 * i))) for i in range(8)]
        painter.drawPolygon(QPolygonF(pts))
    elif kind == "rst":
        painter.drawPolygon(QPolygonF([QPointF(0, -s), QPointF(s, s * 0.8), QPointF(-s, s * 0.8)]))
    else:
        painter.setPen(QPen(color.darker(160), 2.4))
        painter.drawRoundedRect(QRectF(-s * 1.3, -s * 0.75, s * 2.6, s * 1.5), 2, 2)


LEGEND = (("syn", "SYN"), ("synack", "SYN-ACK"), ("data", "data"), ("ack", "ACK"),
          ("fin", "FIN"), ("rst", "RST"), ("retx", "retransmission"))


class PacketItem(QGraphicsItem):
    """A packet on a link: its shape and colour say what it is (SYN, data, ACK...)."""

    def __init__(self, uid: int, kind: str, label: str, size: float, theme: Theme) -> None:
        super().__init__()
        self.uid = uid
        self.kind = kind
        self.label = label
        self.shown_label = label  # the label drawn: shared by a bunch, or none when crowded
        self.label_above = False
        self.size = size
        self.theme = theme
        self.setZValue(20)
        self.setAcceptedMouseButtons(Qt.RightButton | Qt.LeftButton)
        self.setToolTip(label)
        self._font = _label_font(8.5)

    def boundingRect(self) -> QRectF:
        s = self.size
        return QRectF(-s - 2, -s - 2, 2 * s + 4, 2 * s + 4).united(QRectF(-130, -s - 16, 260, 2 * s + 32))

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        s = self.size + 3
        p.addEllipse(QPointF(0, 0), s, s)
        return p

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.Antialiasing)
        t = self.theme
        color = t.color(self.kind)
        s = self.size
        scene = self.scene()
        if isinstance(scene, TopologyScene) and scene.selected_packet == self.uid:
            painter.setPen(QPen(t.color("link_selected"), 3))
            painter.setBrush(Qt.NoBrush)
            painter.drawEllipse(QPointF(0, 0), s * 1.9, s * 1.9)
        draw_shape(painter, self.kind, s, color)
        if self.shown_label:
            painter.setFont(self._font)
            painter.setPen(t.color("text"))
            if self.label_above:
                painter.drawText(QRectF(-130, -s - 15, 260, 14),
                                 Qt.AlignHCenter | Qt.AlignBottom, self.shown_label)
            else:
                painter.drawText(QRectF(-130, s + 1, 260, 14),
                                 Qt.AlignHCenter | Qt.AlignTop, self.shown_label)


class DropItem(QGraphicsItem):
    """A red cross where a packet was discarded, with the reason; fades out."""

    def __init__(self, mark: DropMark, theme: Theme) -> None:
        super().__init__()
        self.mark = mark
        self.theme = theme
        self.life = 1.0
        self.show_words = True
        self.setZValue(30)
        self.setToolTip(f"packet {mark.uid}: {mark.words}")
        self._font = _label_font(8, True)

    def boundingRect(self) -> QRectF:
        return QRectF(-70, -12, 140, 40)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setOpacity(max(0.15, self.life))
        c = self.theme.color("drop")
        painter.setPen(QPen(c, 3.5, Qt.SolidLine, Qt.RoundCap))
        painter.drawLine(QPointF(-8, -8), QPointF(8, 8))
        painter.drawLine(QPointF(-8, 8), QPointF(8, -8))
        if self.show_words:
            painter.setFont(self._font)
            painter.setPen(c)
            painter.drawText(QRectF(-70, 10, 140, 14), Qt.AlignHCenter | Qt.AlignTop, self.mark.words)


class TopologyScene(QGraphicsScene):
    """Nodes and links from the document; packets, queues and drops from the trace."""

    nodesMoved = Signal(dict)                  # name -> (x, y), after a drag
    addNodeRequested = Signal(str, QPointF)    # kind, where
    linkRequested = Signal(str, str)           # a, b
    packetActionRequested = Signal(int, str)   # uid, "drop" | "duplicate" | "delay"
    packetSelected = Signal(int)               # uid clicked on the canvas
    linkActionRequested = Signal(str, str)     # link name, action ("drop_next", "drop_next:NODE")
    nodeActionRequested = Signal(str, str)     # node name, action ("rename", "delete")

    def __init__(self, theme: Theme = LIGHT, parent=None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.mode = "select"
        self.nodes: dict[str, NodeItem] = {}
        self.links: dict[str, LinkItem] = {}
        self.link_ids: dict[int, LinkItem] = {}     # trace link id -> item
        self.node_ids: dict[int, NodeItem] = {}     # trace node id -> item
        self.packets: dict[int, PacketItem] = {}
        self.gauges: dict[tuple[str, int], QueueGauge] = {}
        self.drop_items: list[DropItem] = []
        self.tracker = FlightTracker()
        self.checkpoints: list = []      # FlightState every CHECKPOINT_ROWS rows of self.trace
        self.trace = None
        self.now = 0
        self.relative = False
        self.selected_packet: int | None = None
        self._drag_line: QGraphicsLineItem | None = None
        self._drag_from: NodeItem | None = None
        self._press_pos: dict[str, QPointF] = {}
        self.setBackgroundBrush(theme.color("canvas"))
        # Packets move every frame: a spatial index would be rebuilt constantly for a few dozen
        # items, so the scene keeps none (Qt's advice for dynamic scenes).
        self.setItemIndexMethod(QGraphicsScene.NoIndex)

    # -- building from the document ------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackgroundBrush(theme.color("canvas"))
        for item in self.items():
            if hasattr(item, "theme"):
                item.theme = theme
                item.update()

    def build(self, doc, link_labels: dict[str, str], subtitles: dict[str, str] | None = None) -> None:
        """(Re)create node and link items from ``doc``; keep the selection by name."""
        selected = {(type(i).__name__, getattr(i, "name", None)) for i in self.selectedItems()}
        for item in list(self.nodes.values()) + list(self.links.values()) + list(self.gauges.values()):
            self.removeItem(item)
        self.nodes.clear()
        self.links.clear()
        self.gauges.clear()
        for name, kind in doc.nodes():
            item = NodeItem(name, kind, self.theme)
            pos = doc.position(name) or (0.0, 0.0)
            item.setPos(QPointF(*pos))
            item.subtitle = (subtitles or {}).get(name, "")
            self.addItem(item)
            self.nodes[name] = item
        for name, a, b in doc.links():
            if a in self.nodes and b in self.nodes:
                item = LinkItem(name, self.nodes[a], self.nodes[b], self.theme)
                item.label = link_labels.get(name, "")
                self.addItem(item)
                self.links[name] = item
        for item in list(self.nodes.values()) + list(self.links.values()):
            if (type(item).__name__, item.name) in selected:
                item.setSelected(True)
        self._map_trace_ids()
        self.refresh_live()

    def set_link_label(self, name: str, label: str, lossy: bool = False, up: bool = True) -> None:
        item = self.links.get(name)
        if item is not None:
            item.prepareGeometryChange()
            item.label = label
            item.lossy = lossy
            item.up = up
            item.update()

    def set_queue_capacity(self, name: str, direction: int, cap: int) -> None:
        item = self.links.get(name)
        if item is not None:
            item.queue_cap[direction] = cap

    def selection(self) -> list[tuple[str, str]]:
        """Selected elements as ("node", name) and ("link", name), nodes first."""
        out = [("node", i.name) for i in self.selectedItems() if isinstance(i, NodeItem)]
        out += [("link", i.name) for i in self.selectedItems() if isinstance(i, LinkItem)]
        return out

    def select(self, elements: list[tuple[str, str]]) -> None:
        self.clearSelection()
        for kind, name in elements:
            item = (self.nodes if kind == "node" else self.links).get(name)
            if item is not None:
                item.setSelected(True)

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown canvas mode {mode!r}")
        self.mode = mode
        for item in self.nodes.values():
            item.setFlag(QGraphicsItem.ItemIsMovable, mode == "select")

    # -- live state from the trace ---------------------------------------------------------------
    def _map_trace_ids(self) -> None:
        self.link_ids.clear()
        self.node_ids.clear()
        if self.trace is None:
            return
        for info in self.trace.links:
            if info.name in self.links:
                self.link_ids[info.id] = self.links[info.name]
        for i, name in enumerate(self.trace.nodes):
            if name in self.nodes:
                self.node_ids[i] = self.nodes[name]

    def reset_live(self, trace) -> None:
        """Forget every packet and drop; follow ``trace`` (None: nothing runs)."""
        self._clear_live_items()
        self.tracker.clear()
        if trace is not self.trace:
            self.checkpoints = []
        self.trace = trace
        self.now = 0
        self._map_trace_ids()

    def _clear_live_items(self) -> None:
        for item in list(self.packets.values()) + self.drop_items + list(self.gauges.values()):
            self.removeItem(item)
        self.packets.clear()
        self.drop_items.clear()
        self.gauges.clear()
        for link in self.links.values():
            link.queue_len = [0, 0]
            link.update()

    def consume(self, first: int, end: int, now: int) -> None:
        """Take trace rows ``[first, end)`` and redraw for simulated time ``now``."""
        if self.trace is None:
            return
        for mark in self._read(first, end):
            self._add_drop(mark)
        self.now = now
        self.refresh_live()

    def _read(self, first: int, end: int) -> list:
        """Feed rows ``[first, end)`` to the tracker, keeping its state every
        :data:`CHECKPOINT_ROWS` rows of this trace (so that :meth:`show_at` starts near any
        earlier moment instead of at row 0); returns the drops among them."""
        tracker, trace = self.tracker, self.trace
        marks = []
        while first < end:
            last = self.checkpoints[-1].rows if self.checkpoints else 0
            stop = min(end, max(first, last) + CHECKPOINT_ROWS) if tracker.rows_seen >= last \
                else end
            marks += tracker.consume(trace, first, stop)
            first = stop
            if tracker.rows_seen - last >= CHECKPOINT_ROWS:
                self.checkpoints.append(tracker.checkpoint())
        return marks

    def show_at(self, rows: int, t: int) -> None:
        """Show the network as it was after trace rows ``[0, rows)``, at time ``t`` (the shared
        cursor moved, or came back to the present). A little forward from what the tracker
        holds it takes the rows in between; back, or past a later checkpoint, it starts again
        from the nearest checkpoint."""
        trace = self.trace
        if trace is None:
            self.reset_live(None)
            return
        tracker = self.tracker
        start = None
        for cp in reversed(self.checkpoints):
            if cp.rows <= rows:
                start = cp
                break
        if rows >= tracker.rows_seen and (start is None or start.rows <= tracker.rows_seen):
            new = self._read(tracker.rows_seen, rows)
        else:
            # Back, or far ahead: from the nearest checkpoint at or before ``rows``.
            self._clear_live_items()
            if start is None:
                tracker.clear()
            else:
                tracker.restore(start)
            new = self._read(tracker.rows_seen, rows)
            new = tracker.drops
        for mark in new:
            if 0 <= t - mark.t <= DROP_LINGER_NS:
                self._add_drop(mark)
        self.now = t
        self.refresh_live()

    def set_selected_packet(self, uid: int | None) -> None:
        """Ring the selected packet while it is on a link."""
        old, self.selected_packet = self.selected_packet, uid
        for key in (old, uid):
            item = self.packets.get(key) if key is not None else None
            if item is not None:
                item.update()

    def _add_drop(self, mark: DropMark) -> None:
        pos = None
        link = self.link_ids.get(mark.link)
        if link is not None:
            pos = link.point_at(mark.direction if mark.direction in (0, 1) else 0, mark.fraction)
        elif mark.node in self.node_ids:
            pos = self.node_ids[mark.node].pos() + QPointF(0, -NODE_SIZE * 0.7)
        if pos is None:
            return
        item = DropItem(mark, self.theme)
        item.setPos(pos)
        for other in self.drop_items:   # one caption per spot: the newest speaks
            if (abs(other.pos().x() - pos.x()) + abs(other.pos().y() - pos.y())) < 120:
                other.show_words = False
                other.update()
        self.addItem(item)
        self.drop_items.append(item)
        while len(self.drop_items) > 40:
            self.removeItem(self.drop_items.pop(0))

    def fade(self, wall_dt: float) -> None:
        """Age the drop marks by ``wall_dt`` seconds of animation (they last about 3 s)."""
        keep = []
        for item in self.drop_items:
            item.life -= wall_dt / 3.0
            if item.life <= 0:
                self.removeItem(item)
            else:
                item.update()
                keep.append(item)
        self.drop_items = keep

    def packet_label(self, uid: int) -> tuple[str, str]:
        """The kind of packet ``uid`` and its label, with sequence numbers relative to the
        connection's initial ones when ``self.relative`` is set (as Wireshark shows them)."""
        trace = self.trace
        seg = trace.packets[uid].segment
        kind = segment_kind(seg.flags, len(seg.payload), uid in self.tracker.retransmitted)
        seq, ack = seg.seq, seg.ack
        conn = self.tracker.conn_of.get(uid)
        if self.relative and conn is not None and 0 <= conn < len(trace.conns):
            info = trace.conns[conn]
            if info.iss is not None:
                seq = (seq - info.iss) & 0xFFFFFFFF
            if info.irs is not None:
                ack = (ack - info.irs) & 0xFFFFFFFF
        if kind in ("data", "retx") and seg.payload:
            label = f"seq {seq} +{len(seg.payload)}"
        elif kind == "synack":
            label = f"SYN-ACK {seq} ack {ack}"
        elif kind in ("syn", "fin", "rst"):
            label = f"{kind.upper()} {seq}"
        else:
            label = f"ack {ack}"
        return kind, label

    def set_relative(self, relative: bool) -> None:
        """Label packets with relative (True) or absolute sequence numbers."""
        self.relative = relative
        for uid, item in self.packets.items():
            item.kind, item.label = self.packet_label(uid)
            item.setToolTip(item.label)
        self.refresh_live(force_labels=True)

    def _packet_item(self, uid: int) -> PacketItem:
        kind, label = self.packet_label(uid)
        item = PacketItem(uid, kind, label, 7.0 if kind != "ack" else 6.0, self.theme)
        self.addItem(item)
        return item

    def refresh_live(self, force_labels: bool = False) -> None:
        """Place every packet in flight, refresh the queue gauges and retire old drop marks for
        ``self.now``."""
        tracker = self.tracker
        now = self.now
        if self.drop_items:
            keep = []
            for item in self.drop_items:
                if now - item.mark.t > DROP_LINGER_NS or now < item.mark.t:
                    self.removeItem(item)
                else:
                    keep.append(item)
            self.drop_items = keep
        flights = tracker.flights
        for uid in [u for u in self.packets if u not in flights]:
            self.removeItem(self.packets.pop(uid))
        lanes: dict[tuple[int, int], list] = {}
        for uid, f in flights.items():
            link = self.link_ids.get(f.link)
            if link is None:
                continue
            item = self.packets.get(uid)
            if item is None:
                item = self.packets[uid] = self._packet_item(uid)
            item.setPos(link.point_at(f.direction, f.fraction(now)))
            item.label_above = link.lane_is_above(f.direction)
            lanes.setdefault((f.link, f.direction), []).append(item)
        for items in lanes.values():
            # Packets that bunch up share one label (the first of the bunch carries it), so that
            # labels never pile onto each other or onto the link's label; a crowded lane has none.
            crowded = len(items) > 4
            items.sort(key=lambda i: (i.pos().x(), i.pos().y()))
            groups: list[list[PacketItem]] = []
            for item in items:
                last = groups[-1][-1] if groups else None
                if last is not None and (abs(item.pos().x() - last.pos().x())
                                         + abs(item.pos().y() - last.pos().y())) < 90:
                    groups[-1].append(item)
                else:
                    groups.append([item])
            for group in groups:
                text = "" if crowded else group[0].label + (
                    f"  (+{len(group) - 1})" if len(group) > 1 else "")
                if not 0.12 < flights[group[0].uid].fraction(now) < 0.88:
                    text = ""   # leaving or entering a node: its name is there
                for n, item in enumerate(group):
                    shown = text if n == 0 else ""
                    if shown != item.shown_label or force_labels:
                        item.shown_label = shown
                        item.update()
        for lid, link in self.link_ids.items():
            q = [len(tracker.queues.get((lid, 0), ())), len(tracker.queues.get((lid, 1), ()))]
            if q != link.queue_len:
                link.queue_len = q
                for d in (0, 1):
                    self._show_gauge(link, d, q[d] > 0)

    def place_gauges(self, links: list[LinkItem]) -> None:
        for link in links:
            for d in (0, 1):
                gauge = self.gauges.get((link.name, d))
                if gauge is not None:
                    gauge.place()

    def _show_gauge(self, link: LinkItem, direction: int, visible: bool) -> None:
        key = (link.name, direction)
        gauge = self.gauges.get(key)
        if not visible:
            if gauge is not None:
                self.removeItem(self.gauges.pop(key))
            return
        if gauge is None:
            gauge = self.gauges[key] = QueueGauge(link, direction)
            self.addItem(gauge)
        gauge.place()
        gauge.update()

    # -- mouse: modes, dragging a link, context menus -------------------------------------------
    def _node_at(self, pos: QPointF) -> NodeItem | None:
        for item in self.items(pos):
            if isinstance(item, NodeItem):
                return item
        return None

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton:
            if self.mode == "select":
                packet = next((i for i in self.items(event.scenePos()) if isinstance(i, PacketItem)),
                              None)
                if packet is not None:
                    self.packetSelected.emit(packet.uid)
                    event.accept()
                    return
            if self.mode in ("host", "router"):
                self.addNodeRequested.emit(self.mode, event.scenePos())
                event.accept()
                return
            if self.mode == "link":
                node = self._node_at(event.scenePos())
                if node is not None:
                    self._drag_from = node
                    self._drag_line = QGraphicsLineItem(QLineF(node.pos(), event.scenePos()))
                    pen = QPen(self.theme.color("link_selected"), 2.5, Qt.DashLine)
                    self._drag_line.setPen(pen)
                    self._drag_line.setZValue(50)
                    self.addItem(self._drag_line)
                event.accept()
                return
            self._press_pos = {n: i.pos() for n, i in self.nodes.items()}
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._drag_line is not None and self._drag_from is not None:
            self._drag_line.setLine(QLineF(self._drag_from.pos(), event.scenePos()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._drag_line is not None:
            target = self._node_at(event.scenePos())
            start = self._drag_from
            self.removeItem(self._drag_line)
            self._drag_line = None
            self._drag_from = None
            if target is not None and start is not None and target is not start:
                self.linkRequested.emit(start.name, target.name)
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if self._press_pos:
            moved = {n: (round(i.pos().x(), 1), round(i.pos().y(), 1))
                     for n, i in self.nodes.items()
                     if n in self._press_pos and i.pos() != self._press_pos[n]}
            self._press_pos = {}
            if moved:
                self.nodesMoved.emit(moved)

    def contextMenuEvent(self, event) -> None:
        items = self.items(event.scenePos())
        menu = QMenu()
        packet = next((i for i in items if isinstance(i, PacketItem)), None)
        node = next((i for i in items if isinstance(i, NodeItem)), None)
        link = next((i for i in items if isinstance(i, LinkItem)), None)
        if packet is not None:
            menu.addSection(packet.label or f"packet {packet.uid}")
            for what, text in (("drop", "Drop this packet"), ("duplicate", "Duplicate it"),
                               ("delay", "Delay it by 100 ms")):
                menu.addAction(icons.icon(what), text).setData(("packet", packet.uid, what))
        elif node is not None:
            menu.addSection(node.name)
            menu.addAction("Rename…").setData(("node", node.name, "rename"))
            menu.addAction(icons.icon("delete"), "Delete").setData(("node", node.name, "delete"))
        elif link is not None:
            menu.addSection(f"link {link.name}")
            menu.addAction(icons.icon("drop"), "Drop the next segment").setData(
                ("link", link.name, "drop_next"))
            for end in (link.a.name, link.b.name):
                menu.addAction(f"Drop the next segment from {end}").setData(
                    ("link", link.name, f"drop_next:{end}"))
            menu.addSeparator()
            menu.addAction(icons.icon("delete"), "Delete link").setData(("link", link.name, "delete"))
        else:
            pos = event.scenePos()
            menu.addAction(icons.icon("add-host"), "Add a host here").setData(("add", "host", pos))
            menu.addAction(icons.icon("add-router"), "Add a router here").setData(("add", "router", pos))
        chosen = menu.exec(event.screenPos())
        if chosen is None or chosen.data() is None:
            return
        self.perform_menu(chosen.data())

    def perform_menu(self, data: tuple) -> None:
        """Carry out a context-menu choice (separate so that tests can call it)."""
        kind, target, what = data
        if kind == "packet":
            self.packetActionRequested.emit(target, what)
        elif kind == "node":
            self.nodeActionRequested.emit(target, what)
        elif kind == "link":
            self.linkActionRequested.emit(target, what)
        elif kind == "add":
            self.addNodeRequested.emit(target, what)


class TopologyView(QGraphicsView):
    """The canvas widget: antialiased, zoom with the wheel (Ctrl+wheel) or pinch, rubber-band
    selection, fit to contents."""

    MAX_FIT = 2.2

    def __init__(self, scene: TopologyScene, parent=None) -> None:
        super().__init__(scene, parent)
        self.auto_fit = True    # follow the window size until the user zooms
        self.show_legend = True
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing
                            | QPainter.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setViewportUpdateMode(QGraphicsView.BoundingRectViewportUpdate)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setMinimumSize(320, 240)

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.ControlModifier or not self.verticalScrollBar().isVisible():
            factor = 1.0015 ** event.angleDelta().y()
            self.zoom(factor)
            event.accept()
            return
        super().wheelEvent(event)

    def zoom(self, factor: float) -> None:
        scale = self.transform().m11() * factor
        if 0.2 <= scale <= 5.0:
            self.scale(factor, factor)
            self.auto_fit = False
            self._scroll_bars(Qt.ScrollBarAsNeeded)

    def _scroll_bars(self, policy) -> None:
        self.setHorizontalScrollBarPolicy(policy)
        self.setVerticalScrollBarPolicy(policy)

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """The key to packet shapes and colours, in the bottom-left corner of the view."""
        scene = self.scene()
        if not self.show_legend or not isinstance(scene, TopologyScene):
            return
        theme = scene.theme
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.Antialiasing)
        font = _label_font(8.5)
        painter.setFont(font)
        fm = QFontMetricsF(font)
        widths = [fm.horizontalAdvance(text) for _k, text in LEGEND]
        w = sum(widths) + 30 * len(LEGEND) + 8
        h = 24.0
        x0, y0 = 8.0, self.viewport().height() - h - 8
        painter.setPen(QPen(theme.color("link"), 1))
        painter.setBrush(QColor(theme.label_bg))
        painter.drawRoundedRect(QRectF(x0, y0, w, h), 5, 5)
        x = x0 + 14
        for (kind, text), tw in zip(LEGEND, widths):
            painter.save()
            painter.translate(x, y0 + h / 2)
            draw_shape(painter, kind, 5.5, theme.color(kind))
            painter.restore()
            painter.setPen(theme.color("text"))
            painter.drawText(QRectF(x + 11, y0, tw + 4, h), Qt.AlignVCenter | Qt.AlignLeft, text)
            x += tw + 30
        painter.restore()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.auto_fit:
            self.fit()

    def fit(self) -> None:
        scene = self.scene()
        items = [i for i in scene.items() if isinstance(i, (NodeItem, LinkItem))]
        if not items:
            return
        rect = QRectF()
        for i in items:
            rect = rect.united(i.sceneBoundingRect())
        rect.adjust(-60, -60, 60, 60)
        # Everything fits, so no scroll bars: were they to appear or vanish with the new scale,
        # the viewport would resize, refit, and the two could chase each other for ever.
        self._scroll_bars(Qt.ScrollBarAlwaysOff)
        self.fitInView(rect, Qt.KeepAspectRatio)
        if self.transform().m11() > self.MAX_FIT:
            self.resetTransform()
            self.scale(self.MAX_FIT, self.MAX_FIT)
            self.centerOn(rect.center())
        self.auto_fit = True
