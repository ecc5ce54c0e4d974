"""The packet inspector, the narration log and exporting a view (issue 5).

Each test checks what the view shows against what the trace says: field values against the
packet's own bytes and ConnInfo, byte ranges against RFC 791/9293 offsets, sentences against
``tcplab.trace.narrate``, filtered rows against subsets computed here with numpy.
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from guikit import QtMessages, distinct_colors

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QAbstractSlider  # noqa: E402

from tcplab.gui.context import TraceContext  # noqa: E402
from tcplab.gui.theme import DARK  # noqa: E402
from tcplab import fileio as fileio_mod  # noqa: E402
from tcplab.gui.views.export import EXPORT_FILTERS, export_widget, path_with_suffix  # noqa: E402
from tcplab.gui.views.inspector import (PacketInspector, describe_damage, dissect,  # noqa: E402
                                       hex_columns, hex_dump, innermost_field, payload_preview)
from tcplab.gui.views.narration import CATEGORIES, NarrationLog  # noqa: E402
from tcplab.net.packet import OPT_MSS, OPT_SACK, SYN  # noqa: E402
from tcplab.net.wire import corrupt, encode_packet, verify  # noqa: E402
from tcplab.scenario import load  # noqa: E402
from tcplab.scenario.runner import Run  # noqa: E402
from tcplab.trace.events import DropReason, EventKind  # noqa: E402
from tcplab.trace.narrate import Narrator, explain  # noqa: E402

MS = 1_000_000


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TCPLAB_HOME", str(tmp_path / "home"))


def feed(run: Run, ctx: TraceContext, step: int = 5 * MS, until: int | None = None) -> int:
    """Play ``run`` in batches of ``step`` ns, handing each batch to the context (live)."""
    seen = len(run.trace)
    while not run.finished() and (until is None or run.now < until):
        run.run(until=run.now + step if until is None else min(until, run.now + step))
        ctx.append(seen, len(run.trace), run.now)
        seen = len(run.trace)
    return seen


def replay(run: Run, ctx: TraceContext) -> None:
    """A finished run handed over whole."""
    run.run()
    ctx.set_trace(run.trace)
    ctx.append(0, len(run.trace), run.now)


def parse_dump(text: str) -> bytes:
    """The bytes of a hex dump, read from its hex area (offset, two spaces, hex, ASCII)."""
    out = bytearray()
    for line in text.splitlines():
        hexpart = re.match(r"^[0-9a-f]{4}  ((?:[0-9a-f]{2} ?)+)", line).group(1)
        out += bytes.fromhex(hexpart)
    return bytes(out)


# -- inspector -------------------------------------------------------------------------------

@pytest.fixture
def handshake(qtbot):
    run = Run(load("handshake"))
    ctx = TraceContext()
    view = PacketInspector(ctx)
    qtbot.addWidget(view)
    view.resize(900, 500)
    view.show()
    replay(run, ctx)
    return run, ctx, view


def test_inspector_syn_fields_and_dump(handshake):
    run, ctx, view = handshake
    trace = run.trace
    syn = next(i for i in trace.indices(EventKind.SEG_SENT) if trace.d[i] & 0xFFFF == SYN)
    uid = trace.pkt[syn]
    ctx.select(packet=uid, source="ladder")
    assert view.uid == uid
    f = view.fields
    assert f["tcp.seq"].value == "100 (relative 0)"
    assert trace.conns[trace.conn[syn]].iss == 100
    mss = trace.packets[uid].segment.option(OPT_MSS)
    assert mss == 1460
    assert f["tcp.opt0"].name.startswith("Maximum segment size") and f["tcp.opt0"].value == "1460 bytes"
    assert f["ip.checksum"].status == "ok" and f["ip.checksum"].value.endswith("correct")
    assert f["tcp.checksum"].status == "ok"
    assert f["tcp.flags"].value == "0x002: SYN"
    assert f["tcp.ack"].value == "0 (ACK flag clear: not used)"
    assert f["ip.ttl"].value == "64" and f["ip.flags.df"].value == "1: set"
    assert f["tcp.window"].value.startswith("65535 bytes (a SYN's window is never scaled")
    wire = encode_packet(trace.packets[uid])
    total = struct.unpack_from("!H", wire, 2)[0]
    assert f["ip.len"].value == f"{total} bytes" == "44 bytes"
    dumped = parse_dump(view.hex_text())
    assert len(dumped) == total and dumped == wire == view.data
    # the SYN-ACK's acknowledgment number is relative to the client's ISN: 101 -> 1
    ctx.select(packet=uid + 1, source="ladder")
    assert view.fields["tcp.seq"].value == "500 (relative 0)"
    assert view.fields["tcp.ack"].value == "101 (relative 1)"
    assert view.fields["tcp.flags"].value == "0x012: ACK SYN"


def test_inspector_field_highlights_its_bytes(handshake, qtbot):
    run, ctx, view = handshake
    ctx.select(packet=0, source="ladder")
    view.select_field("tcp.seq")
    assert view.highlight == (24, 28)
    assert view.highlighted_bytes() == view.data[24:28] == (100).to_bytes(4, "big")
    view.select_field("ip.ttl")
    assert view.highlight == (8, 9) and view.highlighted_bytes() == bytes([64])
    view.select_field("ip.dst")
    assert view.highlighted_bytes() == view.data[16:20]
    view.select_field("tcp.opt0")      # MSS option: kind 2, length 4, 1460
    assert view.highlighted_bytes() == bytes([2, 4]) + (1460).to_bytes(2, "big")
    # a click on a byte of the dump selects the field that holds it
    view.select_byte(26)
    assert view.current_field() == "tcp.seq"
    per = view._per_line                                      # 8 or 16, by the pane's width
    line = view.hex.document().findBlockByNumber(9 // per)
    cursor = view.hex.textCursor()
    cursor.setPosition(line.position() + hex_columns(9 % per) + 1)     # byte 9: protocol
    rect = view.hex.cursorRect(cursor)
    qtbot.mouseClick(view.hex.viewport(), Qt.LeftButton, pos=QPoint(rect.x() + 2, rect.center().y()))
    assert view.current_field() == "ip.proto" and view.fields["ip.proto"].value == "6 (TCP)"


def test_inspector_hex_dump_layout_at_eight_bytes():
    data = bytes(range(20)) + b"Hi!"
    text = hex_dump(data, 8)
    assert parse_dump(text) == data
    lines = text.splitlines()
    assert len(lines) == 3 and lines[2].startswith("0010  10 11 12 13 48 69 21")
    assert lines[2].endswith("....Hi!")


def test_inspector_corrupted_packet_shows_wrong_checksum(qtbot):
    run = Run(load("handshake", ["links.client-router.corrupt=1"]))
    ctx = TraceContext()
    view = PacketInspector(ctx)
    qtbot.addWidget(view)
    replay(run, ctx)
    trace = run.trace
    alter = next(i for i in trace.indices(EventKind.ALTER) if trace.c[i] == 1)
    uid = trace.pkt[alter]
    damaged = trace.extra[alter]
    ctx.select(packet=uid, source="canvas")
    # shown by default: the damaged bytes, as the receiver checked them
    assert view.data == damaged != encode_packet(trace.packets[uid])
    assert view.versions[0][1] == encode_packet(trace.packets[uid])
    ip_ok, tcp_ok = verify(damaged)
    f = view.fields
    assert not (ip_ok and tcp_ok)
    assert (f["ip.checksum"].status == "ok") == ip_ok
    assert (f["tcp.checksum"].status == "ok") == tcp_ok
    bad = f["ip.checksum"] if not ip_ok else f["tcp.checksum"]
    assert "wrong (should be 0x" in bad.value
    label = view.versions[view.version][0]
    assert label.startswith("damaged on link client-router: bit")
    assert label.endswith(describe_damage(view.versions[0][1], damaged))
    # the "as sent" version is intact
    view.set_version(0)
    assert view.fields["ip.checksum"].status == "ok" == view.fields["tcp.checksum"].status
    # its life ends in a checksum drop
    last = view.life[-1]
    assert trace.kind[last] == EventKind.DROP and trace.a[last] == DropReason.CHECKSUM
    assert view.life_table.item(len(view.life) - 1, 2).text() == "dropped: checksum"


def test_dissect_survives_every_single_bit_flip():
    """Whatever bit a link flips, the tree still covers the datagram, and the checksum the
    receiver would fail is the one shown as wrong (RFC 1071: one flipped bit always shows)."""
    run = Run(load("sack"))
    run.run()
    trace = run.trace
    uid = next(p.uid for p in trace.packets if p.segment.option(OPT_SACK))
    data = encode_packet(trace.packets[uid])
    for bit in range(len(data) * 8):
        damaged = corrupt(data, bit)
        fields = {f.key: f for top in dissect(damaged) for f in top.walk()}
        ip_ok, tcp_ok = verify(damaged)
        assert not (ip_ok and tcp_ok)
        assert (fields["ip.checksum"].status == "ok") == ip_ok, bit
        if "tcp.checksum" in fields:
            assert (fields["tcp.checksum"].status == "ok") == tcp_ok, bit
        byte = bit // 8
        assert innermost_field(list(dissect(damaged)), byte) is not None, bit
    assert payload_preview(b"GET /\r\n\x00\xff") == "GET /...."


def test_describe_damage_names_bit_and_field():
    before = bytes.fromhex("4500002c000140004006") + bytes(10)
    after = bytearray(before)
    after[8] ^= 0x01                                   # lowest bit of the TTL: bit 71
    assert describe_damage(before, bytes(after)) == "bit 71 flipped (byte 8, Time to live)"


def test_inspector_window_scaling_from_the_syns(qtbot):
    run = Run(load("handshake", ["tcp.window_scale=true", "tcp.rcv_buf=262144"]))
    ctx = TraceContext()
    view = PacketInspector(ctx)
    qtbot.addWidget(view)
    replay(run, ctx)
    trace = run.trace
    ack = trace.packets[2].segment
    assert not ack.flags & SYN
    ctx.select(packet=2, source="ladder")
    w = ack.window
    assert view.fields["tcp.window"].value.startswith(f"{w} × 2^3 = {w << 3} bytes")
    ctx.select(packet=0, source="ladder")
    ws = next(f for f in view.fields.values() if f.name == "Window scale")
    assert ws.value == "shift 3: windows × 8"
    # without scaling agreed the raw value stands alone
    run2 = Run(load("handshake"))
    ctx2 = TraceContext()
    view2 = PacketInspector(ctx2)
    qtbot.addWidget(view2)
    replay(run2, ctx2)
    ctx2.select(packet=2, source="ladder")
    raw = run2.trace.packets[2].segment.window
    assert view2.fields["tcp.window"].value == f"{raw} bytes (no window scaling agreed)"


def test_inspector_sack_blocks_relative_to_peer_isn(qtbot):
    run = Run(load("sack"))
    ctx = TraceContext()
    view = PacketInspector(ctx)
    qtbot.addWidget(view)
    replay(run, ctx)
    trace = run.trace
    uid = next(p.uid for p in trace.packets if p.segment.option(OPT_SACK))
    (left, right), *_ = trace.packets[uid].segment.option(OPT_SACK)
    sender = ctx.conn_of_packet(uid)
    irs = trace.conns[sender].irs
    ctx.select(packet=uid, source="ladder")
    block = next(f for f in view.fields.values() if f.name == "Block 1")
    assert block.value == f"{left}-{right} (relative {left - irs}-{right - irs})"
    view.select_field(block.key + ".right")
    assert view.highlighted_bytes() == right.to_bytes(4, "big")


def test_inspector_life_grows_live(qtbot):
    run = Run(load("handshake"))
    ctx = TraceContext()
    view = PacketInspector(ctx)
    qtbot.addWidget(view)
    ctx.set_trace(run.trace)
    feed(run, ctx, step=MS, until=1 * MS)           # the SYN is on its first link
    ctx.select(packet=0, source="canvas")
    early = list(view.life)
    assert [run.trace.kind[i] for i in early] == [EventKind.SEG_SENT, EventKind.HOP]
    feed(run, ctx, step=MS)
    trace = run.trace
    expected = [i for i in range(len(trace)) if trace.pkt[i] == 0
                or (trace.kind[i] == EventKind.STATE and trace.c[i] == 0)]
    assert view.life == expected and view.life[:2] == early
    kinds = [trace.kind[i] for i in view.life]
    assert kinds[-1] in (EventKind.SEG_RECV, EventKind.STATE) and EventKind.ARRIVE in kinds
    narr = Narrator(trace)
    for n, i in enumerate(view.life):
        assert view.life_table.item(n, 3).text() == narr.explain(i)
    assert view.life_table.item(0, 2).text() == "sent: syn"
    # the forwarded copy (TTL 63) is offered as a second version
    assert [v[1][8] for v in view.versions] == [64, 63]
    # clicking a life row moves the cursor there and selects that event
    view._on_life_clicked(2, 0)
    assert ctx.cursor == trace.t[view.life[2]]
    assert ctx.selection.event == view.life[2] and ctx.selection.source == "inspector"


# -- narration -------------------------------------------------------------------------------

def all_kinds(view):
    view.set_kinds(CATEGORIES)


@pytest.fixture
def sack_log(qtbot):
    run = Run(load("sack"))
    ctx = TraceContext()
    view = NarrationLog(ctx)
    qtbot.addWidget(view)
    view.resize(900, 500)
    view.show()
    replay(run, ctx)
    return run, ctx, view


def test_narration_rows_and_sentences(sack_log):
    run, ctx, view = sack_log
    trace = run.trace
    model = view.model
    assert model.total == len(trace)
    all_kinds(view)
    assert model.rowCount() == len(trace)
    assert np.array_equal(view.visible_rows(), np.arange(len(trace)))
    for i in range(0, len(trace), 37):
        assert model.data(model.index(i, 4)) == explain(trace, i)
        assert model.data(model.index(i, 1)) == trace.nodes[trace.node[i]]
    send = trace.indices(EventKind.SEG_SENT)[0]
    assert model.data(model.index(send, 3)) == "sent"
    conn = trace.conns[trace.conn[send]]
    assert model.data(model.index(send, 2)) == f"{trace.nodes[conn.node]}:{conn.local_port}"


def test_narration_filters_match_numpy(sack_log):
    run, ctx, view = sack_log
    trace = run.trace
    m = trace.matrix()
    kind, conn, pkt = m[:, 1], m[:, 3], m[:, 4]
    view.set_kinds({"segments", "drops"})
    expected = np.flatnonzero(np.isin(kind, [EventKind.SEG_SENT, EventKind.SEG_RECV, EventKind.DROP]))
    assert np.array_equal(view.visible_rows(), expected)
    # one TCP connection: its two endpoints' rows, its packets' rows, and rows about nothing
    pairs = dict((label.split(" ")[0], index) for index, label in view.model.connections())
    assert set(pairs) == {"client:49152", "client:49153"}
    view.set_kinds(CATEGORIES)
    view.set_connection(pairs["client:49153"])
    ends = [c.id for c in trace.conns if 49153 in (c.local_port, c.remote_port)]
    assert len(ends) == 2
    uids = [p.uid for p in trace.packets if 49153 in (p.segment.src_port, p.segment.dst_port)]
    expected = np.flatnonzero(np.isin(conn, ends) | ((conn == -1) & np.isin(pkt, uids))
                              | ((conn == -1) & (pkt == -1)))
    assert 0 < len(expected) < len(trace)
    assert np.array_equal(view.visible_rows(), expected)
    view.set_kinds({"timers"})
    timers = np.isin(kind, [EventKind.TIMER_ARM, EventKind.TIMER_CANCEL, EventKind.TIMER_EXPIRE])
    assert np.array_equal(view.visible_rows(), np.intersect1d(expected, np.flatnonzero(timers)))
    # the text search narrates and matches the candidates (case-insensitive)
    view.set_connection(None)
    view.set_kinds(CATEGORIES)
    view.set_search("Retransmits")
    view.model.finish_scan()
    want = [i for i in range(len(trace)) if "retransmits" in explain(trace, i).lower()]
    assert want and view.visible_rows().tolist() == want
    assert view.count_label.text() == f"{len(want):,} / {len(trace):,}"


def test_narration_click_selects_and_moves_cursor(sack_log, qtbot):
    run, ctx, view = sack_log
    trace = run.trace
    view.set_kinds({"segments"})
    row = 5
    source = view.model.source_row(row)
    rect = view.table.visualRect(view.model.index(row, 4))
    qtbot.mouseClick(view.table.viewport(), Qt.LeftButton, pos=rect.center())
    assert ctx.selection.event == source and ctx.selection.source == "narration"
    assert ctx.selection.packet == trace.pkt[source]
    assert ctx.cursor == trace.t[source] and not ctx.live


def test_narration_external_packet_selection_scrolls_to_first_event(sack_log, qtbot):
    run, ctx, view = sack_log
    trace = run.trace
    uid = len(trace.packets) - 3
    first = next(i for i in range(len(trace)) if trace.pkt[i] == uid)
    assert trace.kind[first] == EventKind.SEG_SENT
    ctx.select(packet=uid, source="ladder")
    current = view.table.currentIndex()
    assert view.model.source_row(current.row()) == first
    assert view.table.selectionModel().isRowSelected(current.row())
    assert view.table.viewport().rect().intersects(view.table.visualRect(current))
    assert view.follow is False
    tint = view.model.data(current, Qt.BackgroundRole)
    assert tint is not None
    other = view.model.view_row(next(i for i in view.visible_rows() if trace.pkt[i] != uid))
    assert view.model.data(view.model.index(other, 0), Qt.BackgroundRole) is None
    # the log's own selection does not bounce back
    assert ctx.selection.source == "ladder"


def test_narration_dims_rows_after_cursor_in_replay(sack_log):
    run, ctx, view = sack_log
    trace = run.trace
    all_kinds(view)
    model = view.model
    t_mid = trace.t[len(trace) // 2]
    ctx.set_cursor(t_mid)
    assert not ctx.live
    dim = model._colors["dim"]
    before = int(np.searchsorted(ctx.times(), t_mid, side="right")) - 1
    assert model.data(model.index(before, 0), Qt.ForegroundRole) is None
    assert model.data(model.index(before + 1, 4), Qt.ForegroundRole) == dim
    ctx.set_cursor(ctx.end_time())
    assert model.data(model.index(before + 1, 4), Qt.ForegroundRole) is None


def test_narration_incremental_equals_full_load(qtbot):
    run = Run(load("reorder"))
    ctx = TraceContext()
    live = NarrationLog(ctx)
    qtbot.addWidget(live)
    live.set_kinds({"segments", "drops", "links", "state"})
    ctx.set_trace(run.trace)
    batches = 0
    seen = 0
    while not run.finished():
        run.run(until=run.now + 3 * MS)
        ctx.append(seen, len(run.trace), run.now)
        seen = len(run.trace)
        batches += 1
        if batches % 7 == 0:          # the table reads rows while the run goes on
            for r in range(0, live.model.rowCount(), 5):
                live.model.data(live.model.index(r, 4))
    assert batches > 10
    ctx2 = TraceContext()
    whole = NarrationLog(ctx2)
    qtbot.addWidget(whole)
    whole.set_kinds({"segments", "drops", "links", "state"})
    ctx2.set_trace(run.trace)
    ctx2.append(0, len(run.trace), run.now)
    assert live.model.total == whole.model.total == len(run.trace)
    assert np.array_equal(live.visible_rows(), whole.visible_rows())
    model_a, model_b = live.model, whole.model
    for r in range(model_a.rowCount()):
        for c in range(5):
            assert model_a.data(model_a.index(r, c)) == model_b.data(model_b.index(r, c))
    cached = [i for i, t in enumerate(model_a._texts) if t is not None]
    assert cached and [model_a._texts[i] for i in cached] == [model_b.text(i) for i in cached]


def test_narration_follow_stops_when_user_scrolls_up(qtbot):
    run = Run(load("transfer"))
    ctx = TraceContext()
    view = NarrationLog(ctx)
    qtbot.addWidget(view)
    view.resize(700, 300)
    view.show()
    all_kinds(view)
    ctx.set_trace(run.trace)
    bar = view.table.verticalScrollBar()
    feed(run, ctx, step=2 * MS, until=40 * MS)
    qtbot.wait(1)
    assert bar.maximum() > 0 and bar.value() == bar.maximum() and view.follow
    bar.triggerAction(QAbstractSlider.SliderToMinimum)      # the user drags to the top
    assert not view.follow and not view.follow_button.isChecked()
    feed(run, ctx, step=2 * MS, until=80 * MS)
    qtbot.wait(1)
    assert bar.value() == 0 < bar.maximum()
    view.follow_button.click()                               # follow again
    qtbot.wait(1)
    assert view.follow and bar.value() == bar.maximum()


def test_views_theme_and_no_qt_warnings(qtbot, sack_log):
    run, ctx, log = sack_log
    insp = PacketInspector(ctx)
    qtbot.addWidget(insp)
    with QtMessages() as msgs:
        insp.resize(900, 500)
        insp.show()
        ctx.select(packet=4, source="ladder")
        insp.select_field("tcp.ack")
        for view in (insp, log):
            view.set_theme(DARK)
        img = insp.grab().toImage()
        assert distinct_colors(img) > 8
        assert insp.current_field() == "tcp.ack"          # a theme change keeps the field
        assert insp.highlighted_bytes() == insp.data[28:32]
    assert msgs.messages == []


# -- export ----------------------------------------------------------------------------------

@pytest.fixture
def shown_log(sack_log):
    run, ctx, view = sack_log
    view.resize(500, 260)
    assert (view.width(), view.height()) == (500, 260)
    return view


def test_export_png(shown_log, tmp_path):
    out = export_widget(shown_log, tmp_path / "log.png", scale=2.0)
    assert out == tmp_path / "log.png" and out.stat().st_size > 1000
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1000, 520)
    assert distinct_colors(img) > 3
    assert not list(tmp_path.glob(".*.part"))       # the temporary file was renamed


def test_export_svg(shown_log, tmp_path):
    out = export_widget(shown_log, str(tmp_path / "log.svg"))
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    assert root.get("viewBox") == "0 0 500 260"
    ns = "{http://www.w3.org/2000/svg}"
    assert "Narration" in root.find(f"{ns}title").text
    shapes = ("path", "rect", "text", "image", "polyline", "polygon")
    drawn = [e for e in root.iter() if e.tag[len(ns):] in shapes]
    assert len(drawn) > 10
    assert any((e.text or "").strip() for e in root.iter(f"{ns}text"))


def test_export_pdf(shown_log, tmp_path):
    out = export_widget(shown_log, tmp_path / "log.PDF")
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1
    assert re.search(rb"/Count\s+1\b", data)


def test_export_errors_leave_nothing(shown_log, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"'\.jpg' is not a picture format.*\.png, \.svg or \.pdf"):
        export_widget(shown_log, tmp_path / "x.jpg")
    with pytest.raises(ValueError, match="no suffix"):
        export_widget(shown_log, tmp_path / "x")
    missing = tmp_path / "no" / "such" / "x.png"
    with pytest.raises(OSError, match=re.escape(str(missing))):
        export_widget(shown_log, missing)
    target = tmp_path / "out" / "x.svg"
    target.parent.mkdir()

    def fail(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(fileio_mod.os, "replace", fail)   # pictures go through write_atomic
    with pytest.raises(OSError, match="No space left"):
        export_widget(shown_log, target)
    assert list(target.parent.iterdir()) == []
    assert not (tmp_path / "x.jpg").exists() and not (tmp_path / "x").exists()
    assert "*.png" in EXPORT_FILTERS and "*.svg" in EXPORT_FILTERS and "*.pdf" in EXPORT_FILTERS
    assert path_with_suffix("ladder", "SVG drawing (*.svg)").name == "ladder.svg"
    assert path_with_suffix("ladder.pdf", "SVG drawing (*.svg)").name == "ladder.pdf"
