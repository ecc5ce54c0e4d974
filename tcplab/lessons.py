"""Lessons: a scenario and an ordered list of steps an instructor presents one click at a time.

A lesson file is TOML (the format is documented in ``docs/lesson-format.md``)::

    [lesson]
    title = "The three-way handshake"
    scenario = "handshake"          # a built-in scenario, or a .toml path relative to this file
    speed = 0.01                    # optional: simulated seconds per wall second, or "max"

    [lesson.set]                    # optional: scenario overrides, as ``tcplab run --set``
    "links.client-router.delay" = "20ms"

    [[steps]]
    caption = "The client asks to open a connection."
    until_event = "SEG_SENT:SYN@client"     # or until = "0.045s"
    question = "What number will the server acknowledge?"   # optional, with answer
    answer = "101: the SYN itself takes one sequence number."

Each step plays the run from where the previous one stopped to its own stop: a simulated time
(``until``) or the moment an event happens (``until_event``, see :func:`parse_event` for the
vocabulary). The engine is deterministic, so :meth:`Lesson.stop_times` resolves every step's
stop once, headless, and a presenter plays a window's run to those times (and re-runs from zero
to go back).

No Qt here: the GUI's presenter (``tcplab.gui.presenter``) is built on this module.
"""

from __future__ import annotations

import copy
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np

from tcplab.net.packet import ACK, FIN, RST, SYN
from tcplab.resources import resources_dir
from tcplab.scenario import builtin_scenarios
from tcplab.scenario.spec import Scenario, ScenarioError, apply_override, validate
from tcplab.scenario.units import format_duration, parse_duration
from tcplab.trace.events import (Detection, DropReason, EventKind, RecvOutcome, SendReason,
                                 TcpState, TimerKind, UserOp, Var)
from tcplab.trace.ladder import NOTABLE_RECEIPTS, RETRANSMIT, SHOWN
from tcplab.trace.narrate import Narrator

#: The views a step may bring to the front (the window's dock keys).
VIEWS = ("ladder", "tsg", "plots", "buffers", "timers", "state", "narration", "inspector")
#: How the ladder numbers segments (``LadderView.set_numbering``).
NUMBERINGS = ("absolute", "relative", "numbered")
#: The stacked plots of the Plots view (``PlotsView.set_panel_visible``).
PLOT_PANELS = ("window", "rtt", "rto", "rate")
#: Playback speed when neither the step nor the lesson gives one (simulated s per wall s).
DEFAULT_SPEED = 0.05
#: ``speed = "max"``: jump straight to the step's stop.
MAX_SPEED = math.inf

LESSON_KEYS = ("title", "scenario", "description", "speed", "focus", "numbering", "plots", "set")
STEP_KEYS = ("caption", "until", "until_event", "question", "answer", "speed", "focus")


class LessonError(ValueError):
    """A problem with a lesson file: ``"FILE: key.path: problem"``."""


def lessons_dir() -> Path:
    return resources_dir() / "lessons"


def builtin_lessons() -> dict[str, Path]:
    """Built-in lesson name (file stem, e.g. ``01-handshake``) -> file, in lesson order."""
    folder = lessons_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.toml"))}


def _short(stem: str) -> str:
    """``01-handshake`` -> ``handshake``."""
    m = re.fullmatch(r"\d+-(.+)", stem)
    return m.group(1) if m else stem


def load_builtin(name: str) -> "Lesson":
    """A built-in lesson by file stem (``01-handshake``) or by the name after the number
    (``handshake``)."""
    lessons = builtin_lessons()
    if name in lessons:
        return load_lesson(lessons[name])
    for stem, path in lessons.items():
        if _short(stem) == name:
            return load_lesson(path)
    raise LessonError(f"unknown built-in lesson {name!r}; built-in lessons: "
                      f"{', '.join(lessons) or 'none'}")


