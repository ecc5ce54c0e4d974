"""Benchmark: save and open a session of about a million trace events.

Runs ``bulk`` with enough bytes for a million trace rows (checked), saves it as a ``.tcplab``
session and opens it again (a complete Trace, fingerprint checked), and prints the times, the
file size and the members' sizes. Run:

    python bench/bench_session.py [--bytes N] [--repeat N] [--keep FILE]

Figures are printed, never asserted (target: open a one-million-event session in at most 2 s).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from tcplab.scenario import builtin_scenarios, load
from tcplab.scenario.runner import Run
from tcplab.session import load_session, save_session

TARGET_ROWS = 1_000_000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bytes", type=int, default=75_000_000,
                    help="bytes the bulk transfer sends (75 MB gives about 1.06 M rows)")
    ap.add_argument("--repeat", type=int, default=3, help="save and open this many times")
    ap.add_argument("--keep", metavar="FILE", help="write the session here and keep it")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    run = Run(load("bulk", [f"apps.bulk.bytes={args.bytes}"]))
    run.run()
    rows = len(run.trace)
    print(f"bulk {args.bytes} bytes: {rows} trace events, {len(run.trace.packets)} packets, "
          f"{len(run.trace.extra)} extra values (run {time.perf_counter() - t0:.1f} s)")
    if rows < TARGET_ROWS:
        print(f"  warning: fewer than {TARGET_ROWS} rows; pass a larger --bytes")
    # The text is the built-in file's; the bytes override only matters for replay, not timing.
    text = builtin_scenarios()["bulk"].read_text()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "bulk.tcplab"
        saves, opens = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            save_session(path, text, run)
            saves.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            session = load_session(path)
            opens.append(time.perf_counter() - t0)
            assert len(session.trace) == rows
            assert session.trace.fingerprint() == run.trace.fingerprint()
            del session
        size = path.stat().st_size
        with zipfile.ZipFile(path) as zf:
            members = [(i.filename, i.file_size, i.compress_size) for i in zf.infolist()]
    print(f"  save  {min(saves):.2f} s (best of {args.repeat}; all: "
          f"{', '.join(f'{s:.2f}' for s in saves)})")
    print(f"  open  {min(opens):.2f} s (best of {args.repeat}; all: "
          f"{', '.join(f'{s:.2f}' for s in opens)})  target <= 2 s")
    print(f"  file  {size / 2**20:.1f} MB for {rows * 72 / 2**20:.1f} MB of event columns")
    for name, full, packed in members:
        print(f"    {name:<20} {full / 2**20:9.2f} MB -> {packed / 2**20:7.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
