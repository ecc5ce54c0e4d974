"""The Buffers, Timers and State views: what they show at the cursor is what the trace says."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from guikit import QtMessages, distinct_colors

from PySide6.QtCore import QPointF  # noqa: E402

from tcplab.gui.context import TraceContext  # noqa: E402
from tcplab.gui.theme import DARK, LIGHT  # noqa: E402
from tcplab.gui.views.buffers import BuffersView  # noqa: E402
from tcplab.gui.views.statediagram import FIGURE_5, StateView  # noqa: E402
from tcplab.gui.views.timers import FLASH_NS, TimersView  # noqa: E402
from tcplab.scenario import load  # noqa: E402
from tcplab.scenario.runner import Run  # noqa: E402
from tcplab.trace.events import EventKind, TcpState, TimerKind  # noqa: E402
from tcplab.trace.narrate import Narrator  # noqa: E402
from tcplab.trace.snapshot import SnapshotTracker, receiver_map, sender_map  # noqa: E402

SHOTS = Path(os.environ["TCPLAB_SHOTS"]) if os.environ.get("TCPLAB_SHOTS") else None
MASK = 0xFFFFFFFF


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TCPLAB_HOME", str(tmp_path / "home"))


def replay(qtbot, View, name: str, size=(900, 500)):
    """A view showing the finished run of scenario ``name`` (replay: the whole trace at once)."""
    run = Run(load(name))
    run.run()
    ctx = TraceContext()
    view = View(ctx)
    qtbot.addWidget(view)
    view.resize(*size)
    ctx.set_trace(run.trace)
    ctx.append(0, len(run.trace), run.now)
    return run, ctx, view


def role(trace, which: str) -> int:
    return next(c.id for c in trace.conns if c.role == which)


# ------------------------------------------------------------------------------------ buffers
def test_receiver_map_holds_exactly_the_trace_out_of_order_ranges(qtbot):
    run, ctx, view = replay(qtbot, BuffersView, "reorder")
    trace = run.trace
    server, client = role(trace, "server"), role(trace, "client")
    held = [int(i) for i in trace.indices(EventKind.OOO) if trace.a[i] > 0]
    row = held[-1]
    ctx.set_cursor(trace.t[row])
    ctx.select(conn=server, source="ladder")
    assert view.conn == server
    d = view.direction_from(server)
    assert d.receiver == client
    ooo = [(d.rcv.absolute(a), d.rcv.absolute(b)) for a, b in d.rcv.of_kind("ooo")]
    assert ooo == list(trace.extra[row]) == [(1501, 2501)]
    # the bytes before them are missing (a hole from RCV.NXT), the first 500 were read
    assert d.rcv.of_kind("hole") == [(501, 1001)]
    assert d.rcv.of_kind("read") == [(1, 501)]
    assert d.rcv.markers["RCV.NXT"] == 501
    # the sender has all 2000 bytes in flight: SND.UNA at 1, SND.NXT at 2001
    assert d.snd.of_kind("in_flight") == [(1, 2001)]
    assert (d.snd.markers["SND.UNA"], d.snd.markers["SND.NXT"]) == (1, 2001)
    assert d.lo <= 1 and d.hi >= 2001
    # drawn: a tooltip over the held bytes gives both numberings
    view.canvas.grab()
    tips = [text for _r, text in view.canvas._hits if text.startswith("received out of order")]
    assert tips == ["received out of order, held until the gap fills\n1000 bytes: relative "
                    "1001–2000\nsequence numbers 1501–2500"]
    rect = next(r for r, text in view.canvas._hits if text == tips[0])
    assert view.canvas.tooltip_at(rect.center()) == tips[0]
    marker = next(text for _r, text in view.canvas._hits if text.startswith("RCV.NXT"))
    assert marker.startswith("RCV.NXT = 501 (sequence number 1001)")
    # the other direction: the client's 40-byte request, acknowledged and read
    back = view.direction_from(client)
    assert back.snd.of_kind("acked") == [(1, 41)] and back.rcv.of_kind("read") == [(1, 41)]


def test_buffers_follow_live_batches_and_the_cursor_going_back(qtbot):
    run = Run(load("reorder"))
    ctx = TraceContext()
    view = BuffersView(ctx)
    qtbot.addWidget(view)
    view.resize(900, 500)
    ctx.set_trace(run.trace)
    seen = 0
    history = []
    t = 0
    while t < 110_000_000:
        t += 5_000_000
        run.run(until=t)
        ctx.append(seen, len(run.trace), run.now)
        seen = len(run.trace)
        if len(run.trace.conns) < 2:
            continue
        srv = role(run.trace, "server")
        ctx.select(conn=srv, source="test")
        fresh = SnapshotTracker(run.trace).at(ctx.rows_until(t))
        d = view.direction_from(srv)
        if d is None:
            continue
        iss = run.trace.conns[srv].iss
        assert d.snd == sender_map(fresh.conn(srv), iss)
        assert d.rcv == receiver_map(fresh.conn(d.receiver), iss)
        history.append((t, d.snd, d.rcv))
    kinds = {sp.kind for _t, _s, r in history for sp in r.spans}
    assert {"read", "ooo", "hole"} <= kinds, "the run shows reading, holding and a hole"
    # back in time: each earlier picture comes back
    for t, snd, rcv in reversed(history[::3]):
        ctx.set_cursor(t)
        d = view.direction_from(role(run.trace, "server"))
        assert (d.snd, d.rcv) == (snd, rcv)


# ------------------------------------------------------------------------------------- timers
def test_rto_bar_reaches_zero_when_the_timer_expires(qtbot):
    run, ctx, view = replay(qtbot, TimersView, "loss")
    trace = run.trace
    (expire,) = [int(i) for i in trace.indices(EventKind.TIMER_EXPIRE)]
    conn, t_exp = trace.conn[expire], trace.t[expire]
    arm = max(int(i) for i in trace.indices(EventKind.TIMER_ARM)
              if i < expire and trace.conn[i] == conn and trace.a[i] == TimerKind.RTO)
    ctx.select(conn=conn, source="test")

    def bar(t):
        ctx.set_cursor(t)
        return [r for r in view.rows(conn) if r.arm_row == arm]

    for before in (trace.t[arm], t_exp - 500_000_000, t_exp - 1):
        (b,) = bar(before)
        assert b.remaining == t_exp - before > 0 and not b.expired
        assert b.title == "Retransmission timer (RTO)" and b.duration == 1_000_000_000
        assert "double the RTO (RFC 6298 5.4-5.6)" in b.sentence
    (b,) = bar(t_exp)
    assert b.remaining == 0 and b.expired and b.fraction == 0.0 and b.flash == 1.0
    assert b.narration == Narrator(trace).explain(expire)
    # the re-armed timer runs next to it, backed off once with twice the timeout
    again = [r for r in view.rows(conn) if r.kind == TimerKind.RTO and not r.expired]
    assert [(r.backoff, r.remaining, r.duration) for r in again] == [(1, 2_000_000_000,
                                                                      2_000_000_000)]
    view.canvas.grab()
    # the flash is over after FLASH_NS of simulated time
    assert bar(t_exp + FLASH_NS - 1)[0].flash > 0
    assert bar(t_exp + FLASH_NS) == []
    assert [r.arm_row for r in view.rows(conn)] == \
        [t.row for t in view.snapshot.conn(conn).timer_list()]


def test_timers_during_time_wait(qtbot):
    run, ctx, view = replay(qtbot, TimersView, "close")
    trace = run.trace
    client, server = role(trace, "client"), role(trace, "server")
    arm = next(e for e in trace.events(kinds={EventKind.TIMER_ARM})
               if e.conn == client and e.timer == TimerKind.TIME_WAIT)
    ctx.select(conn=client, source="test")
    ctx.set_cursor(1_000_000_000)
    model = {cid: (s.state, rows) for cid, s, rows in view.model()}
    state, rows = model[client]
    assert state == TcpState.TIME_WAIT
    assert [(r.kind, r.remaining, r.duration, r.deadline) for r in rows] == [
        (TimerKind.TIME_WAIT, arm.deadline - 1_000_000_000, 2_000_000_000, arm.deadline)]
    assert "RFC 9293 3.6" in rows[0].sentence and "CLOSED" in rows[0].sentence
    assert model[server] == (TcpState.CLOSED, [])
    assert 0.6 < rows[0].fraction < 0.7
    # 2*MSL later the connection is deleted: a flash, then nothing
    ctx.set_cursor(arm.deadline)
    (row,) = view.rows(client)
    assert row.expired and row.kind == TimerKind.TIME_WAIT and "TIME-WAIT" in row.narration
    ctx.set_cursor(arm.deadline + FLASH_NS)
    assert view.rows(client) == []
    assert view.model()[0][1].state == TcpState.CLOSED


# -------------------------------------------------------------------------------------- state
def test_handshake_diagram_shows_syn_sent_then_established_for_the_client(qtbot):
    run = Run(load("handshake"))
    ctx = TraceContext()
    view = StateView(ctx)
    qtbot.addWidget(view)
    view.resize(900, 500)
    ctx.set_trace(run.trace)
    seen, states = 0, []
    t = 0
    while not run.finished() and t < 100_000_000:
        t += 2_000_000
        run.run(until=t)
        ctx.append(seen, len(run.trace), run.now)
        seen = len(run.trace)
        if run.trace.conns:
            client = role(run.trace, "client")
            ctx.select(conn=client, source="test")
            first = view.diagrams()[0]
            assert first.conn == client
            if not states or states[-1][0] != first.state:
                states.append((first.state, first, t))
    assert [s for s, _d, _t in states] == [TcpState.SYN_SENT, TcpState.ESTABLISHED]
    syn_sent, established = states[0][1], states[1][1]
    assert syn_sent.box == "SYN_SENT" and syn_sent.last.label == "active OPEN / create TCB, snd SYN"
    assert syn_sent.cause.what == "call" and "OPEN" in syn_sent.cause.text
    assert established.box == "ESTABLISHED"
    assert established.last.label == "rcv SYN,ACK / snd ACK" and established.last.in_figure
    synack = run.trace.packets[established.cause.uid].segment
    assert established.cause.received and synack.flags & 0x12 == 0x12
    assert f"packet #{established.cause.uid}" in established.cause.text
    # back in time: SYN-SENT again; the label of the transition taken is drawn
    ctx.set_cursor(states[0][2])
    assert view.diagrams()[0].state == TcpState.SYN_SENT
    view.canvas.grab()
    assert syn_sent.last in view.canvas.labels_drawn


def test_state_diagram_at_every_state_row(qtbot):
    run, ctx, view = replay(qtbot, StateView, "close", size=(1600, 900))
    trace = run.trace
    rows = [int(i) for i in trace.indices(EventKind.STATE)]
    for i in rows:
        later_same_instant = [j for j in rows if j > i and trace.conn[j] == trace.conn[i]
                              and trace.t[j] == trace.t[i]]
        if later_same_instant:
            continue               # the diagram shows the last change of an instant
        ctx.select(conn=trace.conn[i], source="test")
        ctx.set_cursor(trace.t[i])
        d = view.diagrams()[0]
        assert (d.conn, d.state, d.row) == (trace.conn[i], TcpState(trace.b[i]), i)
        assert d.last.src == TcpState(trace.a[i]).name
    # at presentation size every transition of the figure is labelled
    view.canvas.grab()
    assert view.canvas.all_labels and set(FIGURE_5) <= set(view.canvas.labels_drawn)
    # the end: the server's LAST-ACK -> CLOSED lands on the figure's bottom CLOSED box
    ctx.select(conn=role(trace, "server"), source="test")
    ctx.set_cursor(trace.t[len(trace) - 1])
    d = view.diagrams()[0]
    assert d.box == "CLOSED_END" and d.last.label == "rcv ACK of FIN / x"
    assert d.cause.received and "ACK" in d.cause.text


def test_a_new_transition_is_animated_along_its_arrow(qtbot):
    run, ctx, view = replay(qtbot, StateView, "handshake")
    view._anim.setDuration(200)              # as in the window, only quicker
    view.show()
    qtbot.waitExposed(view)
    trace = run.trace
    client = role(trace, "client")
    ctx.select(conn=client, source="test")
    established = next(int(i) for i in trace.indices(EventKind.STATE)
                       if trace.conn[i] == client and trace.b[i] == TcpState.ESTABLISHED)
    ctx.set_cursor(trace.t[established] - 1)
    qtbot.waitUntil(lambda: view.phase(client) == 1.0, timeout=3000)
    ctx.set_cursor(trace.t[established])
    assert view.diagrams()[0].row == established
    assert view.phase(client) < 1.0, "the change starts an animation"
    qtbot.waitUntil(lambda: view.phase(client) == 1.0, timeout=3000)
    ctx.set_cursor(trace.t[established] + 1)      # same state: no new animation
    assert view.phase(client) == 1.0


# ------------------------------------------------------------------------------- shared bits
def test_selection_picker_and_themes(qtbot):
    run = Run(load("reorder"))
    run.run()
    ctx = TraceContext()
    views = [V(ctx) for V in (BuffersView, TimersView, StateView)]
    for v in views:
        qtbot.addWidget(v)
    ctx.set_trace(run.trace)
    ctx.append(0, len(run.trace), run.now)
    ctx.set_cursor(42_500_000)
    server = role(run.trace, "server")
    ctx.select(conn=server, source="ladder")
    assert all(v.conn == server and v.picker.currentData() == server for v in views)
    # picking in one view selects the connection everywhere, marked as coming from it
    got = []
    ctx.selectionChanged.connect(got.append)
    views[0].picker.setCurrentIndex(views[0].picker.findData(1 - server))
    assert got[-1].conn == 1 - server and got[-1].source == "buffers"
    assert views[1].conn == views[2].conn == 1 - server
    with QtMessages() as msgs:
        for theme in (LIGHT, DARK):
            for v in views:
                v.set_theme(theme)
                for size in ((900, 500), (1600, 900)):
                    v.resize(*size)
                    v.show()
                    img = v.grab().toImage()
                    assert distinct_colors(img, 5) > 8, (v.title, theme.name, size)
                    if SHOTS is not None:
                        img.save(str(SHOTS / f"{v.title.lower()}-{theme.name}-{size[0]}.png"))
                    assert v.body.font().pointSizeF() >= 9
    assert msgs.messages == []
    assert [v.title for v in views] == ["Buffers", "Timers", "State"]


def test_views_before_any_connection_and_after_a_reset(qtbot):
    ctx = TraceContext()
    views = [V(ctx) for V in (BuffersView, TimersView, StateView)]
    for v in views:
        qtbot.addWidget(v)
        v.resize(600, 400)
    run = Run(load("handshake"))
    ctx.set_trace(run.trace)
    for v in views:
        assert v.conn is None and not v.picker.isEnabled()
        v.grab()
    run.run()
    ctx.append(0, len(run.trace), run.now)
    assert all(v.conn == 0 and v.picker.count() == 2 for v in views)
    ctx.set_trace(None)
    assert all(v.snapshot is None and v.conn is None for v in views)


def test_cursor_moves_on_a_bulk_trace_stay_interactive(qtbot):
    run = Run(load("bulk"))
    run.run()
    ctx = TraceContext()
    views = [V(ctx) for V in (BuffersView, TimersView, StateView)]
    for v in views:
        qtbot.addWidget(v)
        v.resize(900, 500)
    ctx.set_trace(run.trace)
    ctx.append(0, len(run.trace), run.now)
    end = ctx.end_time()
    rng = random.Random(4)
    worst = 0.0
    for _ in range(20):
        t0 = time.perf_counter()
        ctx.set_cursor(rng.randrange(end))
        for v in views:
            v.grab()                      # renders the whole view, painted or not
        worst = max(worst, time.perf_counter() - t0)
    print(f"\nbulk, {len(run.trace)} rows: worst cursor move with three views rendered "
          f"{worst * 1000:.1f} ms")
    assert worst < 0.5
