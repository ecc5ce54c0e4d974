"""Benchmark: every view of the lab window on a 100k-event trace.

Runs `bulk` with 8 MB (about 114,000 trace rows) headless and moves its objects out of the
collector's passes (``gc.freeze()``, as the controller's periodic freeze does in the app), then
measures each of the eight views (ladder, time-sequence graph, plots, narration log, buffers,
timers, state diagram, packet inspector), alone in a window of each size given (default 900x500
and 1600x900):

live     the trace grows as in a live run: a fresh trace object receives the finished run's
         rows in batches of about 2,000 (its connection and packet lists grow with them), and
         after each batch ``context.append(first, end, t_of_last_row)`` (the cursor follows the
         newest row). A frame is that call plus the paint: pending events are delivered (layout,
         the view's own ``update()``s, which Qt paints as the window would) and, when that did
         not paint the view's drawing area, ``repaint()`` of the whole view, so that every frame
         paints once. Printed: frames per second over the feed, median / 95th percentile /
         maximum frame time, and how much of the median is the update before any paint.
replay   one full load (the whole trace in one ``append``, as a replay opens it) and its paint,
         best of 2; then cursor moves to random earlier times (set + paint) and selections of
         random data packets (select + paint), median / maximum.

Then the whole window (``LabWindow`` on the same scenario, 1280x800 by default): the
controller runs the engine to the time of every ~2,000th row of the standalone run
(``controller.run_to``), which hands the batch to the canvas and every view, and a frame ends
after the paint (as above, for every view whose dock is in front, and the topology canvas).
The engine's own time (``Run.wall``) is printed apart, and so is the time each view spends in
its context slots (``_on_advanced``, ``_on_cursor``: wrapped with a timer) and the canvas in
taking the batch; the rest is paint and the event loop. It runs once per arrangement of the
three tab groups (left: ladder / time-sequence graph / plots / narration; right: buffers /
timers / state; beside the properties: the packet inspector, with a packet selected), so that
every view is painted while the others are docked and updated behind their tabs. Full passes
of the garbage collector inside the frames are counted.

The issue's target: every view at 30 frames per second or better with a 100k-event trace
(``<--`` marks a figure below it, or a frame longer than 100 ms). Run (about 25 s):

    QT_QPA_PLATFORM=offscreen python bench/bench_views.py [--bytes 8000000] [--batch 2000]
        [--sizes 900x500,1600x900] [--views ladder,tsg,...] [--no-window] [--profile VIEW]

``--profile VIEW`` prints a cProfile of that view's live feed (at the first size) instead;
``--profile window`` one of the window's feeds (all arrangements).
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TCPLAB_HOME", tempfile.mkdtemp(prefix="tcplab-bench-"))

from PySide6.QtCore import QEvent, QObject  # noqa: E402

TARGET_FPS = 30


def stats(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    fps = len(times) / sum(times)
    flag = "" if fps >= TARGET_FPS and times[-1] <= 1 / TARGET_FPS * 3 else "  <-- "
    if fps < TARGET_FPS:
        flag += f"below {TARGET_FPS} fps"
    elif times[-1] > 1 / TARGET_FPS * 3:
        flag += "slow frames"
    return (f"{len(times)} frames, {fps:6.1f} fps, median {statistics.median(times) * 1e3:6.1f} ms,"
            f" p95 {p95 * 1e3:6.1f} ms, max {times[-1] * 1e3:6.1f} ms{flag}")


def med_max(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1e3:6.1f} ms, max {max(times) * 1e3:6.1f} ms"


class GcTimer:
    """Time spent in the cyclic garbage collector's full (oldest generation) passes."""

    def __init__(self) -> None:
        self.spent = 0.0
        self.passes = 0
        self._t0 = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.spent += time.perf_counter() - self._t0
            self.passes += 1

    def take(self) -> float:
        spent, self.spent = self.spent, 0.0
        return spent

    def remove(self) -> None:
        gc.callbacks.remove(self._callback)


