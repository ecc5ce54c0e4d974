"""Lessons (issue 6): the file format and its validation, the event vocabulary against real
traces, and the ten built-in lessons played headless to every stop."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tcplab import lessons as L
from tcplab.lessons import LessonError, load_builtin, load_lesson, loads_lesson, parse_event
from tcplab.scenario import builtin_scenarios, load
from tcplab.scenario.runner import Run
from tcplab.trace.events import EventKind, RecvOutcome, SendReason
from tcplab.trace.narrate import Narrator

ROOT = Path(__file__).resolve().parents[1]

HEAD = """
[lesson]
title = "T"
scenario = "handshake"
"""
STEP = """
[[steps]]
caption = "c"
until = "0.01s"
"""


def lesson(text: str, source: str = "my.toml", base: Path | None = None) -> L.Lesson:
    return loads_lesson(textwrap.dedent(text), source, base)


# ------------------------------------------------------------------------------ the format
def test_a_minimal_lesson():
    les = lesson(HEAD + STEP)
    assert les.title == "T" and les.scenario_name == "handshake"
    assert les.speed == L.DEFAULT_SPEED and les.focus is None and les.numbering is None
    [step] = les.steps
    assert (step.number, step.caption, step.until, step.event) == (1, "c", 10_000_000, None)
    assert step.question is None and step.answer is None and step.speed is None
    assert les.stop_times() == [10_000_000]


def test_every_key():
    les = lesson("""
        [lesson]
        title = "Everything"
        scenario = "handshake"
        description = \"\"\"
        First paragraph,
        still the first.

        Second paragraph.
        \"\"\"
        speed = "max"
        focus = "state"
        numbering = "numbered"
        plots = ["window", "rate"]

        [lesson.set]
        "links.client-router.delay" = "20ms"
        tcp.mss = 500

        [[steps]]
        caption = \"\"\"The client
          sends its SYN.\"\"\"
        until_event = "seg_sent:syn@client"
        question = "Q?"
        answer = "A."
        speed = 0.5
        focus = "timers"
    """)
    assert les.description == "First paragraph, still the first.\nSecond paragraph."
    assert les.speed == L.MAX_SPEED and les.focus == "state" and les.numbering == "numbered"
    assert les.plots == ("window", "rate")
    sc = les.scenario()
    link = next(ls for ls in sc.links if {ls.a, ls.b} == {"client", "router"})
    assert link.ab.delay == 20_000_000 and sc.tcp.mss == 500
    step = les.steps[0]
    assert step.caption == "The client sends its SYN."
    assert step.event == L.EventSpec("seg_sent:syn@client", EventKind.SEG_SENT, "SYN", "client", 1)
    assert (step.question, step.answer, step.speed, step.focus) == ("Q?", "A.", 0.5, "timers")


def test_a_scenario_path_is_relative_to_the_lesson_file(tmp_path):
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "mine.toml").write_text(builtin_scenarios()["loss"].read_text())
    path = tmp_path / "lesson.toml"
    path.write_text(textwrap.dedent("""
        [lesson]
        title = "Mine"
        scenario = "nets/mine.toml"
        [[steps]]
        caption = "the drop"
        until_event = "DROP"
    """))
    les = load_lesson(path)
    assert les.scenario_name == "mine" and les.source == str(path)
    assert les.stop_times() == [39_096_800]


BAD = [
    # (lesson text, expected message after "my.toml: ")
    ("title = 'x'", "title: unknown key (a lesson file has a [lesson] table and [[steps]] tables)"),
    (STEP, "lesson: missing: a lesson file starts with a [lesson] table"),
    ("[lesson]\nscenario = 'handshake'\n" + STEP, "lesson.title: missing"),
    ("[lesson]\ntitle = 3\nscenario = 'handshake'\n" + STEP,
     "lesson.title: expected a string, got 3"),
    ("[lesson]\ntitle = ' '\nscenario = 'handshake'\n" + STEP, "lesson.title: is empty"),
    ("[lesson]\ntitle = 'T'\n" + STEP,
     "lesson.scenario: missing: a built-in scenario name or a path to a .toml file"),
    ("[lesson]\ntitle = 'T'\nscenario = 'handshak'\n" + STEP,
     "lesson.scenario: no built-in scenario 'handshak' and no file {base}/handshak (built-in "
     "scenarios: {builtin})"),
    ("[lesson]\ntitle = 'T'\nscenario = 'nets/x.toml'\n" + STEP,
     "lesson.scenario: no such file: {base}/nets/x.toml"),
    (HEAD + "colour = 'red'\n" + STEP,
     "lesson.colour: unknown key (known: title, scenario, description, speed, focus, numbering, "
     "plots, set)"),
    (HEAD + "speed = 0\n" + STEP,
     "lesson.speed: expected a positive number of simulated seconds per second (0.05: twenty "
     "times slower than real time) or \"max\", got 0"),
    (HEAD + "focus = 'canvas'\n" + STEP,
     "lesson.focus: expected one of ladder, tsg, plots, buffers, timers, state, narration, "
     "inspector, got 'canvas'"),
    (HEAD + "numbering = 'roman'\n" + STEP,
     "lesson.numbering: expected one of absolute, relative, numbered, got 'roman'"),
    (HEAD + "plots = ['cwnd']\n" + STEP,
     "lesson.plots: expected a list of plot panels from window, rtt, rto, rate, got ['cwnd']"),
    (HEAD + "[lesson.set]\n'links.client-r9.delay' = '1ms'\n" + STEP,
     "lesson.set.links.client-r9.delay: unknown link 'client-r9' (links: client-router, "
     "router-server)"),
    (HEAD + "[lesson.set]\n'links.client-router.loss' = 2\n" + STEP,
     "lesson.set: handshake.toml: links.client-router.loss: 2 is outside [0, 1]"),
    (HEAD, "steps: a lesson needs at least one [[steps]] table"),
    (HEAD + "[[steps]]\nuntil = 0.01\n", "steps[1].caption: missing"),
    (HEAD + STEP + "[[steps]]\ncaption = 'c'\n",
     "steps[2]: needs until (a time like \"0.045s\") or until_event (an event like "
     "\"SEG_SENT:SYN@client\")"),
    (HEAD + "[[steps]]\ncaption = 'c'\nuntil = 1\nuntil_event = 'DROP'\n",
     "steps[1]: give until (a time) or until_event (an event), not both"),
    (HEAD + "[[steps]]\ncaption = 'c'\nuntill = 1\n",
     "steps[1].untill: unknown key (known: caption, until, until_event, question, answer, "
     "speed, focus)"),
    (HEAD + STEP + STEP + "[[steps]]\ncaption = 'c'\nuntil = 'soon'\n",
     "steps[3].until: expected a duration like 0.005, \"5ms\" or \"1 s\", got 'soon'"),
    (HEAD + "[[steps]]\ncaption = 'c'\nuntil = '2s'\n",
     "steps[1].until: 2 s is after the end of the scenario (1 s)"),
    (HEAD + "[[steps]]\ncaption = 'c'\nuntil = '20ms'\n" + STEP,
     "steps[2].until: 10 ms is before step 1's 20 ms"),
    (HEAD + STEP + "[[steps]]\ncaption = 'c'\nuntil = 1\nquestion = 'Q?'\n",
     "steps[2].answer: missing: a question needs its answer"),
    (HEAD + "[[steps]]\ncaption = 'c'\nuntil = 1\nanswer = 'A.'\n",
     "steps[1].question: missing: an answer goes with a question"),
    (HEAD + "[[steps]]\ncaption = 'c'\nuntil = 1\nspeed = -1\n",
     "steps[1].speed: expected a positive number of simulated seconds per second (0.05: twenty "
     "times slower than real time) or \"max\", got -1"),
    (HEAD + "[[steps]]\ncaption = 'c'\nuntil_event = 'SEG_SNT'\n",
     "steps[1].until_event: unknown event kind 'SEG_SNT' (kinds: "
     + ", ".join(k.name for k in EventKind) + ")"),
    (HEAD + "[[steps]]\ncaption = 'c'\nuntil_event = 'STATE:OPEN'\n",
     "steps[1].until_event: STATE has no detail 'OPEN' (details: CLOSED, LISTEN, SYN_SENT, "
     "SYN_RECEIVED, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, "
     "TIME_WAIT)"),
    (HEAD + "[[steps]]\ncaption = 'c'\nuntil_event = 'DELIVER:ALL'\n",
     "steps[1].until_event: DELIVER takes no detail (got 'ALL')"),
    (HEAD + "[[steps]]\ncaption = 'c'\nuntil_event = 'DROP@clinet'\n",
     "steps[1].until_event: no node 'clinet' in the scenario (nodes: client, server, router)"),
    (HEAD + "[[steps]]\ncaption = 'c'\nuntil_event = 'DROP#0'\n",
     "steps[1].until_event: #0: occurrences are counted from 1"),
    (HEAD + "[[steps]]\ncaption = 'c'\nuntil_event = 'DROP when lost'\n",
     "steps[1].until_event: 'DROP when lost' is not KIND[:DETAIL][@NODE][#N] (e.g. "
     "\"SEG_SENT:SYN@client\", \"DROP\", \"STATE:TIME_WAIT#2\")"),
    (HEAD + "[[steps]]\ncaption = 'c'\nuntil_event = 5\n",
     "steps[1].until_event: expected a string like \"SEG_SENT:SYN@client\", got 5"),
    ("[lesson\n", None),      # not TOML: the parser's own message follows
]


@pytest.mark.parametrize("text, expected", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_validation_messages(text, expected, tmp_path):
    with pytest.raises(LessonError) as e:
        lesson(text, "my.toml", tmp_path)
    if expected is None:
        assert str(e.value).startswith("my.toml: not valid TOML: ")
        return
    expected = expected.format(base=tmp_path, builtin=", ".join(builtin_scenarios()))
    assert str(e.value) == f"my.toml: {expected}"


def test_problems_found_by_running_the_scenario():
    never = lesson(HEAD + "[[steps]]\ncaption = 'c'\nuntil_event = 'DROP'\n")
    with pytest.raises(LessonError) as e:
        never.stop_times()
    assert str(e.value) == ("my.toml: steps[1].until_event: DROP does not happen in the run "
                            "(the scenario ends at 1 s)")
    # counted after the previous stop: the handshake has exactly one SYN
    again = lesson(HEAD + "[[steps]]\ncaption = 'c'\nuntil_event = 'SEG_SENT:SYN'\n"
                   "[[steps]]\ncaption = 'c'\nuntil_event = 'SEG_SENT:SYN'\n")
    with pytest.raises(LessonError) as e:
        again.stop_times()
    assert str(e.value) == ("my.toml: steps[2].until_event: SEG_SENT:SYN does not happen after "
                            "0 s (the scenario ends at 1 s)")
    back = lesson(HEAD + "[[steps]]\ncaption = 'c'\nuntil_event = 'STATE:ESTABLISHED@server'\n"
                  "[[steps]]\ncaption = 'c'\nuntil = '20ms'\n")
    with pytest.raises(LessonError) as e:
        back.stop_times()
    assert str(e.value) == ("my.toml: steps[2].until: 20 ms is before the previous step's stop "
                            "at 30.2048 ms")


def test_file_problems(tmp_path):
    with pytest.raises(LessonError) as e:
        load_lesson(tmp_path / "none.toml")
    assert str(e.value) == f"{tmp_path / 'none.toml'}: no such file"
    with pytest.raises(LessonError) as e:
        load_builtin("nothing")
    assert str(e.value).startswith("unknown built-in lesson 'nothing'; built-in lessons: "
                                   "01-handshake, 02-numbered-data")


# ------------------------------------------------------------------------------ events
def test_event_grammar():
    e = parse_event("STATE:time-wait@client#2")
    assert (e.kind, e.detail, e.node, e.count) == (EventKind.STATE, "TIME_WAIT", "client", 2)
    assert parse_event("seg_sent:syn+ack").detail == "SYN_ACK"
    assert parse_event("DROP") == L.EventSpec("DROP", EventKind.DROP)
    assert parse_event("STATE:FIN_WAIT_2").detail == "FIN_WAIT_2"


def test_the_vocabulary_is_the_trace_s():
    vocab = L.event_vocabulary()
    assert list(vocab) == [k.name for k in EventKind]
    assert set(vocab["SEG_SENT"]) == set(L.SEGMENT_KINDS) | {"RETX"} | {r.name for r in SendReason}
    assert set(vocab["SEG_RECV"]) == set(L.SEGMENT_KINDS) | {o.name for o in RecvOutcome}
    doc = (ROOT / "docs" / "lesson-format.md").read_text()
    for kind, details in vocab.items():
        assert f"`{kind}`" in doc, kind
        for d in details:
            assert f"`{d}`" in doc, (kind, d)


def _typed(ev) -> set[str]:
    """The DETAIL names a typed trace event (``Trace.event``) answers to, derived from its
    named fields rather than from the integer columns the matcher reads."""
    from tcplab.net.packet import ACK, FIN, RST, SYN
    from tcplab.trace.ladder import RETRANSMIT
    k = ev.kind
    if k in (EventKind.SEG_SENT, EventKind.SEG_RECV):
        # a reason named like a segment kind (SYN, SYN_ACK, FIN) is read from the flags
        name = ev.reason.name if k == EventKind.SEG_SENT else ev.outcome.name
        out = {name} - set(L.SEGMENT_KINDS)
        if ev.flags & SYN:
            out.add("SYN_ACK" if ev.flags & ACK else "SYN")
        out |= {"FIN"} if ev.flags & FIN else set()
        out |= {"RST"} if ev.flags & RST else set()
        out |= {"DATA"} if ev.length else set()
        if k == EventKind.SEG_SENT and ev.reason in RETRANSMIT:
            out.add("RETX")
        return out
    field = {EventKind.DROP: "reason", EventKind.STATE: "new", EventKind.TIMER_ARM: "timer",
             EventKind.TIMER_EXPIRE: "timer", EventKind.DETECT: "what"}.get(k)
    if field:
        return {getattr(ev, field).name}
    if k == EventKind.NODE:
        return {"RESTART" if ev.restarted else "CRASH"}
    if k == EventKind.APP_CALL:
        return {ev.call.upper()}
    return set()


@pytest.mark.parametrize("scenario", ["loss", "reorder", "abort", "fast-retransmit",
                                      "zero-window"])
def test_every_detail_matches_exactly_the_events_it_names(scenario):
    run = Run(load(scenario))
    run.run(until=min(run.scenario.duration, 12_000_000_000))
    tr = run.trace
    checked = {EventKind.SEG_SENT, EventKind.SEG_RECV, EventKind.DROP, EventKind.STATE,
               EventKind.TIMER_ARM, EventKind.TIMER_EXPIRE, EventKind.DETECT, EventKind.NODE,
               EventKind.APP_CALL}
    seen_details = 0
    for kind in checked:
        rows = [int(i) for i in tr.indices(kind)]
        names = {i: _typed(tr.event(i)) for i in rows}
        for detail in L.DETAILS[kind]:
            spec = parse_event(f"{kind.name}:{detail}")
            found = {i for i in rows if spec.matches(tr, i)}
            assert found == {i for i in rows if detail in names[i]}, (kind.name, detail)
            seen_details += bool(found)
        # the node qualifier and the count
        for node in tr.nodes:
            spec = parse_event(f"{kind.name}@{node}#2")
            expected = [i for i in rows if tr.node[i] == tr.nodes.index(node)]
            assert spec.find(tr) == (expected[1] if len(expected) > 1 else None)
    assert seen_details >= 15


# ------------------------------------------------------------------------------ built-ins
ARTICLE_ORDER = ["handshake", "transfer", "loss", "reorder", "close", "abort",
                 "fast-retransmit", "zero-window", "congestion", "cubic-vs-reno"]


def test_ten_built_in_lessons_in_article_order():
    lessons = L.builtin_lessons()
    assert [int(name.split("-")[0]) for name in lessons] == list(range(1, 11))
    assert [load_lesson(p).scenario_name for p in lessons.values()] == ARTICLE_ORDER
    assert load_builtin("handshake").name == "01-handshake"
    assert load_builtin("01-handshake").title == "The three-way handshake"


@pytest.mark.parametrize("name", list(L.builtin_lessons()))
def test_built_in_lesson_plays_headless_to_every_stop(name):
    les = load_builtin(name)
    stops = les.stop_times()
    assert len(stops) == len(les.steps) >= 4
    assert any(s.question for s in les.steps), "a lesson asks the room at least once"
    assert all(len(s.caption) <= 330 for s in les.steps), "captions fit the caption column"
    run = Run(les.scenario())
    narrator = Narrator(run.trace)
    prev = None
    for step, stop in zip(les.steps, stops):
        assert prev is None or stop >= prev
        start = L.rows_until(run.trace, prev)
        run.run(until=stop)
        tr = run.trace
        # everything due by the stop has run, nothing after it
        assert run.next_time() is None or run.next_time() > stop
        assert int(tr.t[len(tr) - 1]) <= stop
        if step.event is not None:
            row = step.event.find(tr, start)
            assert row is not None and int(tr.t[row]) == stop, step.where
            # it is the N-th such event since the previous stop, not an earlier one
            matches = [i for i in range(start, len(tr)) if step.event.matches(
                tr, i, tr.nodes.index(step.event.node) if step.event.node else None)]
            assert matches[step.event.count - 1] == row
            assert run.now == stop
        else:
            assert run.now == stop or run.finished()
        # something to tell, unless nothing at all happened in the step
        assert L.narration_line(tr, start, narrator=narrator) or len(tr) == start, step.where
        prev = stop


def test_the_caption_line_prefers_what_matters():
    run = Run(load("loss"))
    run.run(until=1_100_000_000)
    tr = run.trace
    drop = int(tr.indices(EventKind.DROP)[0])
    # up to the drop: the drop, although ACKs and data follow it in the same rows
    after = int(L.rows_until(tr, int(tr.t[drop])))
    assert L.caption_row(tr, 0, after) == drop
    assert "dropped" in L.narration_line(tr, 0, after)
    # a stretch of routine traffic only: its latest headline row
    first_data = next(i for i in tr.indices(EventKind.SEG_SENT) if tr.c[i] > 0)
    row = L.caption_row(tr, int(first_data), int(first_data) + 1)
    assert row == first_data
    assert L.caption_row(tr, len(tr), len(tr)) is None


def test_the_lesson_module_needs_no_qt():
    code = ("import sys\n"
            "class B:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'):\n"
            "            raise ImportError(name)\n"
            "sys.meta_path.insert(0, B())\n"
            "from tcplab.lessons import builtin_lessons, load_lesson\n"
            "for p in builtin_lessons().values():\n"
            "    load_lesson(p).stop_times()\n"
            "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