# ====================================================================== the event vocabulary
#: Segment kinds that ``SEG_SENT`` and ``SEG_RECV`` accept as DETAIL, from the TCP flags and
#: the payload: ``SYN`` (SYN without ACK), ``SYN_ACK``, ``FIN``, ``RST``, ``DATA`` (payload).
SEGMENT_KINDS = ("SYN", "SYN_ACK", "FIN", "RST", "DATA")
#: ``SEG_SENT:RETX``: any retransmission (timeout, fast retransmit, SACK...).
RETX = "RETX"

_APP_CALLS = {"CLOSE": 0, "ABORT": 1, "OPEN": 2, "LISTEN": 3}
_NODE_CHANGES = {"CRASH": 0, "RESTART": 1}
_ALTERATIONS = {"DUPLICATE": 0, "CORRUPT": 1, "DELAY": 2}


def _names(enum: type[IntEnum]) -> dict[str, int]:
    return {m.name: int(m) for m in enum}


#: Per event kind, the DETAIL names it accepts and the field of the row they are read from.
#: Kinds missing here take no DETAIL.
DETAILS: dict[EventKind, dict[str, Any]] = {
    EventKind.SEG_SENT: {**{k: k for k in SEGMENT_KINDS}, RETX: RETX,
                         **{n: ("reason", v) for n, v in _names(SendReason).items()
                            if n not in SEGMENT_KINDS}},
    EventKind.SEG_RECV: {**{k: k for k in SEGMENT_KINDS},
                         **{n: ("outcome", v) for n, v in _names(RecvOutcome).items()}},
    EventKind.DROP: {n: ("a", v) for n, v in _names(DropReason).items()},
    EventKind.STATE: {n: ("b", v) for n, v in _names(TcpState).items()},
    EventKind.TIMER_ARM: {n: ("a", v) for n, v in _names(TimerKind).items()},
    EventKind.TIMER_CANCEL: {n: ("a", v) for n, v in _names(TimerKind).items()},
    EventKind.TIMER_EXPIRE: {n: ("a", v) for n, v in _names(TimerKind).items()},
    EventKind.VAR: {n: ("a", v) for n, v in _names(Var).items()},
    EventKind.DETECT: {n: ("a", v) for n, v in _names(Detection).items()},
    EventKind.NODE: {n: ("a", v) for n, v in _NODE_CHANGES.items()},
    EventKind.APP_CALL: {n: ("a", v) for n, v in _APP_CALLS.items()},
    EventKind.USER: {n: ("a", v) for n, v in _names(UserOp).items()},
    EventKind.ALTER: {n: ("c", v) for n, v in _ALTERATIONS.items()},
}

_EVENT_RE = re.compile(r"(?P<kind>[A-Za-z_]+)(?::(?P<detail>[A-Za-z0-9_+-]+))?"
                       r"(?:@(?P<node>[^#\s]+))?(?:#(?P<count>[0-9]+))?")
_FIELD = {"a": 5, "b": 6, "c": 7, "d": 8}


def event_vocabulary() -> dict[str, list[str]]:
    """Every event kind ``until_event`` accepts, with its DETAIL names (empty: none)."""
    return {k.name: list(DETAILS.get(k, {})) for k in EventKind}


