"""Benchmark: seeking anywhere in a run of about a million trace events (engine snapshots).

Runs ``bulk`` with enough bytes for a million trace rows twice, once plainly and once under a
:class:`~tcplab.session.rewind.Rewinder` (snapshots on), and prints the cost of taking
snapshots, how many there are and the memory they hold. Then it seeks to random moments
(seeded) and prints the seek times: restoring the nearest snapshot, rewinding the trace and
re-running up to the moment. Each seek is checked against the straight run's rows. Run:

    python bench/bench_rewind.py [--bytes N] [--seeks N] [--every N]

Figures are printed, never asserted (target: seek anywhere in at most 200 ms). The window adds
its views' rebuild from the rewound trace on top (bench/README.md).
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
