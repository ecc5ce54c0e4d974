"""The ladder view (issue 5): arrows, labels, marks and linking, checked against the trace."""

from __future__ import annotations

import time

import pytest

from guikit import QtMessages

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402

from tcplab.gui.context import TraceContext  # noqa: E402
from tcplab.gui.theme import DARK, LIGHT  # noqa: E402
from tcplab.gui.views.ladder import LadderView  # noqa: E402
from tcplab.scenario import load  # noqa: E402
from tcplab.scenario.runner import Run  # noqa: E402
from tcplab.trace.events import EventKind, RecvOutcome, SendReason, TcpState  # noqa: E402


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TCPLAB_HOME", str(tmp_path / "home"))


def rows_of(trace, kind):
    return [trace.event(int(i)) for i in trace.indices(kind)]


def make(qtbot, name, overrides=(), size=(900, 500), run_all=True):
    run = Run(load(name, list(overrides)))
    ctx = TraceContext()
    view = LadderView(ctx)
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    ctx.set_trace(run.trace)
    if run_all:
        run.run()
        ctx.append(0, len(run.trace), run.now)
    return run, ctx, view


def paint(view):
    """Paint the canvas now and return its image."""
    return view.canvas.viewport().grab().toImage()


def near_color(img, x, y, color: QColor, radius=3, tol=60) -> bool:
    for dx in range(-radius, radius + 1):
        for dy in range(-radius, radius + 1):
            px = img.pixelColor(int(x) + dx, int(y) + dy)
            if (abs(px.red() - color.red()) + abs(px.green() - color.green())
                    + abs(px.blue() - color.blue())) <= tol:
                return True
    return False


def painted_line(view, uid):
    """The drawn line of packet ``uid`` in the last paint: (x0, y0, x1, y1)."""
    p = view.canvas.painted
    k = view.model.by_uid[uid]
    j = list(p.idx.tolist()).index(k)
    return p.x0[j], p.y0[j], p.x1[j], p.y1[j]


def test_handshake_three_arrows(qtbot):
    with QtMessages() as msgs:
        run, ctx, view = make(qtbot, "handshake")
        arrows = view.arrows()
        assert [a.label for a in arrows] == ["SYN seq=100", "SYN-ACK seq=500 ack=101",
                                             "ACK ack=501"]
        assert [(a.from_lane, a.to_lane) for a in arrows] == [(0, 1), (1, 0), (0, 1)]
        # times are the SEG_SENT and SEG_RECV rows of each packet
        sent = {e.pkt: e.t for e in rows_of(run.trace, EventKind.SEG_SENT)}
        recv = {e.pkt: e.t for e in rows_of(run.trace, EventKind.SEG_RECV)}
        for a in arrows:
            assert a.t_send == sent[a.uid] and a.t_recv == recv[a.uid]
        assert arrows[0].t_send == 0 and arrows[1].t_send == arrows[0].t_recv
        assert arrows[2].t_send == arrows[1].t_recv
        assert [a.color for a in arrows] == ["syn", "synack", "ack"]
        assert view.lane_text(0) == ("client:49152", "ESTABLISHED")
        assert view.lane_text(1) == ("server:80", "ESTABLISHED")
        # drawn from the sender's lane at send time to the receiver's lane at receive time
        ctx.set_cursor(0)
        view.canvas._scroll_to(0)
        paint(view)
        _, xl, xr = view.canvas.lanes_x()
        for a in arrows:
            x0, y0, x1, y1 = painted_line(view, a.uid)
            assert (x0, x1) == ((xl, xr) if a.from_lane == 0 else (xr, xl))
            assert y0 == pytest.approx(view.canvas.y_of(a.t_send))
            assert y1 == pytest.approx(view.canvas.y_of(a.t_recv))
        ys = [painted_line(view, a.uid)[1] for a in arrows]
        assert ys[0] < ys[1] < ys[2]
        # every label found room on its arrow, and the state notes are on the lanes
        labelled = {k for k, _ in view.canvas.painted.labels}
        assert labelled == {view.model.by_uid[a.uid] for a in arrows}
        notes = [text for text, _ in view.canvas.painted.notes]
        assert notes[:1] == ["SYN-SENT"] and "SYN-RECEIVED" in notes
        assert notes.count("ESTABLISHED") == 2
        # at time 0 the server's connection does not exist yet; after the SYN-ACK is sent it is
        # SYN-RECEIVED, and the client is still SYN-SENT
        assert view.lane_text(0)[1] == "SYN-SENT"
        ctx.set_cursor(arrows[1].t_send + 1)
        assert view.lane_text(0)[1] == "SYN-SENT" and view.lane_text(1)[1] == "SYN-RECEIVED"
    assert msgs.messages == []


