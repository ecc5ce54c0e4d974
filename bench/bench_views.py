"""Benchmark: the time-sequence graph and the plots on a 100k-event trace.

Runs `bulk` with 8 MB (about 114,000 trace rows) headless, then feeds the trace to the two
views as a live run would: batches of about 2,000 rows, each followed by the cursor moving to
the batch's last time (the context does that while live) and a forced repaint of the view
(``repaint()`` of the pyqtgraph widgets inside the measured frame). Prints, per view, frames
per second over the whole feed and the median / 95th percentile / maximum frame time; then the
cost of one full load (the whole trace in one batch, as a replay opens it, including the
paint), and of a cursor move in replay (set the cursor, repaint). The issue's target: 30 fps or
better with a 100k-event trace. Run:

    QT_QPA_PLATFORM=offscreen python bench/bench_views.py [--bytes 8000000] [--batch 2000]

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TCPLAB_HOME", tempfile.mkdtemp(prefix="tcplab-bench-"))

from PySide6.QtCore import QEvent, QObject  # noqa: E402


def stats(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    return (f"{len(times)} frames, {len(times) / sum(times):6.1f} fps, median "
            f"{statistics.median(times) * 1e3:5.1f} ms, p95 {p95 * 1e3:5.1f} ms, "
            f"max {times[-1] * 1e3:5.1f} ms")


class PaintCounter(QObject):
    """Counts paint events of a widget (to make sure a frame paints exactly once)."""

    def __init__(self, widget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Paint:
            self.count += 1
        return False


def paint(view, app) -> None:
    """Deliver what is pending (layout, the scene's update) and make sure the plot area is
    painted once, inside the measured frame."""
    counter = view._bench_paints
    before = counter.count
    app.processEvents()
    if counter.count == before:
        view.graph.viewport().repaint()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bytes", type=int, default=8_000_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--width", type=int, default=900)
    ap.add_argument("--height", type=int, default=500)
    args = ap.parse_args(argv)
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from tcplab.gui.context import TraceContext
    from tcplab.gui.views.plots import PlotsView
    from tcplab.gui.views.tsg import TimeSequenceView
    from tcplab.scenario import load
    from tcplab.scenario.runner import Run

    run = Run(load("bulk", [f"apps.bulk.bytes={args.bytes}"]))
    run.run()
    trace = run.trace
    n = len(trace)
    times = trace.matrix()[:, 0]
    print(f"bulk, {args.bytes:,} bytes: {n:,} trace rows, {len(trace.packets):,} packets; "
          f"views at {args.width}x{args.height}")

    for cls in (TimeSequenceView, PlotsView):
        # -- live: batches of rows, the cursor following
        ctx = TraceContext()
        view = cls(ctx)
        view._bench_paints = PaintCounter(view.graph.viewport())
        view.resize(args.width, args.height)
        view.show()
        app.processEvents()
        ctx.set_trace(trace)
        frames: list[float] = []
        update: list[float] = []
        for first in range(0, n, args.batch):
            end = min(n, first + args.batch)
            t0 = time.perf_counter()
            ctx.append(first, end, int(times[end - 1]))
            t1 = time.perf_counter()
            paint(view, app)
            frames.append(time.perf_counter() - t0)
            update.append(t1 - t0)
        print(f"{cls.__name__:>17} live, {args.batch:,}-row batches: {stats(frames)}")
        print(f"{'':>17}   of which the update alone: median "
              f"{statistics.median(update) * 1e3:.1f} ms, max {max(update) * 1e3:.1f} ms")
        # -- replay: one full load, then cursor moves
        loads = []
        for _ in range(3):
            ctx2 = TraceContext()
            view2 = cls(ctx2)
            view2._bench_paints = PaintCounter(view2.graph.viewport())
            view2.resize(args.width, args.height)
            view2.show()
            app.processEvents()
            t0 = time.perf_counter()
            ctx2.set_trace(trace)
            ctx2.append(0, n, int(times[-1]))
            paint(view2, app)
            loads.append(time.perf_counter() - t0)
            view2.close()
            view2.deleteLater()
        print(f"{'':>17} one full load ({n:,} rows) and its paint: best {min(loads) * 1e3:.0f} ms")
        moves = []
        end_t = int(times[-1])
        for k in range(1, 41):
            t0 = time.perf_counter()
            ctx.set_cursor(end_t * k // 41)
            paint(view, app)
            moves.append(time.perf_counter() - t0)
        print(f"{'':>17} cursor move in replay (set + repaint): median "
              f"{statistics.median(moves) * 1e3:.1f} ms, max {max(moves) * 1e3:.1f} ms")
        view.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
