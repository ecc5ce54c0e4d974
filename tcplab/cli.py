"""The ``tcplab`` command.

    tcplab run SCENARIO|FILE [--seed N] [--set KEY=VALUE ...] [--until SECONDS]
               [--pcap OUT] [--capture NODE] [--summary] [--verbose] [--max-lines N]
    tcplab run --list
    tcplab [SCENARIO|FILE]          open the lab window (default: the first lesson)
    tcplab --version

Every error ends the program with a non-zero status and one line on stderr saying what is wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tcplab import __version__

EXIT_USAGE = 2
EXIT_ERROR = 1


class CliError(Exception):
    """A problem to report in one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line, exit status 2
        self.exit(EXIT_USAGE, f"tcplab: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tcplab", description="A visual lab for TCP.")
    p.add_argument("--version", action="version", version=f"tcplab {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    r = sub.add_parser("run", help="run a scenario headless and print what TCP did",
                       description="Run a scenario without the GUI. Without --summary it prints a "
                                   "ladder diagram with the narration of every decision.")
    r.add_argument("scenario", nargs="?", help="built-in scenario name or path to a .toml file")
    r.add_argument("--list", action="store_true", help="list the built-in scenarios")
    r.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario value by dotted path, e.g. links.r1-r2.loss=0.02, "
                        "tcp.min_rto=0.2, hosts.client.isn=100, apps.bulk.bytes=1000000")
    r.add_argument("--until", type=float, metavar="SECONDS",
                   help="simulated seconds to run (default: the scenario's duration)")
    r.add_argument("--pcap", metavar="OUT", help="write a pcapng capture to OUT")
    r.add_argument("--capture", metavar="NODE",
                   help="node to capture at (default: the host that opens the first connection)")
    r.add_argument("--summary", action="store_true", help="print one JSON object instead of the ladder")
    r.add_argument("--verbose", action="store_true", help="show every trace event")
    r.add_argument("--max-lines", type=int, default=4000, metavar="N",
                   help="stop printing the ladder after N lines (default 4000; 0 = no limit)")
    return p