@dataclass(frozen=True)
class EventSpec:
    """``KIND[:DETAIL][@NODE][#N]``: the N-th event of KIND (with DETAIL, at NODE) after the
    previous step's stop."""

    text: str
    kind: EventKind
    detail: str | None = None
    node: str | None = None
    count: int = 1

    def matches(self, trace, i: int, node_index: int | None = None) -> bool:
        """Whether trace row ``i`` is such an event (the count aside)."""
        row = trace.matrix(i, i + 1)[0]
        return self._row_matches(trace, row, node_index)

    def _row_matches(self, trace, row, node_index: int | None) -> bool:
        if row[1] != self.kind:
            return False
        if node_index is not None and row[2] != node_index:
            return False
        if self.detail is None:
            return True
        test = DETAILS[self.kind][self.detail]
        if self.kind in (EventKind.SEG_SENT, EventKind.SEG_RECV):
            flags, code, length = int(row[8]) & 0xFFFF, int(row[8]) >> 16, int(row[7])
            if test == "SYN":
                return bool(flags & SYN) and not flags & ACK
            if test == "SYN_ACK":
                return bool(flags & SYN) and bool(flags & ACK)
            if test == "FIN":
                return bool(flags & FIN)
            if test == "RST":
                return bool(flags & RST)
            if test == "DATA":
                return length > 0
            if test == RETX:
                return code in RETRANSMIT
            return code == test[1]
        column, value = test
        return int(row[_FIELD[column]]) == value

    def find(self, trace, start: int = 0, end: int | None = None) -> int | None:
        """Index of the ``count``-th matching row in rows ``[start, end)``, or None."""
        return self.scan(trace, start, end)[0]

    def scan(self, trace, start: int = 0, end: int | None = None,
             seen: int = 0) -> tuple[int | None, int]:
        """Like :meth:`find`, continuing a search that has ``seen`` matches before ``start``:
        (index of the ``count``-th match or None, matches seen up to ``end``)."""
        end = len(trace) if end is None else end
        if end <= start:
            return None, seen
        node_index = None
        if self.node is not None:
            if self.node not in trace.nodes:
                return None, seen
            node_index = trace.nodes.index(self.node)
        m = trace.matrix(start, end)
        mask = m[:, 1] == int(self.kind)
        if node_index is not None:
            mask &= m[:, 2] == node_index
        for j in np.flatnonzero(mask):
            if self._row_matches(trace, m[j], node_index):
                seen += 1
                if seen == self.count:
                    return start + int(j), seen
        return None, seen


def parse_event(text: Any, nodes: list[str] | None = None) -> EventSpec:
    """Read ``KIND[:DETAIL][@NODE][#N]``. KIND is a trace event kind (``SEG_SENT``, ``DROP``,
    ``STATE``...), DETAIL one of that kind's names (``SEG_SENT:SYN``, ``DROP:QUEUE_FULL``,
    ``STATE:TIME_WAIT``; ``-`` may stand for ``_``), NODE the node where it happens, N which
    occurrence after the previous step (from 1). Raises ValueError saying what is wrong; node
    names are checked against ``nodes`` when given."""
    if not isinstance(text, str):
        raise ValueError(f"expected a string like \"SEG_SENT:SYN@client\", got {text!r}")
    m = _EVENT_RE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not KIND[:DETAIL][@NODE][#N] "
                         f"(e.g. \"SEG_SENT:SYN@client\", \"DROP\", \"STATE:TIME_WAIT#2\")")
    kind_name = m.group("kind").upper()
    if kind_name not in EventKind.__members__:
        raise ValueError(f"unknown event kind {m.group('kind')!r} "
                         f"(kinds: {', '.join(k.name for k in EventKind)})")
    kind = EventKind[kind_name]
    detail = m.group("detail")
    if detail is not None:
        detail = detail.upper().replace("-", "_").replace("+", "_")
        table = DETAILS.get(kind)
        if table is None:
            raise ValueError(f"{kind.name} takes no detail (got {m.group('detail')!r})")
        if detail not in table:
            raise ValueError(f"{kind.name} has no detail {m.group('detail')!r} "
                             f"(details: {', '.join(table)})")
    node = m.group("node")
    if node is not None and nodes is not None and node not in nodes:
        raise ValueError(f"no node {node!r} in the scenario (nodes: {', '.join(nodes)})")
    count = int(m.group("count")) if m.group("count") is not None else 1
    if count < 1:
        raise ValueError(f"#{m.group('count')}: occurrences are counted from 1")
    return EventSpec(text.strip(), kind, detail, node, count)