def test_loss_cross_at_drop_time_and_retransmission(qtbot):
    run, ctx, view = make(qtbot, "loss")
    drops = rows_of(run.trace, EventKind.DROP)
    assert len(drops) == 1
    lost_uid = drops[0].pkt
    arrows = {a.uid: a for a in view.arrows()}
    lost = arrows[lost_uid]
    assert lost.t_recv is None and lost.t_drop == drops[0].t
    assert lost.label == "ACK seq=1001 ack=141 len=500" and "lost" in lost.tags
    retx = [a for a in arrows.values() if "retransmit: timeout" in a.tags]
    assert len(retx) == 1 and retx[0].color == "retx"
    assert retx[0].label == lost.label and retx[0].t_recv is not None
    sent = {e.pkt: e for e in rows_of(run.trace, EventKind.SEG_SENT)}
    assert sent[retx[0].uid].reason == SendReason.RTO_RETX
    # the expiry that caused it is marked on the server's lane
    expiries = rows_of(run.trace, EventKind.TIMER_EXPIRE)
    assert [n[3] for n in view.canvas.pair_data()["notes"] if n[2] == "timer"] == ["RTO expired"]
    assert expiries[0].t == retx[0].t_send
    # the cross sits at the drop time, part of the way across
    ctx.set_cursor(lost.t_drop)
    img = paint(view)
    crosses = dict(view.canvas.painted.crosses)
    k = view.model.by_uid[lost_uid]
    assert list(crosses) == [k]
    point = crosses[k]
    _, xl, xr = view.canvas.lanes_x()
    assert xl + 20 < point.x() < xr - 20
    assert point.y() == pytest.approx(view.canvas.y_of(lost.t_drop))
    x0, y0, x1, y1 = painted_line(view, lost_uid)
    assert (x1, y1) == (point.x(), point.y()) and x0 == xr      # from the server's lane
    assert near_color(img, point.x() + 3, point.y() + 3, LIGHT.color("drop"))
    # the tooltip has the segment as on the wire and what happened to it
    tip = view.tooltip(k)
    assert "PSH|ACK seq=1001 ack=141 len=500 win=65495" in tip
    assert f"dropped at {lost.t_drop / 1e6:.3f} ms" in tip and "instructor's rule" in tip


def test_reorder_marks_out_of_order_and_dup_acks(qtbot):
    run, ctx, view = make(qtbot, "reorder")
    outcome = {e.pkt: e.outcome for e in rows_of(run.trace, EventKind.SEG_RECV)}
    ooo = {uid for uid, o in outcome.items() if o == RecvOutcome.OUT_OF_ORDER}
    assert len(ooo) == 2
    arrows = view.arrows()
    marked = {a.uid for a in arrows if "out of order" in a.tags}
    assert marked == ooo
    filler = [a for a in arrows if "fills the gap" in a.tags]
    assert len(filler) == 1 and "held back" in filler[0].tags
    assert filler[0].label == "ACK seq=1001 ack=141 len=500"
    # the client repeats ACK 1001 for each early segment: the server counts duplicates 1, 2
    dups = [a for a in arrows if a.color == "dupack"]
    assert [a.label for a in dups] == ["ACK ack=1001"] * 2
    assert [t for a in dups for t in a.tags if t.startswith("dup")] == ["dup ACK 1", "dup ACK 2"]
    # a ring marks each out-of-order arrival where it reaches the client's lane
    first = min((a for a in arrows if a.uid in ooo), key=lambda a: a.t_recv)
    ctx.set_cursor(first.t_recv)
    img = paint(view)
    x0, y0, x1, y1 = painted_line(view, first.uid)
    _, xl, _ = view.canvas.lanes_x()
    assert x1 == xl
    ring = QColor("#ad1457")
    assert near_color(img, x1, y1 - view.canvas.line_h() * 0.33, ring, radius=2) or \
        near_color(img, x1 + view.canvas.line_h() * 0.33, y1, ring, radius=2)


