"""Benchmark: frame time of the lab window while a bulk transfer animates.

Runs the window offscreen on the `bulk` scenario at several speeds for a few wall seconds each
and prints, per speed, the frame times (engine slice + trace batch + canvas update + paint) as
median / 95th percentile / maximum. The issue's target is at most 16 ms per frame. Run:

    QT_QPA_PLATFORM=offscreen python bench/bench_gui.py [--seconds 3]

Figures are printed, never asserted: see bench/README.md for the recorded ones.
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--scenario", default="bulk")
    args = ap.parse_args(argv)
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from tcplab.gui.controller import SPEEDS, speed_label
    from tcplab.gui.mainwindow import LabWindow
    from tcplab.scenario.document import ScenarioDocument
    w = LabWindow(ScenarioDocument.from_builtin(args.scenario), autosave=False)
    w.resize(1280, 800)
    w.show()
    app.processEvents()
    c = w.controller
    frames: list[float] = []
    original = c._tick

    def timed_tick():
        t0 = time.perf_counter()
        original()
        w.view.viewport().repaint()    # paint now, inside the measured frame
        frames.append(time.perf_counter() - t0)

    c._timer.timeout.disconnect()
    c._timer.timeout.connect(timed_tick)
    print(f"{args.scenario}: frame time while animating (engine slice + views + paint), "
          f"{args.seconds:g} s per speed")
    print(f"  {'speed':>6} {'frames':>7} {'median':>8} {'p95':>8} {'max':>8} {'sim s':>8}")
    for speed in (0.1, 1.0, 10.0, None):
        c.restart()
        w.set_speed(speed)
        frames.clear()
        c.play()
        end = time.perf_counter() + args.seconds
        while time.perf_counter() < end and c.playing:
            app.processEvents()
            time.sleep(0.001)
        c.pause()
        if not frames:
            continue
        ms = sorted(f * 1000 for f in frames)
        p95 = ms[int(0.95 * (len(ms) - 1))]
        print(f"  {speed_label(speed):>6} {len(ms):>7} {statistics.median(ms):>7.2f}m "
              f"{p95:>7.2f}m {ms[-1]:>7.2f}m {c.now / 1e9:>8.3f}")
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