# ====================================================================== narration
def headline(trace, i: int) -> bool:
    """Whether row ``i`` is worth a caption line (what the terminal ladder shows: segments,
    drops, states, timer expiries, detections...; not hops, variables or ordinary receipts)."""
    kind = trace.kind[i]
    if kind not in SHOWN:
        return False
    if kind == EventKind.SEG_RECV:
        return RecvOutcome(trace.d[i] >> 16) in NOTABLE_RECEIPTS
    return True


def latest_headline(trace, first: int, end: int | None = None) -> int | None:
    """The last headline row in ``[first, end)``, or None."""
    end = len(trace) if end is None else end
    for i in range(end - 1, first - 1, -1):
        if headline(trace, i):
            return i
    return None


#: Segments sent for these reasons are routine: the caption line prefers anything else.
ROUTINE_SENDS = frozenset({SendReason.NEW_DATA, SendReason.ACK, SendReason.DELAYED_ACK,
                           SendReason.LIMITED_TRANSMIT, SendReason.WINDOW_UPDATE})


def notable(trace, i: int) -> bool:
    """A headline row that is more than routine data or acknowledgment traffic."""
    if not headline(trace, i):
        return False
    if trace.kind[i] == EventKind.SEG_SENT:
        return SendReason(trace.d[i] >> 16) not in ROUTINE_SENDS
    return True


class CaptionRows:
    """Follows a growing trace from row ``start`` on and keeps the row a caption's narration
    line tells: the latest notable row (a drop, a state change, a timeout, a retransmission...),
    else the latest headline row. :meth:`update` reads only the rows added since it last ran."""

    _HEADLINE = np.array(sorted(int(k) for k in SHOWN), dtype=np.int64)
    _NOTABLE_RECV = np.array(sorted(int(o) for o in NOTABLE_RECEIPTS), dtype=np.int64)
    _ROUTINE = np.array(sorted(int(r) for r in ROUTINE_SENDS), dtype=np.int64)

    def __init__(self, trace, start: int = 0) -> None:
        self.trace = trace
        self.seen = start
        self.latest: int | None = None        # latest headline row
        self.latest_notable: int | None = None

    @property
    def row(self) -> int | None:
        return self.latest_notable if self.latest_notable is not None else self.latest

    def update(self, end: int | None = None) -> int | None:
        end = len(self.trace) if end is None else end
        if end > self.seen:
            m = self.trace.matrix(self.seen, end)
            kind, code = m[:, 1], m[:, 8] >> 16
            recv = kind == int(EventKind.SEG_RECV)
            sent = kind == int(EventKind.SEG_SENT)
            head = np.isin(kind, self._HEADLINE) & (~recv | np.isin(code, self._NOTABLE_RECV))
            note = head & ~(sent & np.isin(code, self._ROUTINE))
            rows = np.flatnonzero(head)
            if len(rows):
                self.latest = self.seen + int(rows[-1])
            rows = np.flatnonzero(note)
            if len(rows):
                self.latest_notable = self.seen + int(rows[-1])
            self.seen = end
        return self.row


def caption_row(trace, first: int, end: int | None = None) -> int | None:
    """The row a caption's narration line tells in ``[first, end)``: the latest notable row,
    else the latest headline row, else None (see :class:`CaptionRows`)."""
    return CaptionRows(trace, first).update(end)


def narration_line(trace, first: int, end: int | None = None,
                   narrator: Narrator | None = None) -> str | None:
    """The narration of :func:`caption_row` in ``[first, end)`` (None: nothing yet)."""
    i = caption_row(trace, first, end)
    if i is None:
        return None
    return (narrator or Narrator(trace)).explain(i)


# ====================================================================== the lesson
@dataclass
class Step:
    """One click of a lesson. ``number`` counts from 1, as the presenter shows it."""

    number: int
    caption: str
    until: int | None = None              # ns
    event: EventSpec | None = None
    question: str | None = None
    answer: str | None = None
    speed: float | None = None            # None: the lesson's; MAX_SPEED: jump
    focus: str | None = None

    @property
    def where(self) -> str:
        return f"steps[{self.number}]"