def test_numbered_lesson_labels(qtbot):
    run, ctx, view = make(qtbot, "loss")
    view.set_numbering("numbered")
    labels = [a.label for a in view.arrows()]
    assert labels[:3] == ["SYN", "SYN-ACK", "ACK"]
    # the request, the two response packets, the ACK of the first, the retransmitted #2
    assert "#1 bytes 1-40" in labels
    assert labels.count("#2 bytes 501-1000") == 2
    # the server's first data also acknowledges the request (piggybacked); the client's ACKs
    # name the next byte it expects
    assert "#1 bytes 1-500 \u00b7 ACK 41" in labels and "ACK 501" in labels
    retx = [a for a in view.arrows() if a.color == "retx"]
    assert [a.label for a in retx] == ["#2 bytes 501-1000"]
    # #2 was lost: nothing acknowledges byte 1000 until the retransmission has arrived; the
    # client's FIN carries that receipt, the server's FIN acknowledges the client's FIN
    assert not any("ACK 1001" in text for text in labels[:-3])
    assert labels[-3:] == ["FIN \u00b7 ACK 1001", "FIN \u00b7 ACK of FIN", "ACK of FIN"]
    assert view.num_box.currentText() == "numbered (lesson)"


def test_relative_and_absolute_numbers(qtbot):
    run, ctx, view = make(qtbot, "reorder")
    assert view.numbering == "absolute"      # the lesson's ISNs (100, 500) are shown as they are
    before = [a.label for a in view.arrows()]
    assert before[:4] == ["SYN seq=100", "SYN-ACK seq=500 ack=101", "ACK ack=501",
                          "ACK seq=101 ack=501 len=40"]
    view.num_box.setCurrentIndex(1)          # the user picks "relative seq"
    rel = [a.label for a in view.arrows()]
    assert rel[:5] == ["SYN seq=0", "SYN-ACK seq=0 ack=1", "ACK ack=1", "ACK seq=1 ack=1 len=40",
                       "ACK seq=1 ack=41 len=500"]
    view.set_relative(False)
    assert [a.label for a in view.arrows()] == before
    # random ISNs are shown relative until the user chooses
    run2, ctx2, view2 = make(qtbot, "handshake", ["hosts.client.isn=3000000000"])
    assert view2.numbering == "relative"
    assert view2.arrows()[0].label == "SYN seq=0"
    view2.set_numbering("absolute")
    assert view2.arrows()[0].label == "SYN seq=3000000000"


def test_close_shows_fin_and_ack(qtbot):
    run, ctx, view = make(qtbot, "close")
    arrows = view.arrows()
    fins = [a for a in arrows if a.label.startswith("FIN")]
    assert [a.label for a in fins] == ["FIN seq=141 ack=1001", "FIN seq=1001 ack=142"]
    assert [(a.from_lane, a.color) for a in fins] == [(0, "fin"), (1, "fin")]
    assert arrows[-1].label == "ACK ack=1002" and arrows[-1].from_lane == 0
    acks_of_fin = [a for a in arrows if a.label == "ACK ack=142"]
    assert len(acks_of_fin) == 1 and acks_of_fin[0].from_lane == 1
    assert acks_of_fin[0].t_send < fins[1].t_send        # ACK, then 200 ms later the FIN
    states = [n[3] for n in view.canvas.pair_data()["notes"] if n[2] == "state"]
    for s in ("FIN-WAIT-1", "CLOSE-WAIT", "FIN-WAIT-2", "LAST-ACK", "TIME-WAIT", "CLOSED"):
        assert s in states
    last_client = [e for e in rows_of(run.trace, EventKind.STATE) if e.conn == 0][-1]
    assert view.lane_text(0)[1] == last_client.new.label
    ctx.set_cursor(fins[0].t_send)
    assert view.lane_text(0)[1] == TcpState.FIN_WAIT_1.label
    assert view.lane_text(1)[1] == TcpState.ESTABLISHED.label
    view.set_numbering("numbered")
    # the article's four steps; the client's FIN also acknowledges the response it just got
    assert [a.label for a in view.arrows()][3:] == [
        "#1 bytes 1-40", "#1 bytes 1-500 \u00b7 ACK 41", "FIN \u00b7 ACK 501", "ACK of FIN",
        "FIN", "ACK of FIN"]


