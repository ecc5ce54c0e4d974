"""Memory: how much a one-million-event trace costs, with its packets (target: under 300 MB).

Runs `bulk` until the trace holds at least 1,000,000 events and prints the process's peak
resident memory, the event columns' size and the packets kept. Figures only, no assertion.

    python bench/bench_memory.py [--events N]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from tcplab.scenario import load
from tcplab.scenario.runner import Run
from tcplab.sim.clock import SEC


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    base = rss_mb()
    run = Run(load("bulk", ["apps.bulk.bytes=1000000000"]))
    t0 = time.perf_counter()
    while len(run.trace) < args.events:
        run.run(until=run.now + 1 * SEC)
    wall = time.perf_counter() - t0
    tr = run.trace
    payload = sum(len(p.segment.payload) for p in tr.packets)
    print(f"trace events        {len(tr):,} after {run.now / 1e9:.1f} simulated s ({wall:.1f} s wall)")
    print(f"event rows          {tr.nbytes() / 2**20:.1f} MB ({tr.nbytes() / len(tr):.0f} bytes per event)")
    print(f"packets kept        {len(tr.packets):,} ({payload / 2**20:.1f} MB of payload)")
    print(f"peak RSS            {rss_mb():.0f} MB (interpreter and libraries before the run: {base:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