# ------------------------------------------------------------------------------ painting
class PaintCounter(QObject):
    """Counts paint events of one widget (to tell whether the event loop painted it)."""

    def __init__(self, widget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Paint:
            self.count += 1
        return False


def surface(key: str, view):
    """The widget a view draws its content on."""
    if key in ("tsg", "plots"):
        return view.graph.viewport()
    if key == "ladder":
        return view.canvas.viewport()
    if key == "narration":
        return view.table.viewport()
    if key in ("buffers", "timers", "state"):
        return view.body
    return view        # the inspector: a tree, a hex view and a table


def shown(widget) -> bool:
    """Whether any of ``widget`` is on screen (a dock behind another dock's tab still counts as
    visible to Qt, with an empty visible region)."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


class Painter:
    """Paints a set of views once per frame: what the event loop paints of their own updates,
    plus a forced ``repaint()`` of a view whose drawing area it did not paint."""

    def __init__(self, app) -> None:
        self.app = app
        self.targets: list = []

    def add(self, key: str, view, whole=None) -> None:
        self.targets.append((PaintCounter(surface(key, view)), whole or view))

    def __call__(self) -> None:
        before = [c.count for c, _ in self.targets]
        self.app.processEvents()
        for (counter, whole), n in zip(self.targets, before):
            if counter.count == n and shown(whole):
                whole.repaint()


# ------------------------------------------------------------------------------ a growing trace
class Feeder:
    """A fresh trace object that receives the rows of a finished one batch by batch, as the
    engine would have written them: connections and packets are added when a row first names
    them (the ConnInfo objects are the finished run's, with their ISNs already known)."""

    def __init__(self, full) -> None:
        from tcplab.trace.store import Trace
        self.full = full
        self.trace = Trace(nodes=full.nodes, node_kinds=full.node_kinds, links=full.links,
                           conns=[], packets=[], extra=full.extra, meta=full.meta)
        self._m = full.matrix()

    def feed(self, first: int, end: int) -> None:
        from tcplab.trace.store import NCOL
        m = self._m[first:end]
        tr, full = self.trace, self.full
        need_conns = int(m[:, 3].max()) + 1
        if need_conns > len(tr.conns):
            tr.conns.extend(full.conns[len(tr.conns):need_conns])
        need_pkts = int(max(m[:, 4].max(), -1)) + 1
        if need_pkts > len(tr.packets):
            tr.packets.extend(full.packets[len(tr.packets):need_pkts])
        tr._data.extend(full._data[first * NCOL:end * NCOL])


def data_packets(trace) -> list[int]:
    from tcplab.trace.events import EventKind
    m = trace.matrix()
    rows = (m[:, 1] == int(EventKind.SEG_SENT)) & (m[:, 7] > 0)
    return [int(u) for u in m[rows, 4]]


# ------------------------------------------------------------------------------ one view alone
def make_view(key: str, cls, ctx, size, app):
    view = cls(ctx)
    view.resize(*size)
    view.show()
    app.processEvents()
    return view


def row(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    return (f"{len(times) / sum(times):.0f} | {statistics.median(times) * 1e3:.1f} | "
            f"{p95 * 1e3:.1f} | {times[-1] * 1e3:.1f}")


def bench_view(key, cls, full, size, args, app, rng, profile=None) -> str | None:
    from tcplab.gui.context import TraceContext
    n = len(full)
    times = full.matrix()[:, 0]
    packets = data_packets(full)
    label = f"{key:<9} {size[0]:>4}x{size[1]:<3}"
    pad = " " * len(label)

    # -- live
    feeder = Feeder(full)
    ctx = TraceContext()
    view = make_view(key, cls, ctx, size, app)
    paint = Painter(app)
    paint.add(key, view)
    ctx.set_trace(feeder.trace)
    paint()
    frames: list[float] = []
    update: list[float] = []
    collector = GcTimer()
    if profile is not None:
        profile.enable()
    for first in range(0, n, args.batch):
        end = min(n, first + args.batch)
        feeder.feed(first, end)
        if key == "inspector" and first == 0:
            ctx.select(packet=packets[0], source="bench")     # what the inspector shows
            paint()
        t0 = time.perf_counter()
        ctx.append(first, end, int(times[end - 1]))
        t1 = time.perf_counter()
        paint()
        frames.append(time.perf_counter() - t0)
        update.append(t1 - t0)
    if profile is not None:
        profile.disable()
        collector.remove()
        view.close()
        return None
    collector.remove()
    print(f"{label} live: {stats(frames)}")
    print(f"{pad}       update before the paint: {med_max(update)}")
    if collector.passes:
        print(f"{pad}       full garbage-collector passes: {collector.passes}, "
              f"{collector.spent * 1e3:.0f} ms (inside the frames)")
    view.close()
    view.deleteLater()

    # -- replay: a full load, then cursor moves and selections
    loads = []
    for k in range(2):
        ctx2 = TraceContext()
        view2 = make_view(key, cls, ctx2, size, app)
        paint2 = Painter(app)
        paint2.add(key, view2)
        t0 = time.perf_counter()
        ctx2.set_trace(full)
        ctx2.append(0, n, int(times[-1]))
        paint2()
        loads.append(time.perf_counter() - t0)
        if k == 0:
            view2.close()
            view2.deleteLater()
    print(f"{pad} replay: full load ({n:,} rows) and its paint: best {min(loads) * 1e3:.0f} ms")
    if key == "inspector":
        ctx2.select(packet=packets[len(packets) // 2], source="bench")
        paint2()
    end_t = int(times[-1])
    moves = []
    for _ in range(args.moves):
        t0 = time.perf_counter()
        ctx2.set_cursor(rng.randrange(end_t))
        paint2()
        moves.append(time.perf_counter() - t0)
    picks = []
    for _ in range(args.picks):
        t0 = time.perf_counter()
        ctx2.select(packet=rng.choice(packets), source="bench")
        paint2()
        picks.append(time.perf_counter() - t0)
    print(f"{pad}         cursor move (set + paint): {med_max(moves)}")
    print(f"{pad}         packet selection (select + paint): {med_max(picks)}")
    view2.close()
    view2.deleteLater()
    app.processEvents()
    return (f"| {key} | {size[0]}x{size[1]} | {row(frames)} | {min(loads) * 1e3:.0f} | "
            f"{statistics.median(moves) * 1e3:.1f} / {max(moves) * 1e3:.1f} | "
            f"{statistics.median(picks) * 1e3:.1f} / {max(picks) * 1e3:.1f} |")


# ------------------------------------------------------------------------------ the window
class SlotTimer:
    """Adds up the wall time each view spends in its context slots (new rows, cursor moves)
    and the canvas in taking a batch, by wrapping those methods on the classes before the
    window connects them. ``take()`` returns the time per key since the last call."""

    SLOTS = ("_on_advanced", "_on_cursor")

    def __init__(self, classes: dict) -> None:
        from tcplab.gui.canvas import TopologyScene
        self.spent: dict[str, float] = {key: 0.0 for key in list(classes) + ["canvas"]}
        self._undo = []
        targets = [(key, cls, self.SLOTS) for key, cls in classes.items()]
        targets.append(("canvas", TopologyScene, ("consume",)))
        for key, cls, names in targets:
            for name in names:
                self._wrap(key, cls, name)

    def _wrap(self, key, cls, name) -> None:
        original = getattr(cls, name)
        own = cls.__dict__.get(name)
        spent = self.spent

        def timed(obj, *args):
            t0 = time.perf_counter()
            try:
                return original(obj, *args)
            finally:
                spent[key] += time.perf_counter() - t0

        setattr(cls, name, timed)
        self._undo.append((cls, name, own))

    def take(self) -> dict[str, float]:
        out = dict(self.spent)
        for key in self.spent:
            self.spent[key] = 0.0
        return out

    def remove(self) -> None:
        for cls, name, own in reversed(self._undo):
            if own is None:
                delattr(cls, name)
            else:
                setattr(cls, name, own)


def bench_window(args, full, app, classes, profile=None) -> None:
    from tcplab.gui.mainwindow import VIEWS, LabWindow
    from tcplab.scenario.document import ScenarioDocument
    n = len(full)
    times = full.matrix()[:, 0]
    stops = [int(times[min(n, first + args.batch) - 1]) for first in range(0, n, args.batch)]
    packets = data_packets(full)
    w, h = (int(v) for v in args.window.split("x"))
    left = ("ladder", "tsg", "plots", "narration")
    right = ("buffers", "timers", "state")
    print(f"window {w}x{h}: engine run to the time of every {args.batch:,}th row, then the "
          f"paint of the canvas and every visible dock")
    all_views: list[float] = []
    slots = SlotTimer(classes)
    collector = GcTimer()
    for k, front in enumerate(left):
        doc = ScenarioDocument.from_builtin("bulk")
        doc.set_value(("apps", "bulk", "bytes"), args.bytes)
        win = LabWindow(doc, autosave=False)
        win.resize(w, h)
        win.show()
        app.processEvents()
        # What exists before the run (this window, what earlier ones left) stays out of the
        # collector's passes, as after the controller's first gc.freeze() in the app.
        gc.collect()
        gc.freeze()
        raised = (front, right[k % len(right)], "inspector")
        for key in raised:
            win.docks[key].raise_()
        app.processEvents()
        paint = Painter(app)
        for key, _module, _cls in VIEWS:
            paint.add(key, win.views[key], win.docks[key])
        visible = [key for key, *_ in VIEWS if shown(win.views[key])]
        run = win.controller.run
        frames, engine, parts, collected = [], [], [], []
        selected = False
        if profile is not None:
            profile.enable()
        slots.take()
        collector.take()
        passes = collector.passes
        for i, stop in enumerate(stops):
            wall0 = run.wall
            t0 = time.perf_counter()
            win.controller.run_to(stop)
            paint()
            win.view.viewport().repaint()     # the topology canvas, as bench_gui.py does
            frames.append(time.perf_counter() - t0)
            engine.append(run.wall - wall0)
            parts.append(slots.take())
            collected.append(collector.take())
            if not selected and len(run.trace.packets) > packets[0]:
                win.context.select(packet=packets[0], source="bench")   # the inspector's packet
                selected = True
            if (i + 1) % 30 == 0:
                gc.freeze()          # the controller does this every 30 frames while playing
        if profile is not None:
            profile.disable()
        views_only = [f - e for f, e in zip(frames, engine)]
        all_views.extend(views_only)
        print(f"  visible: {', '.join(visible)} ({len(run.trace):,} rows at the end)")
        print(f"    frame (engine + views + paint): {stats(frames)}")
        print(f"    without the engine's own time:  {stats(views_only)}")
        per_key = {key: [p[key] for p in parts] for key in parts[0]}
        updates = [sum(p.values()) for p in parts]
        rest = [f - u for f, u in zip(views_only, updates)]
        share = ", ".join(f"{key} {statistics.median(v) * 1e3:.1f}/{max(v) * 1e3:.0f}"
                          for key, v in per_key.items())
        print(f"    updates, median/max ms a frame: {share}")
        print(f"    paint and the rest (window, event loop): {med_max(rest)}")
        if collector.passes > passes:
            print(f"    full garbage-collector passes: {collector.passes - passes}, "
                  f"{sum(collected) * 1e3:.0f} ms in all, the longest {max(collected) * 1e3:.0f} ms"
                  f" (inside the figures above)")
        win.controller.pause()
        win.close()
        win.deleteLater()
        app.processEvents()
        gc.unfreeze()
    slots.remove()
    collector.remove()
    print(f"  all arrangements, without the engine: {stats(all_views)}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bytes", type=int, default=8_000_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--sizes", default="900x500,1600x900")
    ap.add_argument("--window", default="1280x800")
    ap.add_argument("--views", default="", help="comma-separated keys (default: all eight)")
    ap.add_argument("--moves", type=int, default=30)
    ap.add_argument("--picks", type=int, default=10)
    ap.add_argument("--no-window", action="store_true", help="skip the whole-window part")
    ap.add_argument("--profile", default="", help="cProfile this view's live feed")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    import importlib
    from tcplab.gui.mainwindow import VIEWS
    from tcplab.scenario import load
    from tcplab.scenario.runner import Run

    run = Run(load("bulk", [f"apps.bulk.bytes={args.bytes}"]))
    run.run()
    full = run.trace
    # The run's objects (packets above all) stay out of the collector's passes, as they are
    # after the controller's periodic gc.freeze() in the app.
    gc.collect()
    gc.freeze()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",") if s]
    wanted = [k for k in args.views.split(",") if k] or [k for k, *_ in VIEWS]
    classes = {k: getattr(importlib.import_module(m), c) for k, m, c in VIEWS}
    print(f"bulk, {args.bytes:,} bytes: {len(full):,} trace rows, {len(full.packets):,} packets,"
          f" {len(full.conns)} connections; batches of {args.batch:,} rows; target "
          f"{TARGET_FPS} fps (33 ms a frame)")
    rng = random.Random(args.seed)
    if args.profile:
        import cProfile
        import pstats
        prof = cProfile.Profile()
        if args.profile == "window":
            bench_window(args, full, app, classes, prof)
        else:
            bench_view(args.profile, classes[args.profile], full, sizes[0], args, app, rng, prof)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return 0
    t_start = time.perf_counter()
    table = []
    for key in wanted:
        for size in sizes:
            table.append(bench_view(key, classes[key], full, size, args, app, rng))
    if not args.no_window:
        bench_window(args, full, app, classes)
    if table:
        print("\nAs a table (live: fps | median | p95 | max ms; full load ms; cursor move and "
              "selection: median / max ms):")
        print("| view | size | live fps | median | p95 | max | full load | cursor move | "
              "selection |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        print("\n".join(table))
    print(f"(bench wall time {time.perf_counter() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