COMMANDS = ("run",)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        return _gui(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return cmd_run(args)
        parser.print_help()
        return 0
    except CliError as e:
        print(f"tcplab: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("tcplab: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: still one line, the traceback on request
        if os.environ.get("TCPLAB_DEBUG"):
            raise
        print(f"tcplab: internal error: {type(e).__name__}: {e} (set TCPLAB_DEBUG=1 for the "
              f"traceback, and please report it)", file=sys.stderr)
        return EXIT_ERROR


def _gui(argv: list[str]) -> int:
    """``tcplab`` or ``tcplab FILE``: the lab window. A file that cannot be opened is reported
    here, before any window appears."""
    if len(argv) > 1:
        print(f"tcplab: error: unexpected arguments after {argv[0]!r}: {' '.join(argv[1:])} "
              "(to run headless: tcplab run SCENARIO ...)", file=sys.stderr)
        return EXIT_USAGE
    path = builtin_name = None
    if argv:
        from tcplab.scenario import ScenarioError, builtin_scenarios
        from tcplab.scenario.document import ScenarioDocument
        name = argv[0]
        builtin = builtin_scenarios()
        path = str(builtin[name]) if name in builtin and not Path(name).exists() else name
        try:
            ScenarioDocument.from_file(path, partial=True)
        except ScenarioError as e:
            print(f"tcplab: error: {e}", file=sys.stderr)
            return EXIT_ERROR
        if name in builtin and not Path(name).exists():
            path, builtin_name = None, name
    try:
        from tcplab.gui.app import main as gui_main
    except ImportError as e:
        print(f"tcplab: error: the GUI needs PySide6 ({e}); the headless command still works: "
              "tcplab run SCENARIO", file=sys.stderr)
        return EXIT_ERROR
    return gui_main(path, builtin=builtin_name)


def cmd_run(args) -> int:
    from tcplab.scenario import ScenarioError, builtin_scenarios, load
    from tcplab.scenario.runner import Run
    from tcplab.sim.clock import ns_from_seconds
    from tcplab.net.network import TopologyError

    if args.list:
        for name, path in builtin_scenarios().items():
            try:
                title = load(str(path)).title
            except ScenarioError as e:
                title = f"(invalid: {e})"
            print(f"{name:<16} {title}")
        return 0
    if not args.scenario:
        raise CliError("run needs a scenario name or file (see: tcplab run --list)")
    if args.until is not None and not args.until > 0:
        raise CliError(f"--until must be a positive number of seconds, got {args.until}")
    if args.max_lines < 0:
        raise CliError("--max-lines must not be negative")
    if args.seed is not None and args.seed < 0:
        raise CliError("--seed must not be negative")
    try:
        scenario = load(args.scenario, args.set)
        run = Run(scenario, seed=args.seed)
    except (ScenarioError, TopologyError) as e:
        raise CliError(str(e)) from None
    capture_node = None
    if args.pcap:
        capture_node = _capture_node(run, args.capture)
        out_path = Path(args.pcap)
        if out_path.is_dir():
            raise CliError(f"--pcap {args.pcap}: is a directory")
        if not out_path.parent.exists():
            raise CliError(f"--pcap {args.pcap}: folder {out_path.parent} does not exist")
    elif args.capture:
        raise CliError("--capture needs --pcap OUT")
    until = ns_from_seconds(args.until) if args.until is not None else None
    run.run(until)
    trace = run.trace
    if args.pcap:
        from tcplab.trace.capture import write_pcapng
        tmp = out_path.with_name(out_path.name + ".part")
        try:
            with open(tmp, "wb") as f:
                n = write_pcapng(trace, capture_node, f)
            tmp.replace(out_path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise CliError(f"--pcap {args.pcap}: {e.strerror or e}") from None
    if args.summary:
        print(json.dumps(run.summary(), indent=2))
        return 0
    _print_ladder(run, args)
    if args.pcap:
        print(f"\ncapture at {trace.nodes[capture_node]}: {n} packets written to {args.pcap}")
    return 0


def _capture_node(run, name: str | None) -> int:
    trace = run.trace
    if name is None:
        for info in trace.conns:
            if info.role == "client":
                return info.node
        for app in run.apps:
            return app.client.id
        return 0
    if name not in trace.nodes:
        raise CliError(f"--capture {name}: unknown node; nodes: {', '.join(trace.nodes)}")
    return trace.nodes.index(name)


def _print_ladder(run, args) -> None:
    from tcplab.trace.ladder import Ladder
    sc = run.scenario
    out = sys.stdout
    out.write(f"{sc.title}  [{sc.name}, seed {run.seed}]\n")
    if sc.description:
        for line in sc.description.strip().splitlines():
            out.write(f"  {line}\n")
    out.write("\n")
    ladder = Ladder(run.trace, verbose=args.verbose)
    limit = args.max_lines or None
    count = 0
    for line in ladder.header():
        out.write(line + "\n")
    total = 0
    for line in ladder.lines():
        total += 1
        if limit is None or count < limit:
            out.write(line + "\n")
            count += 1
    if limit is not None and total > count:
        out.write(f"... {total - count} more lines not shown (--max-lines 0 shows all; "
                  f"--summary gives totals)\n")
    s = run.summary()
    out.write("\n")
    for c in s["connections"]:
        retx = c["retransmissions"]["total"]
        out.write(f"{c['host']:>10} {c['local']:>21} -> {c['remote']:<21} {c['final_state']:<12} "
                  f"sent {c['bytes_written']} B, received {c['bytes_delivered']} B, "
                  f"{c['data_segments_sent']} data segments, {retx} retransmitted\n")
    t = s["totals"]
    out.write(f"{t['events_processed']} events in {t['simulated_seconds']:.6f} simulated seconds "
              f"({t['wall_seconds']:.3f} s of wall time)\n")


if __name__ == "__main__":
    sys.exit(main())
