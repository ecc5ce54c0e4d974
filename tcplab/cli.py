"""The ``tcplab`` command.

    tcplab run SCENARIO|FILE [--seed N] [--set KEY=VALUE ...] [--until SECONDS]
               [--pcap OUT] [--capture NODE] [--record FILE] [--summary] [--verbose]
               [--max-lines N]
    tcplab run --list
    tcplab export SESSION [--pcap OUT [--capture NODE]] [--csv OUT] [--json OUT]
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
    r.add_argument("--record", metavar="FILE",
                   help="save the run as a session file (.tcplab): scenario, seed, trace")
    r.add_argument("--summary", action="store_true", help="print one JSON object instead of the ladder")
    r.add_argument("--verbose", action="store_true", help="show every trace event")
    r.add_argument("--max-lines", type=int, default=4000, metavar="N",
                   help="stop printing the ladder after N lines (default 4000; 0 = no limit)")
    e = sub.add_parser("export", help="write a session's capture or events to files",
                       description="Export a recorded session (tcplab run ... --record FILE): a "
                                   "pcapng capture, every event as CSV or as JSON. Several "
                                   "outputs may be given at once.")
    e.add_argument("session", help="a session file (.tcplab)")
    e.add_argument("--pcap", metavar="OUT", help="write a pcapng capture to OUT")
    e.add_argument("--capture", metavar="NODE",
                   help="node to capture at (default: the host that opens the first connection)")
    e.add_argument("--csv", metavar="OUT",
                   help="write every event as a CSV row (time, kind, node, connection, packet, "
                        "fields a-d, narration)")
    e.add_argument("--json", metavar="OUT",
                   help="write every event as a JSON object, after a header (scenario, seed)")
    return p


COMMANDS = ("run", "export")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        return _gui(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "export":
            return cmd_export(args)
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
    """``tcplab`` or ``tcplab FILE``: the lab window, on a scenario or a session (``.tcplab``).
    A file that cannot be opened is reported here, before any window appears."""
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
            if path.endswith(".tcplab"):
                from tcplab.session import load_session
                load_session(path)          # raises SessionError, a ValueError
            else:
                ScenarioDocument.from_file(path, partial=True)
        except (ScenarioError, ValueError) as e:
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
        _check_output("--pcap", args.pcap)
        capture_node = _capture_node(run, args.capture)
    elif args.capture:
        raise CliError("--capture needs --pcap OUT")
    if args.record:
        _check_output("--record", args.record)
        _distinct_outputs([("--pcap", args.pcap), ("--record", args.record)])
    until = ns_from_seconds(args.until) if args.until is not None else None
    run.run(until)
    trace = run.trace
    if args.pcap:
        from tcplab.session.export import write_capture
        n = _write("--pcap", args.pcap, write_capture, trace, capture_node)
    if args.record:
        from tcplab.session import SessionError, save_session
        try:
            _write("--record", args.record, save_session, _scenario_text(scenario, args.set), run)
        except SessionError as e:
            raise CliError(f"--record {args.record}: {e}") from None
    if args.summary:
        print(json.dumps(run.summary(), indent=2))
        return 0
    _print_ladder(run, args)
    if args.pcap:
        print(f"\ncapture at {trace.nodes[capture_node]}: {n} packets written to {args.pcap}")
    if args.record:
        print(f"session ({len(trace)} events) written to {args.record}")
    return 0


def cmd_export(args) -> int:
    from tcplab.session import SessionError, load_session
    from tcplab.session.export import write_capture, write_csv, write_json

    outputs = [(option, value) for option, value in
               (("--pcap", args.pcap), ("--csv", args.csv), ("--json", args.json)) if value]
    if not outputs:
        raise CliError("export needs at least one output: --pcap OUT, --csv OUT or --json OUT")
    if args.capture and not args.pcap:
        raise CliError("--capture needs --pcap OUT")
    for option, value in outputs:
        _check_output(option, value)
    _distinct_outputs(outputs + [("the session", args.session)])
    try:
        session = load_session(args.session)
    except SessionError as e:
        raise CliError(str(e)) from None
    trace = session.trace
    if args.pcap:
        node = _capture_node(session, args.capture)
        n = _write("--pcap", args.pcap, write_capture, trace, node)
        print(f"capture at {trace.nodes[node]}: {n} packets written to {args.pcap}")
    if args.csv:
        n = _write("--csv", args.csv, write_csv, trace)
        print(f"{n} events written to {args.csv}")
    if args.json:
        header = {"scenario": session.scenario.name, "title": session.scenario.title,
                  "seed": session.seed, "session": Path(args.session).name}
        n = _write("--json", args.json, write_json, trace, header)
        print(f"{n} events written to {args.json}")
    return 0


def _check_output(option: str, value: str) -> None:
    """Refuse an output path that cannot be written, before any work is done."""
    path = Path(value)
    if path.is_dir():
        raise CliError(f"{option} {value}: is a directory")
    if not path.parent.exists():
        raise CliError(f"{option} {value}: folder {path.parent} does not exist")


def _distinct_outputs(paths: list[tuple[str, str | None]]) -> None:
    seen: dict[Path, str] = {}
    for option, value in paths:
        if not value:
            continue
        key = Path(value).resolve()
        if key in seen:
            raise CliError(f"{seen[key]} and {option} name the same file {value}")
        seen[key] = option


def _write(option: str, value: str, write, *args):
    """``write(value, *args)``, an OSError reported as ``OPTION FILE: reason``."""
    try:
        return write(value, *args)
    except OSError as e:
        raise CliError(f"{option} {value}: {e.strerror or e}") from None


def _scenario_text(scenario, overrides: list[str]) -> str:
    """The scenario exactly as run, for a session: the file's own text when nothing was
    overridden (comments kept), else the overridden table written out as TOML."""
    from tcplab.scenario import ScenarioError, loads
    from tcplab.scenario.document import ScenarioDocument
    if not overrides:
        try:
            text = Path(scenario.source).read_text(encoding="utf-8")
            if loads(text, scenario.source, name=scenario.name).raw == scenario.raw:
                return text
        except (OSError, UnicodeDecodeError, ScenarioError):
            pass        # changed or gone since it was read: write what was run
    return ScenarioDocument(scenario.raw).to_toml()


def _capture_node(source, name: str | None) -> int:
    """The node ``--capture`` names in ``source`` (a Run or a loaded Session: its ``trace`` and
    ``scenario``), by default the client of the scenario's first application (else of the
    first connection in the trace, else node 0)."""
    trace = source.trace
    if name is None:
        for app in source.scenario.apps:
            if app.client in trace.nodes:
                return trace.nodes.index(app.client)
        for info in trace.conns:
            if info.role == "client":
                return info.node
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
