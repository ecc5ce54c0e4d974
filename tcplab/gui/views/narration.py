"""The narration log: every trace event as a sentence, with the rule that decided it.

A table over the trace's rows (time, node, connection, kind, sentence). The sentences are the
ones :class:`tcplab.trace.narrate.Narrator` writes (each cites its RFC clause); this module only
shows, filters and links them.

Built for long runs (100k+ rows):

* the model keeps the integer columns it filters on (t, kind, node, conn, pkt, and the TCP
  connection each row belongs to) in growing numpy arrays, appended per ``advanced`` batch with
  ``beginInsertRows`` (never rebuilt while the run plays);
* what the table shows is an index array of trace rows, computed with numpy from the kind and
  connection filters; a text search narrates the candidate rows in chunks from the event loop,
  so the window stays responsive while it runs;
* a sentence is composed only when the table asks for it (``data()``) and then cached.

Linking: clicking a line selects that event (and its packet) for every view and moves the time
cursor to it; a packet selected elsewhere scrolls the log to its first event. Rows after the
cursor are dimmed when the cursor is in the past (replay). "Follow" keeps the cursor's row in
view (the newest row while live) until the user scrolls away.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
from PySide6.QtCore import (QAbstractTableModel, QEvent, QItemSelectionModel, QModelIndex, QObject,
                            QSize, Qt, QTimer, Signal)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QAbstractSlider, QComboBox, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QMenu, QTableView, QToolButton,
                               QVBoxLayout, QWidget)

from tcplab.gui.theme import LIGHT, Theme
from tcplab.net.packet import FIN, RST, SYN, ip_str
from tcplab.sim.clock import fmt_time
from tcplab.trace.events import EventKind, SendReason
from tcplab.trace.narrate import Narrator

#: Filter groups of event kinds (key -> (label, kinds)). Every kind is in exactly one group.
CATEGORIES: dict[str, tuple[str, frozenset[int]]] = {
    "segments": ("Segments sent and received", frozenset({EventKind.SEG_SENT, EventKind.SEG_RECV})),
    "links": ("Packets on links (hops, queues, arrivals)",
              frozenset({EventKind.HOP, EventKind.ARRIVE, EventKind.QUEUE, EventKind.ALTER})),
    "drops": ("Drops", frozenset({EventKind.DROP})),
    "timers": ("Timers", frozenset({EventKind.TIMER_ARM, EventKind.TIMER_CANCEL,
                                     EventKind.TIMER_EXPIRE})),
    "state": ("Connection states", frozenset({EventKind.STATE})),
    "variables": ("Variables, queues and scoreboards",
                  frozenset({EventKind.VAR, EventKind.CC_STATE, EventKind.SACKED, EventKind.OOO})),
    "application": ("Application (open, write, read, close)",
                    frozenset({EventKind.APP_WRITE, EventKind.APP_READ, EventKind.DELIVER,
                               EventKind.APP_CALL})),
    "detections": ("Detections (recovery, spurious retransmissions)", frozenset({EventKind.DETECT})),
    "user": ("Your actions, link changes and crashes",
             frozenset({EventKind.USER, EventKind.LINK_SET, EventKind.NODE})),
}
#: Shown when the log opens: everything but the per-hop rows and the variable updates, which
#: outnumber the rest several times over (one check in the menu brings them back).
DEFAULT_KINDS = frozenset(CATEGORIES) - {"links", "variables"}

KIND_LABEL = {
    EventKind.SEG_SENT: "sent", EventKind.SEG_RECV: "received", EventKind.DROP: "drop",
    EventKind.DELIVER: "delivered", EventKind.STATE: "state", EventKind.TIMER_ARM: "timer set",
    EventKind.TIMER_CANCEL: "timer stopped", EventKind.TIMER_EXPIRE: "timer expired",
    EventKind.VAR: "variable", EventKind.OOO: "out of order", EventKind.APP_WRITE: "app write",
    EventKind.APP_READ: "app read", EventKind.HOP: "hop", EventKind.ARRIVE: "arrival",
    EventKind.LINK_SET: "link change", EventKind.NODE: "node", EventKind.ALTER: "altered",
    EventKind.APP_CALL: "app call", EventKind.DETECT: "detection", EventKind.CC_STATE: "congestion",
    EventKind.SACKED: "scoreboard", EventKind.USER: "your action", EventKind.QUEUE: "queued",
}
RETRANSMISSIONS = frozenset({SendReason.RTO_RETX, SendReason.GO_BACK_N, SendReason.FAST_RETX,
                             SendReason.PARTIAL_ACK_RETX, SendReason.SYN_RETRY,
                             SendReason.FIN_RETX, SendReason.SACK_RETX})
COLUMNS = ("Time", "Node", "Connection", "Kind", "What happened")
#: Rows a text search narrates per turn of the event loop (about 40 ms of work).
SEARCH_CHUNK = 8000
SOURCE = "narration"
_DISPLAY, _FOREGROUND, _BACKGROUND = int(Qt.DisplayRole), int(Qt.ForegroundRole), int(Qt.BackgroundRole)
_DECORATION, _TOOLTIP, _USER = int(Qt.DecorationRole), int(Qt.ToolTipRole), int(Qt.UserRole)
_ROLES = frozenset({_DISPLAY, _FOREGROUND, _BACKGROUND, _DECORATION, _TOOLTIP, _USER})


def kind_mask(keys: Iterable[str]) -> np.ndarray:
    """Boolean lookup table indexed by EventKind: True for kinds in the categories ``keys``."""
    table = np.zeros(max(EventKind) + 1, dtype=bool)
    for key in keys:
        for k in CATEGORIES[key][1]:
            table[int(k)] = True
    return table


def pair_key(ip_a: int, port_a: int, ip_b: int, port_b: int) -> tuple:
    """The same key for both directions of a TCP connection (its two endpoints, sorted)."""
    return tuple(sorted(((ip_a, port_a), (ip_b, port_b))))


class _Column:
    """An int64 array that grows by appending (amortised doubling)."""

    __slots__ = ("a", "n")

    def __init__(self) -> None:
        self.a = np.empty(1024, dtype=np.int64)
        self.n = 0

    def extend(self, values: np.ndarray) -> None:
        need = self.n + len(values)
        if need > len(self.a):
            grown = np.empty(max(need, 2 * len(self.a)), dtype=np.int64)
            grown[:self.n] = self.a[:self.n]
            self.a = grown
        self.a[self.n:need] = values
        self.n = need

    def clear(self) -> None:
        self.n = 0

    @property
    def v(self) -> np.ndarray:
        return self.a[:self.n]


class NarrationModel(QAbstractTableModel):
    """The trace as a table, showing the rows that pass the filters (in trace order).

    ``total`` is the number of trace rows loaded; ``rowCount()`` the number shown;
    ``source_row(r)`` maps a shown row to its trace row. Filters: :meth:`set_filters`.
    """

    #: (shown, total) changed
    counted = Signal(int, int)

    def __init__(self, context, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.trace = None
        self._cols = {name: _Column() for name in ("t", "kind", "node", "conn", "pkt", "pair")}
        self._visible = _Column()
        self._texts: list[str | None] = []
        self._narrator: Narrator | None = None
        self._narrator_conns = -1
        # the TCP connection (pair of endpoints) of every connection id and every packet uid
        self._pairs: dict[tuple, int] = {}
        self.pair_conns: list[list[int]] = []
        self._conn_pair: list[int] = []
        self._pkt_pair = _Column()
        self._conn_labels: list[str] = []
        # filters
        self.kinds = set(DEFAULT_KINDS)
        self._kind_ok = kind_mask(self.kinds)
        self.pair: int | None = None
        self.search = ""
        self._scanned = 0
        self._scan_timer = QTimer(self)
        self._scan_timer.setSingleShot(True)
        self._scan_timer.setInterval(0)
        self._scan_timer.timeout.connect(self._scan)
        # look
        self.packet: int | None = None
        self._colors: dict[str, QColor] = {}
        self.set_theme(LIGHT)

    # -- loading -----------------------------------------------------------------------------------
    @property
    def total(self) -> int:
        return self._cols["t"].n

    def reload(self) -> None:
        """Start over from ``context.trace`` (a new trace, or the same one from scratch)."""
        self.beginResetModel()
        self.trace = self.context.trace
        for col in self._cols.values():
            col.clear()
        self._visible.clear()
        self._texts = []
        self._narrator = None
        self._pairs, self.pair_conns, self._conn_pair, self._conn_labels = {}, [], [], []
        self._pkt_pair.clear()
        self._scanned = 0
        self.packet = None
        self.endResetModel()
        if self.trace is not None:
            self.append(0, len(self.trace))
        else:
            self.counted.emit(0, 0)

    def append(self, first: int, end: int) -> None:
        """Rows up to ``end`` exist now; load those not loaded yet (O(batch)) and show the ones
        that pass the filters."""
        trace = self.trace
        if trace is None or trace is not self.context.trace:
            return
        start = self.total
        end = min(end, len(trace))
        if end <= start:
            return
        self._sync_pairs()
        m = trace.matrix(start, end)
        conn, pkt = m[:, 3], m[:, 4]
        conn_pair = np.append(np.asarray(self._conn_pair, dtype=np.int64), -1)
        pkt_pair = np.append(self._pkt_pair.v, -1)
        by_conn = conn_pair[np.where(conn >= 0, conn, len(conn_pair) - 1)]
        by_pkt = pkt_pair[np.where(pkt >= 0, pkt, len(pkt_pair) - 1)]
        pair = np.where(conn >= 0, by_conn, np.where(pkt >= 0, by_pkt, -1))
        for k, name in enumerate(("t", "kind", "node", "conn", "pkt")):
            self._cols[name].extend(m[:, k])
        self._cols["pair"].extend(pair)
        self._texts.extend([None] * (end - start))
        self._scan()

    def _sync_pairs(self) -> None:
        """Give new connections and packets their TCP connection index."""
        trace = self.trace
        for info in trace.conns[len(self._conn_pair):]:
            key = pair_key(info.local_ip, info.local_port, info.remote_ip, info.remote_port)
            index = self._pair_index(key)
            self.pair_conns[index].append(info.id)
            self._conn_pair.append(index)
            self._conn_labels.append(info.label(trace.nodes))
        new = trace.packets[self._pkt_pair.n:]
        if new:
            pairs = [self._pair_index(pair_key(p.src, p.segment.src_port, p.dst, p.segment.dst_port))
                     for p in new]
            self._pkt_pair.extend(np.asarray(pairs, dtype=np.int64))

    def _pair_index(self, key: tuple) -> int:
        index = self._pairs.get(key)
        if index is None:
            index = self._pairs[key] = len(self.pair_conns)
            self.pair_conns.append([])
        return index

    def connections(self) -> list[tuple[int, str]]:
        """(pair index, label) of every TCP connection that has an endpoint in the trace."""
        trace = self.trace
        out = []
        for index, conns in enumerate(self.pair_conns):
            if not conns:
                continue
            infos = sorted((trace.conns[c] for c in conns), key=lambda i: i.role != "client")
            first = infos[0]
            labels = [info.label(trace.nodes) for info in infos]
            if len(labels) == 1:
                labels.append(f"{ip_str(first.remote_ip)}:{first.remote_port}")
            out.append((index, f"{labels[0]} ⇄ {labels[1]} ({first.app})"))
        return out

    # -- filtering ---------------------------------------------------------------------------------
    def set_filters(self, kinds: Iterable[str] | None = None, pair: int | None | str = "keep",
                    search: str | None = None) -> None:
        """Change what is shown: ``kinds`` (category keys of :data:`CATEGORIES`), ``pair`` (a TCP
        connection index from :meth:`connections`, None for all; rows about no connection and no
        packet, such as link changes, stay visible under every connection) and ``search`` (a
        case-insensitive substring of the sentence). Arguments left out keep their value."""
        if kinds is not None:
            unknown = set(kinds) - set(CATEGORIES)
            if unknown:
                raise KeyError(f"unknown kinds {sorted(unknown)}; known: {', '.join(CATEGORIES)}")
            self.kinds = set(kinds)
            self._kind_ok = kind_mask(self.kinds)
        if pair != "keep":
            self.pair = pair
        if search is not None:
            self.search = search.strip().lower()
        self.beginResetModel()
        self._visible.clear()
        self._scanned = 0
        self.endResetModel()
        self._scan()

    def filter_mask(self, start: int, end: int) -> np.ndarray:
        """Which rows in ``[start, end)`` pass the kind and connection filters (numpy)."""
        kind = self._cols["kind"].v[start:end]
        ok = self._kind_ok[np.clip(kind, 0, len(self._kind_ok) - 1)] & (kind < len(self._kind_ok))
        if self.pair is not None:
            pair = self._cols["pair"].v[start:end]
            ok &= (pair == self.pair) | (pair == -1)
        return ok

    @property
    def scanning(self) -> bool:
        """Whether a text search has rows left to look at."""
        return self._scanned < self.total

    def _scan(self) -> None:
        """Decide the rows not yet filtered: all at once without a search, else a chunk per
        event-loop turn (and another turn scheduled while rows remain)."""
        start, total = self._scanned, self.total
        if start >= total:
            return
        end = min(total, start + SEARCH_CHUNK) if self.search else total
        rows = np.flatnonzero(self.filter_mask(start, end)) + start
        if self.search and len(rows):
            needle = self.search
            rows = np.fromiter((i for i in rows.tolist() if needle in self.text(i).lower()),
                               dtype=np.int64)
        self._scanned = end
        if len(rows):
            n = self._visible.n
            self.beginInsertRows(QModelIndex(), n, n + len(rows) - 1)
            self._visible.extend(rows)
            self.endInsertRows()
        self.counted.emit(self._visible.n, total)
        if end < total:
            self._scan_timer.start()

    def finish_scan(self) -> None:
        """Finish a running text search now (blocking)."""
        while self.scanning:
            self._scan()
        self._scan_timer.stop()

    def visible_rows(self) -> np.ndarray:
        """The trace rows shown, in order (a copy)."""
        return self._visible.v.copy()

    def source_row(self, row: int) -> int:
        return int(self._visible.a[row])

    def view_row(self, source: int) -> int | None:
        """The shown row of trace row ``source``, or None when it is filtered out."""
        vis = self._visible.v
        pos = int(np.searchsorted(vis, source))
        return pos if pos < len(vis) and vis[pos] == source else None

    def first_row_of_packet(self, uid: int) -> int | None:
        """The first shown row about packet ``uid``, or None."""
        rows = self._visible.v
        hits = np.flatnonzero(self._cols["pkt"].v[rows] == uid)
        return int(hits[0]) if len(hits) else None

    def row_at_time(self, t: int) -> int | None:
        """The last shown row at or before time ``t`` (None when none is)."""
        rows = self._visible.v
        if not len(rows):
            return None
        pos = int(np.searchsorted(self._cols["t"].v[rows], t, side="right")) - 1
        return pos if pos >= 0 else None

    # -- text --------------------------------------------------------------------------------------
    def text(self, i: int) -> str:
        """The narration of trace row ``i`` (composed once, then cached)."""
        text = self._texts[i]
        if text is None:
            trace = self.trace
            if self._narrator is None or self._narrator_conns != len(trace.conns):
                # A new narrator once more connections exist: the old one may have cached
                # "no peer" for a connection whose peer had not appeared yet.
                self._narrator = Narrator(trace)
                self._narrator_conns = len(trace.conns)
            text = self._texts[i] = self._narrator.explain(i)
        return text

    # -- Qt model ----------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._visible.n

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role: int = Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = _DISPLAY):
        # Called for every role of every painted cell: the roles this model never answers are
        # turned away first, and columns are read straight from the numpy buffers.
        if role not in _ROLES or not index.isValid():
            return None
        i = int(self._visible.a[index.row()])
        col = index.column()
        cols = self._cols
        if role == _DISPLAY:
            if col == 4:
                text = self._texts[i]
                return text if text is not None else self.text(i)
            if col == 0:
                return fmt_time(int(cols["t"].a[i]))
            if col == 1:
                node = int(cols["node"].a[i])
                return self.trace.nodes[node] if node >= 0 else ""
            if col == 2:
                conn = int(cols["conn"].a[i])
                return self._conn_labels[conn] if 0 <= conn < len(self._conn_labels) else ""
            return KIND_LABEL.get(int(cols["kind"].a[i]), "?")
        if role == _FOREGROUND:
            ctx = self.context
            if not ctx.live and cols["t"].a[i] > ctx.cursor:
                return self._colors["dim"]
            return None
        if role == _BACKGROUND:
            if self.packet is not None and cols["pkt"].a[i] == self.packet:
                return self._colors["packet"]
            return None
        if role == _DECORATION:
            return self._kind_color(i) if col == 3 else None
        if role == _TOOLTIP:
            return f"{fmt_time(int(cols['t'].a[i]))} · row {i}\n{self.text(i)}"
        return i     # UserRole: the trace row

    def _kind_color(self, i: int) -> QColor:
        """The colour the other views give this kind of event (segments by their flags)."""
        c = self._colors
        kind = int(self._cols["kind"].a[i])
        if kind in (EventKind.SEG_SENT, EventKind.SEG_RECV):
            trace = self.trace
            d, length = trace.d[i], trace.c[i]
            flags = d & 0xFFFF
            if kind == EventKind.SEG_SENT and (d >> 16) in RETRANSMISSIONS:
                return c["retx"]
            if flags & RST:
                return c["rst"]
            if flags & SYN:
                return c["synack"] if flags & 0x10 else c["syn"]
            if flags & FIN:
                return c["fin"]
            return c["data"] if length else c["ack"]
        if kind == EventKind.DROP:
            return c["drop"]
        if kind == EventKind.QUEUE:
            return c["queue"]
        if kind in (EventKind.TIMER_EXPIRE, EventKind.DETECT):
            return c["retx"]
        if kind in (EventKind.USER, EventKind.LINK_SET, EventKind.NODE, EventKind.ALTER):
            return c["user"]
        return c["other"]

    # -- look --------------------------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        text, base = QColor(theme.text), QColor(theme.base)
        dim = QColor(*(round(t * 0.4 + b * 0.6) for t, b in
                       ((text.red(), base.red()), (text.green(), base.green()),
                        (text.blue(), base.blue()))))
        tint = QColor(theme.link_selected)
        tint.setAlpha(48)
        self._colors = {name: QColor(getattr(theme, name)) for name in
                        ("syn", "synack", "data", "ack", "fin", "rst", "retx", "drop", "queue")}
        self._colors.update(dim=dim, packet=tint, user=QColor(theme.link_selected),
                            other=QColor(theme.muted))
        self._refresh()

    def set_packet(self, uid: int | None) -> None:
        """Tint the rows of packet ``uid``."""
        if uid != self.packet:
            self.packet = uid
            self._refresh()

    def cursor_moved(self, old: int, new: int, was_live: bool) -> None:
        """Repaint the rows whose dimming changed between cursor ``old`` and ``new``."""
        n = self._visible.n
        if not n:
            return
        times = self._cols["t"].v[self._visible.v]
        if was_live != self.context.live:
            lo, hi = int(np.searchsorted(times, min(old, new), side="right")), n - 1
        else:
            lo = int(np.searchsorted(times, min(old, new), side="right"))
            hi = int(np.searchsorted(times, max(old, new), side="right")) - 1
        if lo <= hi:
            self.dataChanged.emit(self.index(lo, 0), self.index(hi, len(COLUMNS) - 1),
                                  [Qt.ForegroundRole])

    def _refresh(self) -> None:
        if self._visible.n:
            self.dataChanged.emit(self.index(0, 0), self.index(self._visible.n - 1, len(COLUMNS) - 1))


class _StayOpenMenu(QMenu):
    """A menu of check boxes that stays open while they are toggled."""

    def mouseReleaseEvent(self, event) -> None:
        action = self.activeAction()
        if action is not None and action.isCheckable() and action.isEnabled():
            action.trigger()
            return
        super().mouseReleaseEvent(event)


class NarrationLog(QWidget):
    """The "Narration" dock: the trace told in sentences, filterable and linked to the cursor
    and the selection.

    Public API: ``model`` (:class:`NarrationModel`), ``table`` (the QTableView),
    ``set_kinds(keys)``, ``set_connection(pair)``, ``set_search(text)``, ``visible_rows()``,
    ``follow`` / ``set_follow(on)``, ``set_theme(theme)``.
    """

    title = "Narration"

    def __init__(self, context, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.theme = LIGHT
        self.follow = True
        self._syncing = False
        self._scrolling = False
        self._column_choice: dict[int, bool] = {}
        self._cursor = context.cursor
        self._live = context.live
        self.model = NarrationModel(context, self)
        self._build()
        self.model.counted.connect(self._on_counted)
        self.model.modelReset.connect(self._after_reset)
        context.follow(self)
        if context.trace is not None:
            self._on_reset()

    # -- construction ----------------------------------------------------------------------------
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        bar = QHBoxLayout()
        bar.setSpacing(6)
        self.search_box = QLineEdit(self)
        self.search_box.setPlaceholderText("Search the narration…")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setMinimumWidth(self.fontMetrics().horizontalAdvance("Search the") + 40)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(250)
        self._search_timer.timeout.connect(lambda: self.set_search(self.search_box.text()))
        self.search_box.textChanged.connect(lambda _t: self._search_timer.start())
        bar.addWidget(self.search_box, 2)

        self.conn_box = QComboBox(self)
        self.conn_box.setToolTip("Show one TCP connection (both ends). Link changes, crashes and "
                                 "other rows about no connection stay visible.")
        self.conn_box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.conn_box.setMinimumContentsLength(12)
        self.conn_box.addItem("All connections", None)
        self.conn_box.currentIndexChanged.connect(self._on_conn_box)
        bar.addWidget(self.conn_box, 1)

        self.kinds_button = QToolButton(self)
        self.kinds_button.setPopupMode(QToolButton.InstantPopup)
        self.kinds_button.setToolButtonStyle(Qt.ToolButtonTextOnly)
        self.kinds_menu = _StayOpenMenu(self.kinds_button)
        self._kind_actions = {}
        everything = self.kinds_menu.addAction("Show every kind")
        everything.triggered.connect(lambda: self.set_kinds(CATEGORIES))
        self.kinds_menu.addSeparator()
        for key, (label, _kinds) in CATEGORIES.items():
            act = self.kinds_menu.addAction(label)
            act.setCheckable(True)
            act.setChecked(key in self.model.kinds)
            act.toggled.connect(self._on_kind_toggled)
            self._kind_actions[key] = act
        self.kinds_button.setMenu(self.kinds_menu)
        bar.addWidget(self.kinds_button)

        self.follow_button = QToolButton(self)
        self.follow_button.setText("Follow")
        self.follow_button.setCheckable(True)
        self.follow_button.setChecked(True)
        self.follow_button.setToolTip("Keep the cursor's event in view (the newest one while the "
                                      "run plays). Scrolling away turns it off.")
        self.follow_button.toggled.connect(self.set_follow)
        bar.addWidget(self.follow_button)

        self.count_label = QLabel(self)
        bar.addWidget(self.count_label)
        lay.addLayout(bar)

        table = self.table = QTableView(self)
        table.setModel(self.model)
        table.setSelectionBehavior(QAbstractItemView.SelectRows)
        table.setSelectionMode(QAbstractItemView.SingleSelection)
        table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        table.setShowGrid(False)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.ElideRight)
        table.setHorizontalScrollMode(QAbstractItemView.ScrollPerPixel)
        table.setVerticalScrollMode(QAbstractItemView.ScrollPerItem)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)
        table.horizontalHeader().setHighlightSections(False)
        table.horizontalHeader().setStretchLastSection(True)
        table.horizontalHeader().setContextMenuPolicy(Qt.CustomContextMenu)
        table.horizontalHeader().customContextMenuRequested.connect(self._header_menu)
        table.clicked.connect(lambda idx: self._activate(idx.row()))
        table.selectionModel().currentRowChanged.connect(
            lambda cur, _prev: self._activate(cur.row()) if cur.isValid() else None)
        sb = table.verticalScrollBar()
        sb.actionTriggered.connect(self._on_user_scroll)
        sb.rangeChanged.connect(self._on_range)
        lay.addWidget(table, 1)
        self._apply_fonts()
        self._update_kinds_button()

    def _apply_fonts(self) -> None:
        """Row height and column widths from the widget's font (a presenter mode may enlarge
        it)."""
        fm = self.fontMetrics()
        self.table.verticalHeader().setDefaultSectionSize(fm.height() + 8)
        pad = 24
        widths = (fm.horizontalAdvance("00.000000 s") + pad, fm.horizontalAdvance("router00") + pad,
                  fm.horizontalAdvance("server:49152") + pad,
                  fm.horizontalAdvance("timer expired") + pad + 16)       # + the colour square
        for col, w in enumerate(widths):
            self.table.horizontalHeader().resizeSection(col, w)
        self._widths = widths
        self._fit_columns()

    def _fit_columns(self) -> None:
        """In a narrow dock the Node and Connection columns give their room to the sentence
        (which names the node anyway), unless the user chose them in the header's menu."""
        fm = self.fontMetrics()
        narrow = self.width() < sum(self._widths) + fm.averageCharWidth() * 50
        for col in (1, 2):
            choice = self._column_choice.get(col)
            self.table.setColumnHidden(col, narrow if choice is None else not choice)

    def _header_menu(self, pos) -> None:
        menu = QMenu(self)
        for col in (1, 2):
            act = menu.addAction(COLUMNS[col])
            act.setCheckable(True)
            act.setChecked(not self.table.isColumnHidden(col))
            act.toggled.connect(lambda on, c=col: self.show_column(c, on))
        menu.exec(self.table.horizontalHeader().mapToGlobal(pos))

    def show_column(self, col: int, on: bool | None) -> None:
        """Show or hide the Node (1) or Connection (2) column; None: automatic by width."""
        if on is None:
            self._column_choice.pop(col, None)
        else:
            self._column_choice[col] = bool(on)
        self._fit_columns()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.FontChange and hasattr(self, "table"):
            self._apply_fonts()
        super().changeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(900, 400)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.model.set_theme(theme)
        self.table.viewport().update()

    # -- filters -----------------------------------------------------------------------------------
    def set_kinds(self, keys: Iterable[str]) -> None:
        """Show the event categories ``keys`` (see :data:`CATEGORIES`)."""
        keys = set(keys)
        self.model.set_filters(kinds=keys)
        for key, act in self._kind_actions.items():
            act.blockSignals(True)
            act.setChecked(key in keys)
            act.blockSignals(False)
        self._update_kinds_button()

    @property
    def kinds(self) -> set[str]:
        return set(self.model.kinds)

    def _on_kind_toggled(self, _checked: bool) -> None:
        self.set_kinds(key for key, act in self._kind_actions.items() if act.isChecked())

    def _update_kinds_button(self) -> None:
        n = len(self.model.kinds)
        self.kinds_button.setText("All kinds" if n == len(CATEGORIES) else f"Kinds {n}/{len(CATEGORIES)}")
        self.kinds_button.setToolTip("Which kinds of event to show: " + ", ".join(
            CATEGORIES[key][0].lower() for key in CATEGORIES if key in self.model.kinds))

    def set_connection(self, pair: int | None) -> None:
        """Show one TCP connection (an index from ``model.connections()``), or all (None)."""
        self.model.set_filters(pair=pair)
        index = self.conn_box.findData(pair)
        if index >= 0 and index != self.conn_box.currentIndex():
            self.conn_box.blockSignals(True)
            self.conn_box.setCurrentIndex(index)
            self.conn_box.blockSignals(False)

    def _on_conn_box(self, index: int) -> None:
        if index >= 0:
            self.model.set_filters(pair=self.conn_box.itemData(index))

    def _refresh_conn_box(self) -> None:
        """Offer every TCP connection seen so far (entries only ever get added)."""
        known = self.conn_box.count() - 1
        conns = self.model.connections()
        if len(conns) == known:
            return
        current = self.conn_box.currentData()
        self.conn_box.blockSignals(True)
        self.conn_box.clear()
        self.conn_box.addItem("All connections", None)
        for index, label in conns:
            self.conn_box.addItem(label, index)
        self.conn_box.setCurrentIndex(max(0, self.conn_box.findData(current)))
        self.conn_box.blockSignals(False)

    def set_search(self, text: str) -> None:
        """Show only rows whose sentence contains ``text`` (case-insensitive; empty: all)."""
        self._search_timer.stop()
        if self.search_box.text() != text:
            self.search_box.blockSignals(True)
            self.search_box.setText(text)
            self.search_box.blockSignals(False)
        self.model.set_filters(search=text)

    def visible_rows(self) -> np.ndarray:
        return self.model.visible_rows()

    def _on_counted(self, shown: int, total: int) -> None:
        searching = " …" if self.model.scanning else ""
        if shown == total:
            self.count_label.setText(f"{total:,} events{searching}")
        else:
            self.count_label.setText(f"{shown:,} / {total:,}{searching}")
        self.count_label.setToolTip(f"{shown:,} events shown of {total:,} in the trace"
                                    + (" (still searching)" if searching else ""))

    # -- follow ------------------------------------------------------------------------------------
    def set_follow(self, on: bool) -> None:
        """Keep the cursor's row in view (the newest while live)."""
        self.follow = bool(on)
        if self.follow_button.isChecked() != self.follow:
            self.follow_button.blockSignals(True)
            self.follow_button.setChecked(self.follow)
            self.follow_button.blockSignals(False)
        if self.follow:
            self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        bar = self.table.verticalScrollBar()
        self._scrolling = True
        try:
            if self.context.live:
                bar.setValue(bar.maximum())
            else:
                row = self.model.row_at_time(self.context.cursor)
                if row is not None:
                    index = self.model.index(row, 0)
                    if not self.table.viewport().rect().contains(self.table.visualRect(index)):
                        # the cursor's row mid-view: what led to it above, the future below
                        self.table.scrollTo(index, QAbstractItemView.PositionAtCenter)
        finally:
            self._scrolling = False

    def _on_user_scroll(self, action: int) -> None:
        """The user moved the scroll bar: following stops unless they went to the very end of
        a live log."""
        if self._scrolling or action == QAbstractSlider.SliderNoAction:
            return
        bar = self.table.verticalScrollBar()
        at_end = bar.sliderPosition() >= bar.maximum()
        self.set_follow(self.context.live and at_end)

    def _on_range(self, _lo: int, _hi: int) -> None:
        if self.follow:
            self._scroll_to_cursor()

    # -- context -----------------------------------------------------------------------------------
    def _on_reset(self) -> None:
        self._cursor, self._live = self.context.cursor, self.context.live
        self.model.reload()
        self._refresh_conn_box()

    def _after_reset(self) -> None:
        if self.follow:
            QTimer.singleShot(0, self, self._scroll_to_cursor)

    def _on_advanced(self, first: int, end: int) -> None:
        self.model.append(first, end)
        self._refresh_conn_box()
        if self.follow:
            self._scroll_to_cursor()

    def _on_cursor(self, t: int) -> None:
        self.model.cursor_moved(self._cursor, t, self._live)
        self._cursor, self._live = t, self.context.live
        if self.follow:
            self._scroll_to_cursor()

    def _on_selection(self, sel) -> None:
        self.model.set_packet(sel.packet)
        if sel.source == SOURCE:
            return
        row = None
        if sel.event is not None:
            row = self.model.view_row(sel.event)
        if row is None and sel.packet is not None:
            row = self.model.first_row_of_packet(sel.packet)
        self._syncing = True
        try:
            if row is None:
                self.table.clearSelection()
                return
            index = self.model.index(row, 0)
            self.table.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)
            self.set_follow(False)
            self._scrolling = True
            self.table.scrollTo(index, QAbstractItemView.PositionAtCenter)
            self._scrolling = False
        finally:
            self._syncing = False

    def _activate(self, row: int) -> None:
        """The user picked shown row ``row``: select its event and move the cursor to it."""
        if self._syncing or not 0 <= row < self.model.rowCount():
            return
        i = self.model.source_row(row)
        self.context.set_cursor(int(self.model.trace.t[i]))
        self.context.select(event=i, source=SOURCE)