def test_selection_both_ways(qtbot):
    run, ctx, view = make(qtbot, "loss", size=(900, 400))
    got = []
    ctx.selectionChanged.connect(got.append)
    arrows = view.arrows()
    syn_ack = arrows[1]
    ctx.set_cursor(0)
    view.canvas._scroll_to(0)
    paint(view)
    x0, y0, x1, y1 = painted_line(view, syn_ack.uid)
    # a point on the line, away from its label
    f = 0.8
    qtbot.mouseClick(view.canvas.viewport(), Qt.LeftButton,
                     pos=QPoint(int(x0 + (x1 - x0) * f), int(y0 + (y1 - y0) * f)))
    assert ctx.selection.packet == syn_ack.uid and ctx.selection.event == syn_ack.row
    assert ctx.selection.source == "ladder" and ctx.selection.conn == 1
    assert view.selected_index == view.model.by_uid[syn_ack.uid]
    # from elsewhere: the retransmission, far below, is highlighted and scrolled to
    retx = [a for a in arrows if a.color == "retx"][0]
    assert view.canvas.y_of(retx.t_send) > view.canvas.viewport().height()
    ctx.select(packet=retx.uid, source="canvas")
    assert view.selected_index == view.model.by_uid[retx.uid]
    h = view.canvas.viewport().height()
    assert 0 <= view.canvas.y_of(retx.t_send) <= h and 0 <= view.canvas.y_of(retx.t_recv) <= h
    def bluish(img, uid):
        """Whether the selection halo (a wide translucent blue band) lines the arrow."""
        x0, y0, x1, y1 = painted_line(view, uid)
        px = img.pixelColor(round(x0 + (x1 - x0) * 0.25), round(y0 + (y1 - y0) * 0.25) + 3)
        return px.blue() - px.red() > 40

    img = paint(view)
    assert bluish(img, retx.uid)
    assert view.model.by_uid[retx.uid] in [k for k, _ in view.canvas.painted.labels]
    # its own selections come back through the context but change nothing
    n = len(got)
    ctx.select(packet=None, source="ladder")
    assert len(got) == n + 1 and view.selected_index == view.model.by_uid[retx.uid]
    # a selection elsewhere of something else clears the highlight
    ctx.select(packet=None, conn=0, source="connections")
    assert view.selected_index is None
    assert not bluish(paint(view), retx.uid)


def test_cursor_line_and_click_sets_cursor(qtbot):
    run, ctx, view = make(qtbot, "handshake")
    t = 15_000_000
    ctx.set_cursor(t)
    assert not ctx.live
    img = paint(view)
    y = view.canvas.y_of(t)
    w = view.canvas.viewport().width()
    assert near_color(img, w - 30, round(y), LIGHT.color("link_selected"), radius=1, tol=90)
    assert not near_color(img, w - 30, round(y) + 12, LIGHT.color("link_selected"), radius=1,
                          tol=90)
    # the cursor moves: the line follows
    ctx.set_cursor(25_000_000)
    img = paint(view)
    y2 = view.canvas.y_of(25_000_000)
    assert y2 > y + 10
    assert near_color(img, w - 30, round(y2), LIGHT.color("link_selected"), radius=1, tol=90)
    # clicking empty lane space (on the client's lane, away from arrows) sets the cursor there
    _, xl, xr = view.canvas.lanes_x()
    click_t = 5_000_000
    y_click = view.canvas.y_of(click_t)
    qtbot.mouseClick(view.canvas.viewport(), Qt.LeftButton, pos=QPoint(int(xl), int(y_click)))
    assert abs(ctx.cursor - click_t) < 1 / view.canvas.axis.scale + 1
    assert ctx.selection.packet is None
    # states in the header follow the cursor: at 5 ms the client waits for the SYN-ACK
    assert view.lane_text(0)[1] == "SYN-SENT"


def test_live_batches_and_follow(qtbot):
    run, ctx, view = make(qtbot, "loss", size=(900, 400), run_all=False)
    seen = 0
    counts = []
    while not run.finished():
        run.run(until=run.now + 5_000_000)
        ctx.append(seen, len(run.trace), run.now)
        seen = len(run.trace)
        sent = sum(1 for e in rows_of(run.trace, EventKind.SEG_SENT))
        assert len(view.arrows()) == sent
        counts.append(sent)
        h = view.canvas.viewport().height()
        assert -1 <= view.canvas.y_of(ctx.cursor) <= h + 1     # the newest moment is in view
        if run.now > 1_100_000_000:
            break
    assert counts[0] <= 1 and counts[-1] == 11 and sorted(counts) == counts
    # a segment still travelling is drawn part of the way, without an arrival
    run2, ctx2, view2 = make(qtbot, "handshake", run_all=False)
    run2.run(until=5_000_000)
    ctx2.append(0, len(run2.trace), run2.now)
    paint(view2)
    (a,) = view2.arrows()
    assert a.t_recv is None and a.t_drop is None
    x0, y0, x1, y1 = painted_line(view2, a.uid)
    _, xl, xr = view2.canvas.lanes_x()
    assert xl < x1 < xr and y1 == pytest.approx(view2.canvas.y_of(5_000_000))
    # scrolling away stops following; the rows keep arriving
    view.canvas._scroll_to(0)
    assert not view.canvas._follow


