"""Benchmark: the `bulk` scenario headless, with the full trace kept as the GUI keeps it.

Prints sender data segments per wall second, events per second, trace size and memory. Run:

    python bench/bench_bulk.py [--bytes N] [--seed N] [--repeat N]

Figures are printed, never asserted: see bench/README.md for the recorded ones.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from tcplab.scenario import load
from tcplab.scenario.runner import Run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bytes", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--set", action="append", default=[])
    args = ap.parse_args(argv)
    best = None
    for _ in range(args.repeat):
        scenario = load("bulk", [f"apps.bulk.bytes={args.bytes}", *args.set])
        run = Run(scenario, seed=args.seed)
        t0 = time.perf_counter()
        run.run()
        wall = time.perf_counter() - t0
        s = run.summary()
        sender = next(c for c in s["connections"] if c["role"] == "client")
        segs = sender["data_segments_sent"]
        row = dict(wall=wall, segs=segs, seg_rate=segs / wall,
                   events=run.net.sched.events_processed, ev_rate=run.net.sched.events_processed / wall,
                   trace=len(run.trace), trace_mb=run.trace.nbytes() / 2**20,
                   sim=run.now / 1e9, retx=sender["retransmissions"]["total"],
                   done=sender["completion_time"])
        if best is None or row["wall"] < best["wall"]:
            best = row
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    b = best
    print(f"bulk {args.bytes} bytes, seed {args.seed} (best of {args.repeat})")
    print(f"  wall time              {b['wall']:.2f} s   (simulated {b['sim']:.2f} s)")
    print(f"  sender data segments   {b['segs']}  -> {b['seg_rate']:,.0f} segments per wall second")
    print(f"  scheduler events       {b['events']}  -> {b['ev_rate']:,.0f} events per wall second")
    print(f"  trace events           {b['trace']}  ({b['trace_mb']:.1f} MB of columns)")
    print(f"  retransmissions        {b['retx']}")
    print(f"  peak RSS               {rss:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
