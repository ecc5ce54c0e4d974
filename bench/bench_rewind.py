"""Benchmark: seeking anywhere in a run of about a million trace events (engine snapshots).

Runs ``bulk`` with enough bytes for a million trace rows twice, once plainly and once under a
:class:`~tcplab.session.rewind.Rewinder` (snapshots on), and prints the cost of taking
snapshots, how many there are and the memory they hold. Then it seeks to random moments
(seeded) and prints the seek times: restoring the nearest snapshot, rewinding the trace and
re-running up to the moment. Each seek is checked against the straight run's rows. Run:

    python bench/bench_rewind.py [--bytes N] [--seeks N] [--every N] [--gui]

With ``--gui`` it also opens the lab window (offscreen, 1280x800, default docks) on the same
run and times seeks there: the engine's part plus the views starting over from the rewound
trace, until the window has repainted.

Figures are printed, never asserted (target: seek anywhere in at most 200 ms).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

from tcplab.scenario import load
from tcplab.scenario.runner import Run
from tcplab.session.rewind import DEFAULT_EVERY, Rewinder


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bytes", type=int, default=75_000_000,
                    help="bytes the bulk transfer sends (75 MB gives about 1.06 M rows)")
    ap.add_argument("--seeks", type=int, default=40, help="random seeks to time")
    ap.add_argument("--every", type=int, default=DEFAULT_EVERY,
                    help="engine events between snapshots at the start")
    ap.add_argument("--scenario", default="bulk")
    ap.add_argument("--gui", action="store_true", help="also time seeks in the lab window")
    args = ap.parse_args(argv)
    overrides = [f"apps.bulk.bytes={args.bytes}"] if args.scenario == "bulk" else []
    sc = load(args.scenario, overrides)

    t0 = time.perf_counter()
    plain = Run(sc)
    plain.run()
    t_plain = time.perf_counter() - t0
    rows = len(plain.trace)
    end = plain.now
    times = plain.trace.matrix()[:, 0]

    t0 = time.perf_counter()
    rw = Rewinder(Run(sc), every=args.every)
    rw.advance(sc.duration)
    t_rw = time.perf_counter() - t0
    assert rw.run.trace.fingerprint() == plain.trace.fingerprint()
    events = rw.events
    print(f"{args.scenario}: {rows} trace rows, {events} engine events, simulated "
          f"{end / 1e9:.1f} s")
    print(f"  plain run {t_plain:.2f} s; with snapshots {t_rw:.2f} s "
          f"({100 * (t_rw / t_plain - 1):+.1f}%)")
    print(f"  snapshots: {len(rw.snapshots)}, every {rw.every} events, "
          f"{rw.nbytes / 2**20:.1f} MiB")

    rng = random.Random(7)
    spent = []
    for _ in range(args.seeks):
        t = rng.randrange(0, end)
        t0 = time.perf_counter()
        rw.seek(t)
        spent.append(time.perf_counter() - t0)
        n = len(rw.run.trace)
        assert n == int((times <= t).sum()) or times[n - 1] <= t   # rows up to t exactly
        assert rw.run.trace.matrix(n - 1, n).tolist() == plain.trace.matrix(n - 1, n).tolist()
    spent_ms = sorted(1000 * s for s in spent)
    print(f"  {len(spent)} random seeks: median {statistics.median(spent_ms):.0f} ms, "
          f"90th {spent_ms[int(0.9 * len(spent_ms)) - 1]:.0f} ms, max {spent_ms[-1]:.0f} ms")
    t0 = time.perf_counter()
    rw.step_back()
    print(f"  step back one event: {1000 * (time.perf_counter() - t0):.0f} ms")
    if args.gui:
        window_seeks(sc, args.seeks)
    return 0


def window_seeks(sc, seeks: int) -> None:
    """Seeks in the lab window: controller.seek, then events processed and a repaint."""
    import os
    import tempfile
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["TCPLAB_HOME"] = tempfile.mkdtemp(prefix="tcplab-bench-")
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication([])
    from tcplab.gui.mainwindow import LabWindow
    w = LabWindow()
    w.resize(1280, 800)
    w.show()
    c = w.controller
    c.load(sc)
    c.run_to(sc.duration)
    app.processEvents()
    w.repaint()
    end = c.run.now
    rng = random.Random(11)
    spent = []
    for _ in range(seeks):
        t = rng.randrange(0, end)
        t0 = time.perf_counter()
        c.seek(t)
        app.processEvents()
        w.repaint()
        app.processEvents()
        spent.append(1000 * (time.perf_counter() - t0))
    spent.sort()
    print(f"  window, {len(spent)} random seeks (engine + views + repaint): median "
          f"{statistics.median(spent):.0f} ms, max {spent[-1]:.0f} ms")
    w.close()


if __name__ == "__main__":
    sys.exit(main())
