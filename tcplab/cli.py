"""The ``tcplab`` command.

    tcplab run SCENARIO|FILE [--seed N] [--set KEY=VALUE ...] [--until SECONDS]
               [--pcap OUT] [--capture NODE] [--record FILE] [--summary] [--verbose]
               [--max-lines N]
    tcplab run --list
    tcplab export SESSION [--pcap OUT [--capture NODE]] [--csv OUT] [--json OUT]
                  [--figure VIEW=OUT ...] [--gif OUT] [--mp4 OUT] [--view VIEW]
                  [--from SECONDS] [--to SECONDS] [--speed X] [--fps N] [--size WxH]
                  [--scale X] [--theme light|dark] [--no-clock]
    tcplab [SCENARIO|FILE]          open the lab window (default: the first lesson)
    tcplab --version

Every error ends the program with a non-zero status and one line on stderr saying what is wrong.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from tcplab import __version__

EXIT_USAGE = 2
EXIT_ERROR = 1


#: The views figures and movies can show: the canvas and the window's docked views (the same
#: list as tcplab.gui.media.view_names(), kept here to check options without importing Qt).
MEDIA_VIEWS = ("topology", "ladder", "tsg", "plots", "narration", "buffers", "timers", "state",
               "inspector")
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
#: Smallest and largest figure or movie frame (as tcplab.gui.media.MIN_SIZE, MAX_SIZE).
MEDIA_MIN_SIZE, MEDIA_MAX_SIZE = (160, 120), (3840, 2160)


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
    e = sub.add_parser("export", help="write a session's capture, events, figures or movies",
                       description="Export a recorded session (tcplab run ... --record FILE): a "
                                   "pcapng capture, every event as CSV or as JSON, pictures of "
                                   "the views (PNG, SVG, PDF) and movies of the run replayed "
                                   "(GIF, MP4). Several outputs may be given at once. Figures "
                                   "and movies are drawn offscreen: no display is needed.")
    e.add_argument("session", help="a session file (.tcplab)")
    e.add_argument("--pcap", metavar="OUT", help="write a pcapng capture to OUT")
    e.add_argument("--capture", metavar="NODE",
                   help="node to capture at (default: the host that opens the first connection)")
    e.add_argument("--csv", metavar="OUT",
                   help="write every event as a CSV row (time, kind, node, connection, packet, "
                        "fields a-d, narration)")
    e.add_argument("--json", metavar="OUT",
                   help="write every event as a JSON object, after a header (scenario, seed)")
    g = e.add_argument_group("figures and movies (see docs/export.md)")
    g.add_argument("--figure", action="append", default=[], metavar="VIEW=OUT",
                   help="write a picture of VIEW at the end of the run (or at --to) to OUT, "
                        ".png, .svg or .pdf; may be repeated. Views: " + ", ".join(MEDIA_VIEWS))
    g.add_argument("--gif", metavar="OUT", help="write an animated GIF of the run replayed")
    g.add_argument("--mp4", metavar="OUT", help="write an MP4 video (H.264) of the run replayed")
    g.add_argument("--view", metavar="VIEW",
                   help="the view a movie shows (default: topology, the network with its packets)")
    g.add_argument("--from", dest="start", type=float, metavar="SECONDS",
                   help="simulated time a movie starts at (default 0)")
    g.add_argument("--to", dest="end", type=float, metavar="SECONDS",
                   help="simulated time a movie ends at, and the moment figures show (default: "
                        "the end of the session)")
    g.add_argument("--speed", type=float, metavar="X",
                   help="simulated seconds per second of movie (default: 0.05, the window's, "
                        "or faster or slower to make a movie of 5 to 30 s)")
    g.add_argument("--fps", type=int, metavar="N",
                   help="movie frames per second (default: 20 for a GIF, 30 for an MP4)")
    g.add_argument("--size", metavar="WxH",
                   help="size in pixels of figures (default 1200x750) and movies (default "
                        "800x450 for a GIF, 1280x720 for an MP4)")
    g.add_argument("--scale", type=float, metavar="X",
                   help="PNG pixels per view pixel (default 2, for sharp slides)")
    g.add_argument("--theme", choices=("light", "dark"), default="light",
                   help="colours of figures and movies (default light)")
    g.add_argument("--no-clock", dest="clock", action="store_false",
                   help="movies without the strip that shows the title and simulated time")
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

    figures = [_figure_option(text) for text in args.figure]
    movies = [(option, value) for option, value in (("--gif", args.gif), ("--mp4", args.mp4))
              if value]
    outputs = [(option, value) for option, value in
               (("--pcap", args.pcap), ("--csv", args.csv), ("--json", args.json)) if value]
    outputs += [("--figure", out) for _view, out in figures] + movies
    if not outputs:
        raise CliError("export needs at least one output: --pcap OUT, --csv OUT, --json OUT, "
                       "--figure VIEW=OUT, --gif OUT or --mp4 OUT")
    if args.capture and not args.pcap:
        raise CliError("--capture needs --pcap OUT")
    media = _media_options(args, bool(figures), bool(movies))
    for option, value in outputs:
        _check_output(option, value)
    _distinct_outputs(outputs + [("the session", args.session)])
    try:
        session = load_session(args.session)
    except SessionError as e:
        raise CliError(str(e)) from None
    trace = session.trace
    node = _capture_node(session, args.capture) if args.pcap else None
    draw = _MediaExport(session, media, figures, movies) if figures or movies else None
    # every option is checked: now write
    if args.pcap:
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
    if draw is not None:
        draw.write()
    return 0


def _figure_option(text: str) -> tuple[str, str]:
    """``--figure VIEW=OUT`` checked: a known view and a picture suffix."""
    view, sep, out = text.partition("=")
    view = view.strip()
    if not sep or not view or not out:
        raise CliError(f"--figure {text}: give VIEW=OUT, e.g. ladder=ladder.svg")
    if view not in MEDIA_VIEWS:
        raise CliError(f"--figure {text}: unknown view {view!r}; views: {', '.join(MEDIA_VIEWS)}")
    if Path(out).suffix.lower() not in FIGURE_SUFFIXES:
        raise CliError(f"--figure {text}: {out} must end in .png, .svg or .pdf")
    return view, out


def _media_options(args, figures: bool, movies: bool) -> dict:
    """The figure and movie options, checked without Qt: one line naming the option."""
    movie_only = [("--view", args.view), ("--from", args.start), ("--speed", args.speed),
                  ("--fps", args.fps), ("--no-clock", None if args.clock else True)]
    for option, value in movie_only:
        if value is not None and not movies:
            raise CliError(f"{option} is for movies: it needs --gif OUT or --mp4 OUT")
    for option, value in (("--to", args.end), ("--size", args.size),
                          ("--theme", None if args.theme == "light" else args.theme)):
        if value is not None and not (figures or movies):
            raise CliError(f"{option} is for figures and movies: it needs --figure VIEW=OUT, "
                           f"--gif OUT or --mp4 OUT")
    if args.scale is not None and not figures:
        raise CliError("--scale is for figures: it needs --figure VIEW=OUT")
    for option, out, suffix in (("--gif", args.gif, ".gif"), ("--mp4", args.mp4, ".mp4")):
        if out and Path(out).suffix.lower() != suffix:
            raise CliError(f"{option} {out}: the file name must end in {suffix}")
    view = args.view if args.view is not None else "topology"
    if view not in MEDIA_VIEWS:
        raise CliError(f"--view {view}: unknown view; views: {', '.join(MEDIA_VIEWS)}")
    for option, value in (("--from", args.start), ("--to", args.end)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise CliError(f"{option} must be a time in seconds, 0 or more, got {value}")
    if args.start is not None and args.end is not None and args.end <= args.start:
        raise CliError(f"--to {args.end} must be after --from {args.start}")
    if args.speed is not None and not (math.isfinite(args.speed) and args.speed > 0):
        raise CliError(f"--speed must be a positive number of simulated seconds per second of "
                       f"movie, got {args.speed}")
    if args.fps is not None and not 1 <= args.fps <= 60:
        raise CliError(f"--fps must be from 1 to 60 frames per second, got {args.fps}")
    if args.scale is not None and not (math.isfinite(args.scale) and 0 < args.scale <= 8):
        raise CliError(f"--scale must be above 0 and at most 8, got {args.scale}")
    size = None
    if args.size is not None:
        w, x, h = args.size.lower().partition("x")
        if not (x and w.strip().isdigit() and h.strip().isdigit()):
            raise CliError(f"--size must be WIDTHxHEIGHT in pixels, e.g. 1280x720, got "
                           f"{args.size!r}")
        size = (int(w), int(h))
        (w0, h0), (w1, h1) = MEDIA_MIN_SIZE, MEDIA_MAX_SIZE
        if not (w0 <= size[0] <= w1 and h0 <= size[1] <= h1):
            raise CliError(f"--size {args.size}: must be from {w0}x{h0} to {w1}x{h1} pixels")
    return {"view": view, "start": args.start, "end": args.end, "speed": args.speed,
            "fps": args.fps, "size": size, "scale": 2.0 if args.scale is None else args.scale,
            "theme": args.theme, "clock": args.clock}


class _MediaExport:
    """Figures and movies of a session: Qt is imported here only, on the offscreen platform
    unless QT_QPA_PLATFORM says otherwise, and every movie is planned (its options checked
    against the session) before anything is written."""

    def __init__(self, session, options: dict, figures: list, movies: list) -> None:
        from tcplab.sim.clock import ns_from_seconds
        self.options = o = options
        self.figures = figures
        end = session.end_ns
        for option, value in (("--from", o["start"]), ("--to", o["end"])):
            if value is not None and ns_from_seconds(value) > end:
                raise CliError(f"{option} {value:g}: the session ends at {end / 1e9:g} s")
        self.start = ns_from_seconds(o["start"]) if o["start"] is not None else 0
        self.end = ns_from_seconds(o["end"]) if o["end"] is not None else None
        if self.end is not None and self.end <= self.start:
            raise CliError(f"--to {o['end']:g} must be after --from {self.start / 1e9:g}")
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        try:
            from tcplab.gui import media
        except ImportError as e:
            raise CliError(f"figures and movies need PySide6 ({e}); --pcap, --csv and --json "
                           f"do not") from None
        self.media = media
        media.ensure_app()
        self.recording = media.recording(session)
        self.plans = []
        for option, out in movies:
            try:
                plan = media.plan_movie(self.recording, out, view=o["view"],
                                        start_ns=self.start, end_ns=self.end, speed=o["speed"],
                                        fps=o["fps"], size=o["size"])
            except ValueError as e:
                raise CliError(f"{option} {out}: {e}") from None
            self.plans.append((option, plan))

    def write(self) -> None:
        media, o = self.media, self.options
        size = o["size"] or media.DEFAULT_FIGURE_SIZE
        for view, out in self.figures:
            _write("--figure", out, self._figure, view, size)
            kind = Path(out).suffix.lower()
            extra = (f", {round(size[0] * o['scale'])}x{round(size[1] * o['scale'])} pixels"
                     if kind == ".png" else "")
            print(f"{view} figure ({size[0]}x{size[1]}{extra}) written to {out}")
        for option, plan in self.plans:
            progress = _Progress(plan.path.name) if sys.stderr.isatty() else None
            try:
                n = _write(option, str(plan.path), self._movie, plan, progress)
            finally:
                if progress is not None:
                    progress.done()
            w, h = plan.size
            print(f"{plan.view} movie: {n} frames, {w}x{h}, {plan.fps} fps, {plan.seconds:.1f} s "
                  f"at {plan.speed:g}x real time, written to {plan.path}")

    def _figure(self, out: str, view: str, size: tuple[int, int]):
        o = self.options
        return self.media.render_figure(self.recording, view, out, size=size, theme=o["theme"],
                                        at_ns=self.end, scale=o["scale"])

    def _movie(self, out: str, plan, progress) -> int:
        o = self.options
        return self.media.write_movie(self.recording, out, view=plan.view,
                                      start_ns=plan.start_ns, end_ns=plan.end_ns,
                                      speed=plan.speed, fps=plan.fps, size=plan.size,
                                      theme=o["theme"], clock=o["clock"], progress=progress)


class _Progress:
    """``frames 120/575`` on a terminal's stderr while a movie is made."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.shown = False

    def __call__(self, done: int, total: int) -> bool:
        if done == total or done % 10 == 0:
            sys.stderr.write(f"\r{self.name}: frame {done}/{total}")
            sys.stderr.flush()
            self.shown = True
        return True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


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
        from tcplab.session.export import default_capture_node
        return default_capture_node(trace, source.scenario)
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