def test_copies_and_several_connections(qtbot):
    run, ctx, view = make(qtbot, "abort", run_all=False)
    run.run(until=530_000_000)
    ctx.append(0, len(run.trace), run.now)
    assert len(view.pairs()) == 2 and view.conn_box.isVisible()
    assert view.pairs()[1] == "typing: client:49153 \u21c4 server:23"
    # the user duplicates a packet on a link: the copy is its own arrow, marked
    uid, *_ = run.in_flight()[0]
    seen = len(run.trace)
    run.apply({"op": "packet", "uid": uid, "what": "duplicate"})
    run.run(until=run.now + 50_000_000)
    ctx.append(seen, len(run.trace), run.now)
    copies = [a for a in view.arrows() if "copy" in a.tags]
    if not copies:      # the packet belongs to the other connection
        view.set_pair(1 - view.pair)
        copies = [a for a in view.arrows() if "copy" in a.tags]
    alter = [e for e in rows_of(run.trace, EventKind.ALTER) if e.what == "duplicate"]
    assert len(copies) == 1 and copies[0].uid == alter[0].pkt
    original = {a.uid: a for a in view.arrows()}[uid]
    assert copies[0].label == original.label and copies[0].t_send == original.t_send
    assert copies[0].t_recv is not None and copies[0].t_recv >= original.t_recv
    # a packet of the other connection selected elsewhere switches the drawn connection
    other = 1 - view.pair
    conn = view.model.pairs[other][0]
    pkt = next(e.pkt for e in rows_of(run.trace, EventKind.SEG_SENT) if e.conn == conn)
    ctx.select(packet=pkt, source="canvas")
    assert view.pair == other and view.conn_box.currentIndex() == other


def test_zoom_fit_and_themes(qtbot):
    run, ctx, view = make(qtbot, "loss")
    canvas = view.canvas
    s = canvas.axis.scale
    view.zoom_in()
    assert canvas.axis.scale == pytest.approx(s * 1.5)
    view.zoom_out()
    assert canvas.axis.scale == pytest.approx(s)
    # Ctrl+wheel zooms around the mouse; the plain wheel scrolls
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication
    pos = QPointF(300, 200)
    t_at = canvas.t_of(200)
    ev = QWheelEvent(pos, canvas.viewport().mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120),
                     Qt.NoButton, Qt.ControlModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(canvas.viewport(), ev)
    assert canvas.axis.scale == pytest.approx(s * 1.25)
    assert abs(canvas.t_of(200) - t_at) < 2 / canvas.axis.scale
    view.fit()
    end = canvas.end_time()
    assert canvas.y_of(0) >= 0 and canvas.y_of(end) <= canvas.viewport().height()
    # the one-second wait for the timeout is drawn as a short break
    assert any(idle > 900_000_000 for *_, idle in canvas.axis.gaps)
    view.set_compress(False)
    assert canvas.axis.gaps == []
    view.set_theme(DARK)
    img = paint(view)
    assert img.pixelColor(canvas.viewport().width() - 20, canvas.viewport().height() - 5) \
        == DARK.color("canvas")
    # no trace: an empty view that says why
    ctx.set_trace(None)
    paint(view)
    assert view.arrows() == [] and view.lane_text(0)[1] == "\u2014"
    assert view.conn_label.text() == "no connection yet"


def test_bulk_trace_is_fast(qtbot):
    run = Run(load("bulk", ["apps.bulk.bytes=2000000"]))
    run.run()
    ctx = TraceContext()
    view = LadderView(ctx)
    qtbot.addWidget(view)
    view.resize(900, 500)
    view.show()
    qtbot.waitExposed(view)
    start = time.perf_counter()
    ctx.set_trace(run.trace)
    ctx.append(0, len(run.trace), run.now)
    paint(view)
    view.fit()
    paint(view)
    took = time.perf_counter() - start
    print(f"\nladder: {len(run.trace)} trace rows added and painted (also fitted) in {took:.3f} s")
    sent = len(rows_of(run.trace, EventKind.SEG_SENT))
    assert len(view.arrows()) == sent > 2000
    assert took < 10