@dataclass
class Lesson:
    title: str
    scenario_ref: str                     # as written in the file
    raw: dict = field(repr=False)         # the scenario table, overrides applied
    steps: list[Step]
    source: str                           # the lesson file, for messages
    name: str                             # its stem
    description: str = ""
    speed: float = DEFAULT_SPEED
    focus: str | None = None
    numbering: str | None = None
    plots: tuple[str, ...] | None = None   # the Plots panels to show (None: as they are)
    scenario_name: str = ""               # the scenario's name (built-in or file stem)
    _scenario: Scenario | None = field(default=None, repr=False)
    _stops: list[int] | None = field(default=None, repr=False)

    def scenario(self) -> Scenario:
        """The validated scenario (overrides applied)."""
        if self._scenario is None:
            self._scenario = validate(copy.deepcopy(self.raw), f"{self.scenario_name}.toml",
                                      self.scenario_name)
        return self._scenario

    def step_speed(self, step: Step) -> float:
        return self.speed if step.speed is None else step.speed

    def _fail(self, where: str, why: str):
        raise LessonError(f"{self.source}: {where}: {why}")

    def stop_times(self) -> list[int]:
        """Each step's stop in ns, resolved by running the scenario headless as far as the last
        event step needs (cached). Raises LessonError when an event never happens or a time
        comes before the stop of the step before it."""
        if self._stops is not None:
            return list(self._stops)
        from tcplab.scenario.runner import Run
        sc = self.scenario()
        run: Run | None = None
        stops: list[int] = []
        prev: int | None = None         # None: nothing has run yet
        for step in self.steps:
            if step.event is None:
                t = step.until
                if prev is not None and t < prev:
                    self._fail(f"{step.where}.until", f"{format_duration(t)} is before the "
                               f"previous step's stop at {format_duration(prev)}")
            else:
                if run is None:
                    run = Run(sc)
                t = _resolve(run, step.event, prev, sc.duration)
                if t is None:
                    after = "in the run" if prev is None else f"after {format_duration(prev)}"
                    self._fail(f"{step.where}.until_event",
                               f"{step.event.text} does not happen {after} "
                               f"(the scenario ends at {format_duration(sc.duration)})")
            stops.append(t)
            prev = t
        self._stops = stops
        return list(stops)


def rows_until(trace, t: int | None) -> int:
    """How many rows of ``trace`` happened at or before ``t``: a step that starts where the
    previous one stopped at ``t`` counts its events from that row (``None``: the first step,
    which counts from the first row)."""
    if t is None:
        return 0
    return int(np.searchsorted(trace.matrix()[:, 0], t, side="right"))


def _resolve(run, spec: EventSpec, after: int | None, duration: int,
             chunk: int = 4096) -> int | None:
    """Time of the event ``spec`` names after the stop at ``after`` (None: from the start),
    running ``run`` forward as far as needed (it may end up a little past that time), or None
    when it never happens."""
    if after is not None and run.now < after:
        run.run(until=after)
    trace = run.trace
    pos = rows_until(trace, after)
    seen = 0
    while True:
        found, seen = spec.scan(trace, pos, len(trace), seen)
        if found is not None:
            return int(trace.t[found])
        pos = len(trace)
        if run.finished() or run.now >= duration:
            return None
        run.run(until=duration, max_events=chunk)


