"""The time-sequence graph and the plots (issue 5): what they draw is what the trace says."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from guikit import QtMessages, distinct_colors

from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow  # noqa: E402

from tcplab.gui.context import TraceContext  # noqa: E402
from tcplab.gui.theme import DARK, LIGHT  # noqa: E402
from tcplab.gui.views.plots import PlotsView, nice_bin  # noqa: E402
from tcplab.gui.views.tsg import TimeSequenceView, unwrap  # noqa: E402
from tcplab.net.packet import ACK, OPT_SACK  # noqa: E402
from tcplab.scenario import load  # noqa: E402
from tcplab.scenario.runner import Run  # noqa: E402
from tcplab.trace.events import EventKind, RecvOutcome, SendReason, Var  # noqa: E402
from tcplab.trace.ladder import RETRANSMIT  # noqa: E402

MASK = 0xFFFFFFFF
SENT, RECV, VAR, DELIVER, DROP = (int(k) for k in (EventKind.SEG_SENT, EventKind.SEG_RECV,
                                                   EventKind.VAR, EventKind.DELIVER,
                                                   EventKind.DROP))


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TCPLAB_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="module")
def bulk():
    run = Run(load("bulk", ["apps.bulk.bytes=300000"]))
    run.run()
    return run


@pytest.fixture(scope="module")
def sack():
    run = Run(load("sack"))
    run.run()
    return run


def show(view_cls, trace, qtbot, batches: int = 1):
    ctx = TraceContext()
    view = view_cls(ctx)
    qtbot.addWidget(view)
    ctx.set_trace(trace)
    n = len(trace)
    edges = np.linspace(0, n, batches + 1).astype(int)
    for a, b in zip(edges[:-1], edges[1:]):
        ctx.append(int(a), int(b), int(trace.t[b - 1]))
    return ctx, view


def conn_of(trace, app: str, role: str) -> int:
    return next(c.id for c in trace.conns if c.app == app and c.role == role)


def rows(trace, kind: int, conn: int) -> np.ndarray:
    m = trace.matrix()
    return m[(m[:, 1] == kind) & (m[:, 3] == conn)]


def last_per_instant(t: np.ndarray, v: np.ndarray):
    keep = np.ones(len(t), dtype=bool)
    keep[:-1] = t[1:] != t[:-1]
    return t[keep], v[keep]


def dominant_color(img) -> str:
    counts: dict[str, int] = {}
    for y in range(0, img.height(), 5):
        for x in range(0, img.width(), 5):
            name = img.pixelColor(x, y).name()
            counts[name] = counts.get(name, 0) + 1
    return max(counts, key=counts.get)


def step_value(curve, t_ns: int) -> float:
    """The value a step curve shows right after time ``t_ns`` (its last point at that x)."""
    x, y = curve.getOriginalDataset()
    idx = np.flatnonzero(x == t_ns / 1e9)
    return float(y[idx[-1]])


# ============================================================================ time-sequence graph
def test_tsg_bars_are_the_senders_data_segments(bulk, qtbot):
    tr = bulk.trace
    ctx, view = show(TimeSequenceView, tr, qtbot)
    s = conn_of(tr, "bulk", "client")
    assert view.direction() == s            # chosen by itself: the connection with the data
    iss = tr.conns[s].iss
    sent = rows(tr, SENT, s)
    data = sent[sent[:, 7] > 0]
    seg = view.segments()
    assert len(seg["t"]) == len(data) == 210
    assert (seg["t"] == data[:, 0]).all()
    assert (seg["seq"] == (data[:, 5] - iss) & MASK).all()
    assert seg["seq"][0] == 1                # the first data byte follows the SYN (RFC 9293)
    assert (seg["length"] == data[:, 7]).all()
    assert (seg["uid"] == data[:, 4]).all()
    # retransmissions exactly where SendReason says so
    reasons = [SendReason(d >> 16) for d in data[:, 8]]
    expected = np.array([r in RETRANSMIT for r in reasons])
    assert expected.sum() == 2 and {r for r, e in zip(reasons, expected) if e} == {SendReason.FAST_RETX}
    assert (seg["retx"] == expected).all()
    # the drawn bars: one pair of points per segment, seq to seq+len at the send time
    x, y = view.curves["data"].getOriginalDataset()
    normal = data[~expected]
    assert np.allclose(x[0::2], normal[:, 0] / 1e9) and np.allclose(x[1::2], normal[:, 0] / 1e9)
    assert (y[0::2] == seg["seq"][~expected]).all()
    assert (y[1::2] - y[0::2] == normal[:, 7]).all()
    x, y = view.curves["retx"].getOriginalDataset()
    assert np.allclose(x[0::2], data[expected, 0] / 1e9)
    assert (y[0::2] == seg["seq"][expected]).all()
    assert len(view.markers["retx_mark"].data) == 2
    # each lost data segment carries a cross
    m = tr.matrix()
    dropped = set(m[m[:, 1] == DROP, 4].tolist()) & set(data[:, 4].tolist())
    assert len(view.markers["lost"].data) == len(dropped) == 2


def test_tsg_ack_and_window_lines(bulk, qtbot):
    tr = bulk.trace
    ctx, view = show(TimeSequenceView, tr, qtbot)
    s = view.direction()
    iss = tr.conns[s].iss
    recv = rows(tr, RECV, s)
    acks = recv[(recv[:, 8] & ACK) != 0]
    got = view.acks()
    assert len(got["t"]) == len(acks)
    assert (got["ack"] == (acks[:, 6] - iss) & MASK).all()
    # the ACK line's last value is the last ACK the sender received: all 300,000 bytes + FIN
    x, y = view.curves["ack"].getOriginalDataset()
    assert y[-1] == (acks[-1, 6] - iss) & MASK == 300_002
    assert x[-1] == pytest.approx(acks[-1, 0] / 1e9)
    # the window edge is ACK + the window field of that very ACK (no scaling negotiated here)
    win = np.array([tr.packets[u].segment.window for u in acks[:, 4]])
    assert (got["edge"] - got["ack"] == win).all()
    # ...which is what the sender took as SND.WND whenever that changed
    for t, w in rows(tr, VAR, s)[rows(tr, VAR, s)[:, 5] == int(Var.SND_WND)][:, [0, 7]]:
        if w > 0 and t > 0:
            assert w in (got["edge"] - got["ack"])[got["t"] == t]
    # duplicate ACKs marked exactly where the receipt's outcome says so
    dup = (acks[:, 8] >> 16) == int(RecvOutcome.DUP_ACK)
    assert (got["dup"] == dup).all() and dup.sum() == 45
    assert len(view.markers["dupack"].data) == 45
    # the readout at the end of the run
    ctx.set_cursor(ctx.end_time())
    assert "cumulative ACK 300,002" in view.readout.text()


def test_tsg_window_is_scaled_as_the_sender_reads_it(qtbot):
    # a 1 MB receive buffer needs window scaling: both SYNs offer a shift of 4 (RFC 7323)
    run = Run(load("bulk", ["apps.bulk.bytes=300000", "tcp.rcv_buf=1000000"]))
    run.run()
    tr = run.trace
    ctx, view = show(TimeSequenceView, tr, qtbot)
    s = view.direction()
    got = view.acks()
    window = got["edge"] - got["ack"]
    fields = np.array([tr.packets[u].segment.window for u in got["uid"]])
    syn = np.array([bool(tr.packets[u].segment.flags & 0x02) for u in got["uid"]])
    assert (window[syn] == fields[syn]).all()                 # a SYN's window is never scaled
    assert (window[~syn] == fields[~syn] << 4).all() and window.max() == 1_000_000
    wnd = rows(tr, VAR, s)[rows(tr, VAR, s)[:, 5] == int(Var.SND_WND)]
    for t, w in wnd[wnd[:, 0] > 0][:, [0, 7]]:
        assert w in window[got["t"] == t]                     # the sender took that value


def test_tsg_absolute_numbers(bulk, qtbot):
    tr = bulk.trace
    ctx, view = show(TimeSequenceView, tr, qtbot)
    iss = tr.conns[view.direction()].iss
    rel = view.curves["data"].getOriginalDataset()[1].copy()
    view.set_absolute(True)
    absolute = view.curves["data"].getOriginalDataset()[1]
    assert (absolute - rel == iss).all()
    assert view.seq_axis.tickStrings([iss + 1.0], 1, 1) == [f"{iss + 1:,}"]
    assert view.absolute_box.isChecked()
    assert unwrap(np.array([5]), (1 << 32) - 10)[0] == (1 << 32) + 5      # past the wrap


def test_tsg_sack_blocks_come_from_the_acks(sack, qtbot):
    tr = sack.trace
    ctx, view = show(TimeSequenceView, tr, qtbot)
    s = conn_of(tr, "sacked", "server")
    view.set_direction(s)
    iss = tr.conns[s].iss
    expected = []
    for t, uid in rows(tr, RECV, s)[:, [0, 4]]:
        for left, right in tr.packets[uid].segment.option(OPT_SACK) or ():
            expected.append((t, (left - iss) & MASK, (right - iss) & MASK))
    blocks = view.sack_blocks()
    got = list(zip(blocks["t"].tolist(), blocks["left"].tolist(), blocks["right"].tolist()))
    assert got == expected and len(got) >= 10
    x, y = view.curves["sack"].getOriginalDataset()
    assert len(x) == 2 * len(got) and (y[1::2] - y[0::2] == blocks["right"] - blocks["left"]).all()
    # retransmissions flagged exactly where SendReason says so, here by RFC 6675 and RFC 6582
    for conn, want in ((s, {SendReason.FAST_RETX, SendReason.SACK_RETX}),
                       (conn_of(tr, "plain", "server"),
                        {SendReason.FAST_RETX, SendReason.PARTIAL_ACK_RETX})):
        view.set_direction(conn)
        sent = rows(tr, SENT, conn)
        data = sent[sent[:, 7] > 0]
        reasons = [SendReason(d >> 16) for d in data[:, 8]]
        flags = view.segments()["retx"]
        assert list(flags) == [r in RETRANSMIT for r in reasons] and flags.sum() == 3
        assert {r for r, f in zip(reasons, flags) if f} == want
    # the same transfer without SACK (port 81) has no SACK blocks
    assert len(view.sack_blocks()["t"]) == 0


# ============================================================================ plots
def test_plots_follow_the_var_rows(bulk, qtbot):
    tr = bulk.trace
    ctx, view = show(PlotsView, tr, qtbot)
    s = conn_of(tr, "bulk", "client")
    assert view.direction() == s
    var = rows(tr, VAR, s)

    def expected(v: Var):
        r = var[var[:, 5] == int(v)]
        return last_per_instant(r[:, 0], r[:, 7].astype(float))

    t, cwnd = expected(Var.CWND)
    got_t, got = view.series("cwnd")
    assert (got_t == t).all() and (got == cwnd).all() and len(t) > 30
    for ti, vi in zip(t, cwnd):
        assert step_value(view.curves["cwnd"], ti) == vi
    # ssthresh: not drawn while "arbitrarily high" (RFC 5681 3.1), then the VAR values
    t, ss = expected(Var.SSTHRESH)
    got_t, got = view.series("ssthresh")
    assert np.isnan(got[0]) and ss[0] == 2**31 - 1
    assert (got[1:] == ss[1:]).all() and len(ss) == 3
    # SRTT and RTO in ms
    t, rto = expected(Var.RTO)
    assert (view.series("rto")[1] == rto / 1e6).all() and view.series("rto")[1][0] == 1000.0
    t, srtt = expected(Var.SRTT)
    got = view.series("srtt")[1]
    assert np.isnan(got[0]) and np.allclose(got[1:], srtt[1:] / 1e6)
    ctx.set_cursor(200_000_000)
    assert view.value_at("rto", 200_000_000) == 1000.0
    assert "1,000 ms" in view.plots["rto"].titleLabel.text
    assert f"{view.value_at('cwnd', 200_000_000):,.0f} B" in view.plots["window"].titleLabel.text


def test_plots_outstanding_bytes(bulk, qtbot):
    tr = bulk.trace
    ctx, view = show(PlotsView, tr, qtbot)
    s = view.direction()
    una = mx = None
    want: dict[int, float] = {}
    for t, a, c in rows(tr, VAR, s)[:, [0, 5, 7]].tolist():
        if a == int(Var.SND_UNA):
            una = c
        elif a == int(Var.SND_MAX):
            mx = c
        else:
            continue
        want[t] = float((mx - una) & MASK) if una is not None and mx is not None else np.nan
    t, v = view.series("outstanding")
    assert list(t) == list(want)
    assert np.allclose(v, list(want.values()), equal_nan=True)
    assert v.max() > 40_000 and v[-1] == 0       # a full window out; nothing left at the end


def test_goodput_integral_is_the_bytes_delivered(bulk, qtbot):
    tr = bulk.trace
    ctx, view = show(PlotsView, tr, qtbot)
    s = view.direction()
    r = conn_of(tr, "bulk", "server")
    delivered = rows(tr, DELIVER, r)[:, 5].sum()
    assert delivered == 300_000
    edges, rate, width = view.rates("goodput")
    assert width == nice_bin(ctx.end_time()) and np.allclose(np.diff(edges), width / 1e9)
    assert np.sum(rate / 8 * np.diff(edges)) == pytest.approx(delivered, abs=1e-6)
    sent = rows(tr, SENT, s)
    edges, rate, _ = view.rates("throughput")
    assert np.sum(rate / 8 * np.diff(edges)) == pytest.approx(sent[:, 7].sum(), abs=1e-6)
    assert sent[:, 7].sum() == 300_000 + 2 * 1448        # two segments sent twice
    x, y = view.curves["goodput"].getOriginalDataset()
    assert len(x) == len(y) + 1 and np.allclose(y, rate * 0 + view.rates("goodput")[1])


# ============================================================================ live and cursor
def test_incremental_feeding_equals_one_batch(qtbot):
    run = Run(load("sack"))
    live_ctx = TraceContext()
    tsg, plots = TimeSequenceView(live_ctx), PlotsView(live_ctx)
    qtbot.addWidget(tsg)
    qtbot.addWidget(plots)
    live_ctx.set_trace(run.trace)
    seen = batches = 0
    while not run.finished():
        run.run(until=run.now + 20_000_000)
        live_ctx.append(seen, len(run.trace), run.now)
        seen = len(run.trace)
        batches += 1
    assert batches > 100
    _, tsg1 = show(TimeSequenceView, run.trace, qtbot)
    _, plots1 = show(PlotsView, run.trace, qtbot)
    assert tsg.direction() == tsg1.direction() == plots.direction() == plots1.direction()
    for a, b in ((tsg.segments(), tsg1.segments()), (tsg.acks(), tsg1.acks()),
                 (tsg.sack_blocks(), tsg1.sack_blocks())):
        assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    for key in ("cwnd", "ssthresh", "outstanding", "srtt", "rttvar", "rto"):
        (t0, v0), (t1, v1) = plots.series(key), plots1.series(key)
        assert (t0 == t1).all() and np.array_equal(v0, v1, equal_nan=True)
    for key in ("throughput", "goodput"):
        (e0, r0, w0), (e1, r1, w1) = plots.rates(key), plots1.rates(key)
        assert w0 == w1 and np.allclose(e0, e1) and np.allclose(r0, r1)
    for k in ("data", "ack", "window", "sack", "retx"):
        (x0, y0), (x1, y1) = tsg.curves[k].getOriginalDataset(), tsg1.curves[k].getOriginalDataset()
        assert np.array_equal(x0, x1) and np.array_equal(y0, y1)
    # markers are added batch by batch (a scatter item's setData rebuilds every spot)
    for name in ("retx_mark", "dupack", "lost"):
        (x0, y0), (x1, y1) = tsg.markers[name].getData(), tsg1.markers[name].getData()
        assert len(x0) and np.array_equal(x0, x1) and np.array_equal(y0, y1), name


def test_cursor_lines_follow_and_dragging_moves_the_cursor(bulk, qtbot):
    tr = bulk.trace
    ctx = TraceContext()
    tsg, plots = TimeSequenceView(ctx), PlotsView(ctx)
    for w in (tsg, plots):
        qtbot.addWidget(w)
        w.resize(900, 500)
        w.show()
    ctx.set_trace(tr)
    ctx.append(0, len(tr), int(tr.t[len(tr) - 1]))
    qtbot.waitExposed(tsg)
    ctx.set_cursor(123_456_789)
    assert tsg.cursor_line.value() == pytest.approx(0.123456789)
    assert all(line.value() == pytest.approx(0.123456789) for line in plots.cursor_lines.values())
    assert "at 0.123457 s" in tsg.readout.text()
    # drag the TSG's line with the mouse: the shared cursor moves, and the plots' lines with it
    vb = tsg.plot.getViewBox()
    y_mid = sum(vb.viewRange()[1]) / 2
    a = tsg.graph.mapFromScene(vb.mapViewToScene(QPointF(0.123456789, y_mid)))
    b = tsg.graph.mapFromScene(vb.mapViewToScene(QPointF(0.25, y_mid)))
    qtbot.mousePress(tsg.graph.viewport(), Qt.LeftButton, pos=a)
    qtbot.mouseMove(tsg.graph.viewport(), (a + b) / 2)
    qtbot.mouseMove(tsg.graph.viewport(), b)
    qtbot.mouseRelease(tsg.graph.viewport(), Qt.LeftButton, pos=b)
    assert ctx.cursor / 1e9 == pytest.approx(0.25, abs=2 * vb.viewPixelSize()[0])
    assert not ctx.live
    assert all(line.value() == pytest.approx(ctx.cursor / 1e9) for line in plots.cursor_lines.values())
    # a click in a plot moves the cursor there
    pvb = plots.plots["rate"].getViewBox()
    p = plots.graph.mapFromScene(pvb.mapViewToScene(QPointF(0.1, sum(pvb.viewRange()[1]) / 2)))
    qtbot.mouseClick(plots.graph.viewport(), Qt.LeftButton, pos=p)
    assert ctx.cursor / 1e9 == pytest.approx(0.1, abs=2 * pvb.viewPixelSize()[0])
    assert tsg.cursor_line.value() == pytest.approx(ctx.cursor / 1e9)


def test_selection_both_ways(sack, qtbot):
    tr = sack.trace
    ctx = TraceContext()
    tsg, plots = TimeSequenceView(ctx), PlotsView(ctx)
    for w in (tsg, plots):
        qtbot.addWidget(w)
        w.resize(900, 500)
        w.show()
    ctx.set_trace(tr)
    ctx.append(0, len(tr), int(tr.t[len(tr) - 1]))
    qtbot.waitExposed(tsg)
    sacked, plain = conn_of(tr, "sacked", "server"), conn_of(tr, "plain", "server")
    tsg.set_direction(sacked)
    qtbot.wait(20)                           # the new range is applied when it is painted
    seg = tsg.segments()
    # clicking a retransmitted segment selects its packet for every view
    k = int(np.flatnonzero(seg["retx"])[0])
    x, y = seg["t"][k] / 1e9, seg["seq"][k] + seg["length"][k] / 2
    vb = tsg.plot.getViewBox()
    pos = tsg.graph.mapFromScene(vb.mapViewToScene(QPointF(x, y)))
    qtbot.mouseClick(tsg.graph.viewport(), Qt.LeftButton, pos=pos)
    assert ctx.selection.packet == seg["uid"][k] and ctx.selection.source == "tsg"
    assert ctx.selection.conn == sacked
    assert tsg.highlighted() == seg["uid"][k]
    # a packet selected elsewhere is highlighted: a data segment of the other server
    other = rows(tr, SENT, plain)
    uid = int(other[other[:, 7] > 0][4, 4])
    ctx.select(packet=uid, source="ladder")
    assert tsg.direction() == plain and plots.direction() == plain
    assert tsg.highlighted() == uid
    hx, hy = tsg.highlight_bar.getOriginalDataset()
    j = int(np.flatnonzero(tsg.segments()["uid"] == uid)[0])
    assert list(hy) == [tsg.segments()["seq"][j], tsg.segments()["seq"][j] + 500]
    # an ACK the client sent is drawn on the sender's side, on its ACK line
    acks = rows(tr, RECV, plain)
    ack_uid = int(acks[(acks[:, 8] >> 16) == int(RecvOutcome.DUP_ACK)][0, 4])
    ctx.select(packet=ack_uid, source="ladder")
    assert tsg.direction() == plain and tsg.highlighted() == ack_uid
    assert len(tsg.highlight_bar.getOriginalDataset()[0] or []) == 0
    assert len(tsg.markers["highlight"].data) == 1
    # picking a direction in the plots selects that connection, and the graph follows
    plots.box.setCurrentIndex(plots.box.findData(sacked))
    plots.box.activated.emit(plots.box.currentIndex())
    assert ctx.selection.conn == sacked and ctx.selection.source == "plots"
    assert plots.direction() == sacked and tsg.direction() == sacked


def test_views_render_in_both_themes(bulk, qtbot):
    tr = bulk.trace
    with QtMessages() as msgs:
        for cls in (TimeSequenceView, PlotsView):
            ctx, view = show(cls, tr, qtbot, batches=5)
            view.resize(900, 500)
            view.show()
            qtbot.waitExposed(view)
            # filled before it had its size, it now draws every point (a few hundred fit in
            # 900 pixels: no downsampling), so steps stay steps
            curve = view.curves["data" if cls is TimeSequenceView else "cwnd"]
            assert len(curve.getData()[0]) == len(curve.getOriginalDataset()[0]) > 70
            for theme in (LIGHT, DARK):
                view.set_theme(theme)
                img = view.graph.grab().toImage()
                assert distinct_colors(img) > 8
                assert dominant_color(img) == theme.base     # the plot background follows
            # a presenter mode scales the widget's font: ticks and labels follow it
            font = view.font()
            font.setPointSizeF(15)
            view.setFont(font)
            plot = view.plot if cls is TimeSequenceView else view.plots["window"]
            assert plot.getAxis("left").style["tickFont"].pointSizeF() == 15
            assert "15.0pt" in plot.getAxis("left").labelStyle["font-size"]
    assert msgs.messages == []


# ============================================================================ cost
def tabbed(qtbot, *views):
    """The views docked behind the tab of a label (as the window docks them by default):
    shown to Qt, but with nothing on screen."""
    win = QMainWindow()                      # no central widget: the docks fill it
    docks = []
    front = QDockWidget("front")
    front.setWidget(QLabel("in front"))
    win.addDockWidget(Qt.BottomDockWidgetArea, front)
    for view in views:
        dock = QDockWidget(view.title)
        dock.setWidget(view)
        win.addDockWidget(Qt.BottomDockWidgetArea, dock)
        win.tabifyDockWidget(front, dock)
        docks.append(dock)
    front.raise_()
    qtbot.addWidget(win)
    win.resize(1200, 800)
    with qtbot.waitExposed(win):
        win.show()
    return win, docks


def test_views_behind_a_tab_do_no_per_point_work(monkeypatch, qtbot):
    """Behind a tab the graphs take each batch into their state only: no curve, marker or
    range is touched (pyqtgraph's setData passes over every point, and a scatter spot is Python
    work per point), and the time-sequence graph decides no caps (pyqtgraph has not applied
    its range: the first, [0, 1], made every bar look tall, so that each batch built a cap for
    every segment sent). Raised, each catches up before its first paint and shows exactly
    what a graph fed in one batch shows."""
    run = Run(load("bulk", ["apps.bulk.bytes=300000"]))
    ctx = TraceContext()
    tsg, plots = TimeSequenceView(ctx), PlotsView(ctx)
    win, docks = tabbed(qtbot, tsg, plots)
    assert tsg.isVisible() and tsg.graph.viewport().visibleRegion().isEmpty()
    assert plots.isVisible() and plots.graph.viewport().visibleRegion().isEmpty()
    ours = {id(c) for v in (tsg, plots) for c in v.curves.values()} | {
        id(m) for m in tsg.markers.values()}
    set_data, spots = [], []
    original_set_data = pg.PlotDataItem.setData
    original_spots = pg.ScatterPlotItem.updateSpots

    def counting_set_data(item, *args, **kwargs):
        if id(item) in ours:
            set_data.append(item)
        return original_set_data(item, *args, **kwargs)

    def counting_spots(item, dataSet=None):
        spots.append(len(item.data if dataSet is None else dataSet))
        return original_spots(item, dataSet)

    ctx.set_trace(run.trace)
    decisions = tsg.cap_decisions
    monkeypatch.setattr(pg.PlotDataItem, "setData", counting_set_data)
    monkeypatch.setattr(pg.ScatterPlotItem, "updateSpots", counting_spots)
    seen = batches = 0
    while not run.finished():
        run.run(until=run.now + 100_000_000)
        ctx.append(seen, len(run.trace), run.now)
        seen = len(run.trace)
        batches += 1
        qtbot.wait(1)                        # the event loop runs: nothing is painted
    ctx.set_cursor(ctx.end_time() // 2)
    assert batches > 20 and len(tsg.segments()["t"]) == 210      # the state is whole
    assert set_data == [] and sum(spots) == 0
    assert tsg.cap_decisions == decisions and not tsg._caps
    assert tsg.catch_up.pending and plots.catch_up.pending
    assert tsg.plot.getViewBox().viewRange()[0] == [0, 1]        # never applied: not painted
    assert plots.value_at("throughput", 0) > 0
    monkeypatch.undo()

    # raised: caught up before the first paint, as if fed in one batch
    tr = run.trace
    ctx1, tsg1 = show(TimeSequenceView, tr, qtbot)
    _, plots1 = show(PlotsView, tr, qtbot)
    plots1.context.set_cursor(ctx.cursor)
    ctx1.set_cursor(ctx.cursor)
    for view, view1, dock in ((tsg, tsg1, docks[0]), (plots, plots1, docks[1])):
        dock.raise_()
        qtbot.waitUntil(lambda: not view.catch_up.pending)
        assert view.catch_up.catch_ups == 1
        for key, curve in view.curves.items():
            (x, y), (x1, y1) = curve.getOriginalDataset(), view1.curves[key].getOriginalDataset()
            assert np.array_equal(x, x1) and np.array_equal(y, y1, equal_nan=True), key
    for name, item in tsg.markers.items():
        assert np.array_equal(np.c_[item.getData()], np.c_[tsg1.markers[name].getData()]), name
    assert tsg.readout.text() == tsg1.readout.text()
    assert [p.titleLabel.text for p in plots.plots.values()] == [
        p.titleLabel.text for p in plots1.plots.values()]
    qtbot.waitUntil(lambda: tsg.cap_decisions > decisions)        # decided once on screen
    assert tsg.plot.getViewBox().viewRange()[0] != [0, 1] and tsg._caps is False


def test_tsg_caps_when_zoomed_in_on_screen_only(qtbot):
    run = Run(load("bulk", ["apps.bulk.bytes=300000"]))
    ctx = TraceContext()
    tsg = TimeSequenceView(ctx)
    win, (dock,) = tabbed(qtbot, tsg)
    front = next(d for d in win.findChildren(QDockWidget) if d is not dock)
    dock.raise_()
    ctx.set_trace(run.trace)
    seen = 0

    def feed(until: int) -> None:
        nonlocal seen
        run.run(until=until)
        ctx.append(seen, len(run.trace), run.now)
        seen = len(run.trace)

    feed(300_000_000)
    qtbot.waitUntil(lambda: tsg.on_screen() and not tsg.catch_up.pending)
    qtbot.waitUntil(lambda: tsg._caps is False)                   # zoomed out: plain bars
    seg = tsg.segments()
    t, lo = seg["t"][40] / 1e9, float(seg["seq"][40])
    tsg.plot.setRange(xRange=(t - 0.002, t + 0.002), yRange=(lo - 3000, lo + 6000), padding=0)
    assert tsg._caps is True                                      # 1448 bytes are > 14 px
    assert tsg.curves["data"].opts["symbol"] == "_"
    # behind a tab the caps go (nobody sees them) with the next batch ...
    front.raise_()
    qtbot.waitUntil(lambda: not tsg.on_screen())
    feed(600_000_000)
    assert tsg._caps is False and tsg.curves["data"].opts["symbol"] is None
    # ... and come back when it is raised
    dock.raise_()
    qtbot.waitUntil(lambda: tsg._caps is True)


def test_grid_is_drawn_once_behind_the_data(bulk, qtbot):
    """The grid: one item per plot below the data, at the axes' major and medium ticks, in two
    opaque colours of the theme; pyqtgraph's own blended grid is off. Its lines are computed
    again only when the range or the size changes."""
    tr = bulk.trace
    for cls in (TimeSequenceView, PlotsView):
        ctx, view = show(cls, tr, qtbot)
        view.resize(900, 500)
        with qtbot.waitExposed(view):
            view.show()
        grids = [view.grid] if cls is TimeSequenceView else list(view.grids.values())
        plots = [view.plot] if cls is TimeSequenceView else list(view.plots.values())
        for grid, plot in zip(grids, plots):
            vb = plot.getViewBox()
            assert plot.getAxis("left").grid is False and plot.getAxis("bottom").grid is False
            assert grid.parentItem() is vb and grid.zValue() < vb.childGroup.zValue()
            major, minor = grid.lines()
            (x0, x1), (y0, y1) = vb.viewRange()
            bottom, left = plot.getAxis("bottom"), plot.getAxis("left")
            xt = bottom.tickValues(x0, x1, bottom.geometry().width())     # the axis' ticks
            yt = left.tickValues(y0, y1, left.geometry().height())
            assert len(major) == len(xt[0][1]) + len(yt[0][1]) >= 4
            assert len(minor) == sum(len(v) for _, v in xt[1:2] + yt[1:2])
            vertical = sorted(ln.x1() for ln in major if ln.x1() == ln.x2())
            assert np.allclose(vertical, (np.asarray(xt[0][1]) - x0) * vb.width() / (x1 - x0))
        grid = grids[0]
        n = grid.rebuilds
        view.graph.viewport().repaint()
        view.graph.viewport().repaint()
        assert grid.rebuilds == n                        # same range and size: kept
        (x0, x1), _ = plots[0].getViewBox().viewRange()
        plots[0].setXRange(x0, (x0 + x1) / 2, padding=0)
        view.graph.viewport().repaint()
        assert grid.rebuilds == n + 1
        for theme in (LIGHT, DARK):
            view.set_theme(theme)
            img = view.graph.grab().toImage()
            base, muted = QColor(theme.base), QColor(theme.muted)
            major_pen, minor_pen = grid._pens
            for pen in (major_pen, minor_pen):
                c = pen.color()
                assert c.alpha() == 255
                # between the background and the muted colour, closer to the background
                for ch in ("red", "green", "blue"):
                    b, m, v = getattr(base, ch)(), getattr(muted, ch)(), getattr(c, ch)()
                    assert min(b, m) <= v <= max(b, m) and abs(v - b) <= abs(m - b) / 2
            # the grid's colour is on screen
            names = {img.pixelColor(x, y).name() for y in range(0, img.height(), 3)
                     for x in range(0, img.width(), 3)}
            assert major_pen.color().name() in names