# ====================================================================== loading
def load_lesson(path: str | Path) -> Lesson:
    """Read and validate a lesson file; raises LessonError ``"FILE: key: problem"``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LessonError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise LessonError(f"{path}: cannot read: {e}") from None
    return loads_lesson(text, str(path), path.resolve().parent, path.stem)


def loads_lesson(text: str, source: str = "<lesson>", base: str | Path | None = None,
                 name: str | None = None) -> Lesson:
    """Validate lesson ``text``; a scenario path in it is relative to ``base``."""
    def fail(key: str, why: str):
        raise LessonError(f"{source}: {key}: {why}")

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise LessonError(f"{source}: not valid TOML: {e}") from None
    for key in raw:
        if key not in ("lesson", "steps"):
            fail(key, "unknown key (a lesson file has a [lesson] table and [[steps]] tables)")
    meta = raw.get("lesson")
    if meta is None:
        fail("lesson", "missing: a lesson file starts with a [lesson] table")
    if not isinstance(meta, dict):
        fail("lesson", "expected a table: [lesson]")
    for key in meta:
        if key not in LESSON_KEYS:
            fail(f"lesson.{key}", f"unknown key (known: {', '.join(LESSON_KEYS)})")
    title = _text(meta, "title", "lesson.title", fail, required=True)
    description = _text(meta, "description", "lesson.description", fail) or ""
    if "scenario" not in meta:
        fail("lesson.scenario", "missing: a built-in scenario name or a path to a .toml file")
    ref = meta["scenario"]
    if not isinstance(ref, str) or not ref.strip():
        fail("lesson.scenario", f"expected a built-in scenario name or a path, got {ref!r}")
    scenario_path, scenario_name = _scenario_file(ref, base, fail)
    try:
        scenario_raw = tomllib.loads(scenario_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        fail("lesson.scenario", f"cannot read {scenario_path}: {e}")
    overrides = meta.get("set", {})
    if not isinstance(overrides, dict):
        fail("lesson.set", "expected a table of scenario values by dotted path, e.g. "
             "\"links.client-router.loss\" = 0.1")
    for dotted, value in _flatten(overrides):
        where = f"lesson.set.{dotted}"
        try:
            literal = _toml_literal(value)
        except ValueError as e:
            fail(where, str(e))
        item = f"{dotted}={literal}"
        try:
            apply_override(scenario_raw, item, scenario_name)
        except ScenarioError as e:
            msg = str(e)
            for prefix in (f"--set {item}: ", f"--set {item!r}: "):
                msg = msg[len(prefix):] if msg.startswith(prefix) else msg
            fail(where, msg)
    try:
        scenario = validate(copy.deepcopy(scenario_raw), f"{scenario_name}.toml", scenario_name)
    except ScenarioError as e:
        fail("lesson.set" if overrides else "lesson.scenario", str(e))
    speed = _speed(meta.get("speed", DEFAULT_SPEED), "lesson.speed", fail)
    focus = _choice(meta, "focus", "lesson.focus", VIEWS, fail)
    numbering = _choice(meta, "numbering", "lesson.numbering", NUMBERINGS, fail)
    plots = None
    if "plots" in meta:
        plots = meta["plots"]
        if not isinstance(plots, list) or not plots or any(p not in PLOT_PANELS for p in plots):
            fail("lesson.plots", f"expected a list of plot panels from {', '.join(PLOT_PANELS)}, "
                 f"got {plots!r}")
        plots = tuple(plots)

    steps_raw = raw.get("steps")
    if not steps_raw:
        fail("steps", "a lesson needs at least one [[steps]] table")
    if not isinstance(steps_raw, list) or not all(isinstance(s, dict) for s in steps_raw):
        fail("steps", "expected [[steps]] tables")
    nodes = list(scenario.hosts) + list(scenario.routers)
    steps: list[Step] = []
    last_time: tuple[int, int] | None = None       # (step number, ns) of the last time stop
    for n, table in enumerate(steps_raw, start=1):
        where = f"steps[{n}]"
        for key in table:
            if key not in STEP_KEYS:
                fail(f"{where}.{key}", f"unknown key (known: {', '.join(STEP_KEYS)})")
        caption = _text(table, "caption", f"{where}.caption", fail, required=True)
        step = Step(n, caption)
        has_until, has_event = "until" in table, "until_event" in table
        if has_until and has_event:
            fail(where, "give until (a time) or until_event (an event), not both")
        if not has_until and not has_event:
            fail(where, "needs until (a time like \"0.045s\") or until_event (an event like "
                 "\"SEG_SENT:SYN@client\")")
        if has_until:
            try:
                t = parse_duration(table["until"])
            except ValueError as e:
                fail(f"{where}.until", str(e))
            if t > scenario.duration:
                fail(f"{where}.until", f"{format_duration(t)} is after the end of the scenario "
                     f"({format_duration(scenario.duration)})")
            if last_time is not None and t < last_time[1]:
                fail(f"{where}.until", f"{format_duration(t)} is before step {last_time[0]}'s "
                     f"{format_duration(last_time[1])}")
            step.until = t
            last_time = (n, t)
        else:
            try:
                step.event = parse_event(table["until_event"], nodes)
            except ValueError as e:
                fail(f"{where}.until_event", str(e))
        step.question = _text(table, "question", f"{where}.question", fail)
        step.answer = _text(table, "answer", f"{where}.answer", fail)
        if step.question and not step.answer:
            fail(f"{where}.answer", "missing: a question needs its answer")
        if step.answer and not step.question:
            fail(f"{where}.question", "missing: an answer goes with a question")
        if "speed" in table:
            step.speed = _speed(table["speed"], f"{where}.speed", fail)
        step.focus = _choice(table, "focus", f"{where}.focus", VIEWS, fail)
        steps.append(step)
    return Lesson(title=title, scenario_ref=ref, raw=scenario_raw, steps=steps, source=source,
                  name=name or Path(source).stem, description=description, speed=speed,
                  focus=focus, numbering=numbering, plots=plots, scenario_name=scenario_name,
                  _scenario=scenario)


def _scenario_file(ref: str, base: str | Path | None, fail) -> tuple[Path, str]:
    builtin = builtin_scenarios()
    if ref in builtin:
        return builtin[ref], ref
    path = Path(ref)
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    if path.is_file():
        return path, path.stem
    if "/" in ref or ref.endswith(".toml"):
        fail("lesson.scenario", f"no such file: {path}")
    fail("lesson.scenario", f"no built-in scenario {ref!r} and no file {path} "
         f"(built-in scenarios: {', '.join(builtin)})")
    raise AssertionError  # unreachable


def _text(table: dict, key: str, where: str, fail, required: bool = False) -> str | None:
    if key not in table:
        if required:
            fail(where, "missing")
        return None
    value = table[key]
    if not isinstance(value, str):
        fail(where, f"expected a string, got {value!r}")
    value = _paragraphs(value)
    if required and not value:
        fail(where, "is empty")
    return value


def _paragraphs(text: str) -> str:
    """Lines of a paragraph joined with spaces; paragraphs (split by a blank line) by a newline."""
    paras = re.split(r"\n\s*\n", text.strip())
    return "\n".join(" ".join(p.split()) for p in paras if p.strip())


def _speed(value: Any, where: str, fail) -> float:
    if isinstance(value, str) and value.strip().lower() == "max":
        return MAX_SPEED
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
            or math.isinf(value):
        fail(where, f"expected a positive number of simulated seconds per second (0.05: "
             f"twenty times slower than real time) or \"max\", got {value!r}")
    return float(value)


def _choice(table: dict, key: str, where: str, choices: tuple[str, ...], fail) -> str | None:
    if key not in table:
        return None
    value = table[key]
    if value not in choices:
        fail(where, f"expected one of {', '.join(choices)}, got {value!r}")
    return value


def _flatten(table: dict, prefix: str = ""):
    """Dotted paths of the leaves of ``table`` (``a.b = 1`` in TOML is ``{"a": {"b": 1}}``)."""
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _flatten(value, path + ".")
        else:
            yield path, value


def _toml_literal(value: Any) -> str:
    """``value`` written as a TOML value, to hand to ``apply_override``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"{value!r} is not a usable number")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_literal(v) for v in value) + "]"
    raise ValueError(f"cannot set a scenario value to {value!r}")
