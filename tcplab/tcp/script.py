"""Scripted-segment tests: a small line-oriented language that drives one :class:`Connection`.

A script states the connection under test (its options, its ISS, the peer's ISS), then walks
through time: segments arrive from an imaginary peer (``<``), the connection must send exactly
the segments the script expects (``>``), the application calls in (``app``), and the
connection's variables, timers and state are checked (``expect``). The runner owns the clock:
before every line it fires each timer that falls due up to that line's time, in deadline
order, so segments a timer sends appear at their exact times. Any segment the script did not
expect is a failure.

The format is documented in ``docs/scripted-tests.md``. Entry points:

* :func:`parse_file` / :func:`parse_text` -> :class:`Script` (raise :class:`ScriptError`,
  ``FILE:LINE: problem``);
* :func:`run_script` / :meth:`Script.run` (raise :class:`ScriptFailure`, an
  ``AssertionError`` naming file, line, the expected line and what was really sent);
* ``python -m tcplab.tcp.script FILE... [-v]`` runs scripts and prints their transcripts.

Pure Python and I/O-free apart from reading the script file.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tcplab.net.packet import (ACK, CWR, ECE, FIN, OPT_EOL, OPT_MSS, OPT_NOP, OPT_SACK,
                               OPT_SACK_PERM, OPT_TIMESTAMP, OPT_WSCALE, PSH, RST, SYN, URG,
                               Segment, TcpOption)
from tcplab.scenario.units import parse_duration
from tcplab.sim.clock import MS, NS, SEC, US
from tcplab.tcp.config import BOOL_OPTIONS, TIME_OPTIONS, TcpConfig, option_names
from tcplab.tcp.connection import Connection, Note
from tcplab.trace.events import Detection, EventKind, SendReason, TcpState, TimerKind
from tcplab.trace.store import ConnInfo, Trace

__all__ = ["Script", "ScriptError", "ScriptFailure", "parse_file", "parse_text", "run_script",
           "render_segment", "LOCAL_IP", "REMOTE_IP", "LOCAL_PORT", "REMOTE_PORT"]

MASK = 0xFFFFFFFF
HALF = 0x80000000

LOCAL_IP, REMOTE_IP = 0xC0000201, 0xC0000202     # 192.0.2.1 (under test), 192.0.2.2 (peer)
LOCAL_PORT, REMOTE_PORT = 49152, 80
DEFAULT_ISS, DEFAULT_IRS = 100, 500
DEFAULT_PEER_WINDOW = 65535
#: How many transcript entries a failure message shows.
TRANSCRIPT_TAIL = 12

# tcpdump's flag letters; "." is ACK.
_FLAG_LETTERS = {"S": SYN, "F": FIN, "R": RST, "P": PSH, "U": URG, "E": ECE, "W": CWR, ".": ACK}
_FLAG_ORDER = "SFRPUEW."

_TIME_UNITS = {"s": SEC, "ms": MS, "us": US, "µs": US, "ns": NS}
_TIME_RE = re.compile(r"(\+)?([0-9]+(?:\.[0-9]*)?)(s|ms|us|µs|ns)?")


# ====================================================================== errors
class ScriptError(ValueError):
    """The script cannot be read: ``FILE:LINE: problem``."""

    def __init__(self, path: str, lineno: int, problem: str) -> None:
        self.path, self.lineno, self.problem = path, lineno, problem
        super().__init__(f"{path}:{lineno}: {problem}" if lineno else f"{path}: {problem}")


class ScriptFailure(AssertionError):
    """The connection did not behave as the script says."""

    def __init__(self, path: str, lineno: int, message: str) -> None:
        self.path, self.lineno = path, lineno
        super().__init__(message)


# ====================================================================== values
@dataclass(frozen=True)
class SeqNum:
    """A sequence number as written: relative to a base (ISS or IRS) unless ``absolute``."""

    value: int
    absolute: bool = False

    def resolve(self, base: int) -> int:
        return self.value & MASK if self.absolute else (base + self.value) & MASK


def _rel(value: int, base: int) -> int:
    """``value - base`` in sequence space, as a signed number."""
    d = (value - base) & MASK
    return d - (1 << 32) if d >= HALF else d


def fmt_time(t: int) -> str:
    """Seconds with at least three decimals: ``0.020``, ``1.5000`` -> ``1.500``, ``0.000250``."""
    sign = "-" if t < 0 else ""
    t = abs(t)
    frac = f"{t % SEC:09d}".rstrip("0")
    frac = frac.ljust(3, "0")
    return f"{sign}{t // SEC}.{frac}"


def flags_text(flags: int) -> str:
    """tcpdump's rendering: ``S``, ``S.``, ``P.``, ``F.``, ``R``, ``.``; ``-`` for none."""
    text = "".join(ch for ch in _FLAG_ORDER if flags & _FLAG_LETTERS[ch])
    return text or "-"


# ====================================================================== the parsed script
@dataclass
class OptPattern:
    """The options written inside ``<...>``: (kind, value) in written order, wildcards as
    None. ``more`` (written ``...``) allows further options in the actual segment."""

    items: list[tuple[int, object]]
    more: bool = False


@dataclass
class SegSpec:
    """One written segment. For an arriving one every field is concrete; for an expected
    one None means "not written" (or ``*``): any value matches."""

    flags: int | None = None
    seq: int | None = None           # absolute
    ack: int | None = None           # absolute
    win: int | None = None
    length: int | None = None
    data: bytes | None = None
    urg: int | None = None
    reason: SendReason | None = None
    options: OptPattern | None = None


@dataclass
class Step:
    lineno: int
    text: str
    time: int            # absolute ns
    kind: str            # open, in, out, nothing, app, state, timer, vars, note
    args: dict = field(default_factory=dict)


@dataclass
class Script:
    path: str
    config: TcpConfig
    iss: int
    irs: int
    steps: list[Step]
    xfail: str | None = None
    description: str = ""

    @property
    def name(self) -> str:
        return Path(self.path).stem

    def run(self, verbose: bool = False) -> "Runner":
        runner = Runner(self)
        runner.run()
        if verbose:
            print("\n".join(runner.transcript))
        return runner


# ====================================================================== lexing
def _split(line: str, fail: Callable[[str], None]) -> list[str]:
    """Whitespace-separated tokens; ``"..."`` strings and ``<...>`` option lists stay whole;
    ``#`` outside a string starts a comment."""
    tokens: list[str] = []
    cur = ""
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch == '"':
            j = i + 1
            while j < n and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            if j >= n:
                fail("unterminated string (a \" without its closing \")")
            cur += line[i:j + 1]
            i = j + 1
            continue
        if ch == "#":
            break
        if ch == "<" and not cur and i + 1 < n and not line[i + 1].isspace():
            j = line.find(">", i)
            if j >= 0:
                tokens.append(line[i:j + 1])
                i = j + 1
                continue
            # no closing '>': left to the parser, which names the mistake
        if ch.isspace():
            if cur:
                tokens.append(cur)
                cur = ""
        else:
            cur += ch
        i += 1
    if cur:
        tokens.append(cur)
    return tokens


def _strip_comment(line: str) -> str:
    out, quoted = [], False
    for i, ch in enumerate(line):
        if ch == '"' and (i == 0 or line[i - 1] != "\\"):
            quoted = not quoted
        if ch == "#" and not quoted:
            break
        out.append(ch)
    return "".join(out).strip()


# ====================================================================== the parser
_HEADER = {"config", "iss", "irs", "xfail", "numbering"}
_SEG_KEYS_IN = {"seq", "ack", "win", "len", "data", "urg"}
_SEG_KEYS_OUT = _SEG_KEYS_IN | {"reason"}

#: ``expect NAME=VALUE``: how to read each name from a connection and how its value is written.
#: seq_local: relative to our ISS; seq_peer: relative to the peer's (IRS); time: seconds or a
#: unit (srtt and rttvar may be ``none`` before the first sample).
VARS: dict[str, tuple[Callable[[Connection], object], str]] = {
    "cwnd": (lambda c: c.ccs.cwnd, "int"),
    "ssthresh": (lambda c: c.ccs.ssthresh, "int"),
    "smss": (lambda c: c.smss, "int"),
    "snd_una": (lambda c: c.snd_una, "seq_local"),
    "snd_nxt": (lambda c: c.snd_nxt, "seq_local"),
    "snd_max": (lambda c: c.snd_max, "seq_local"),
    "recover": (lambda c: c.recover, "seq_local"),
    "snd_wl2": (lambda c: c.snd_wl2, "seq_local"),
    "snd_wnd": (lambda c: c.snd_wnd, "int"),
    "max_snd_wnd": (lambda c: c.max_snd_wnd, "int"),
    "rcv_nxt": (lambda c: c.rcv_nxt, "seq_peer"),
    "snd_wl1": (lambda c: c.snd_wl1, "seq_peer"),
    "rcv_wnd": (lambda c: c.rcv_wnd, "int"),
    "srtt": (lambda c: c.rtt.srtt, "time"),
    "rttvar": (lambda c: c.rtt.rttvar, "time"),
    "rto": (lambda c: c.rtt.rto, "time"),
    "backoff": (lambda c: c.rtt.backoff, "int"),
    "rtt_samples": (lambda c: c.rtt.samples, "int"),
    "dupacks": (lambda c: c.dupacks, "int"),
    "retries": (lambda c: c.retries, "int"),
    "in_recovery": (lambda c: c.in_recovery, "bool"),
    "flight": (lambda c: c.bytes_in_flight, "int"),
    "readable": (lambda c: c.readable(), "int"),
    "written": (lambda c: c.written, "int"),
    "peer_fin": (lambda c: c.peer_fin, "bool"),
    "fin_sent": (lambda c: c.fin_sent, "bool"),
    "fin_acked": (lambda c: c.fin_acked, "bool"),
    "sack_ok": (lambda c: c.sack_ok, "bool"),
    "ts_ok": (lambda c: c.ts_ok, "bool"),
    "ws_ok": (lambda c: c.ws_ok, "bool"),
    "snd_wscale": (lambda c: c.snd_wscale, "int"),
    "rcv_wscale": (lambda c: c.rcv_wscale, "int"),
    "ts_recent": (lambda c: c.ts_recent, "int"),
}

_NOTES = {v for k, v in vars(Note).items() if not k.startswith("_") and isinstance(v, str)}
#: ``expect detect NAME``: what the connection's DETECT trace events report (Eifel's verdict on
#: a retransmission, the start and end of loss recovery, giving up on a dead peer).
_DETECTS = {d.name for d in Detection}


def _enum(enum, word: str):
    key = word.upper().replace("-", "_")
    try:
        return enum[key]
    except KeyError:
        return None


class _Parser:
    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.lineno = 0
        self.cfg_changes: dict[str, object] = {}
        self.iss: int | None = None
        self.irs: int | None = None
        self.xfail: str | None = None
        self.absolute = False
        self.steps: list[Step] = []
        self.now = 0
        self.started = False
        self.cfg: TcpConfig | None = None

    def fail(self, problem: str):
        raise ScriptError(self.path, self.lineno, problem)

    # ---------------------------------------------------------------- driver
    def parse(self) -> Script:
        description: list[str] = []
        in_intro = True
        for self.lineno, raw in enumerate(self.text.splitlines(), 1):
            stripped = raw.strip()
            if in_intro and stripped.startswith("#"):
                description.append(stripped.lstrip("#").strip())
                continue
            if stripped or description:
                in_intro = False      # the description is the first block of comments
            text = _strip_comment(raw)
            if not text:
                continue
            tokens = _split(raw, self.fail)
            if not tokens:
                continue
            self.line(tokens, text)
        self.lineno = 0
        self.freeze_header()
        if not self.steps:
            self.fail("the script has no steps (open, <, >, app, expect)")
        return Script(self.path, self.cfg, self.iss, self.irs, self.steps, self.xfail,
                      "\n".join(description).strip())

    def line(self, tokens: list[str], text: str) -> None:
        word = tokens[0]
        if word in _HEADER:
            if self.started:
                self.fail(f"'{word}' belongs to the header, before the first step")
            getattr(self, "head_" + word)(tokens[1:], text)
            return
        time = self.now
        m = _TIME_RE.fullmatch(word)
        if m:
            time = self.time(word, self.now)
            tokens = tokens[1:]
            if not tokens:
                self.fail("a time with nothing to do at it")
            word = tokens[0]
        self.freeze_header()
        self.started = True
        handler = {"open": self.step_open, "<": self.step_in, ">": self.step_out,
                   "app": self.step_app, "expect": self.step_expect}.get(word)
        if handler is None:
            if word.startswith(("<", ">")):
                self.fail(f"write a space after the direction: '{word[0]} {word[1:]}'")
            self.fail(f"unknown command {word!r}; a line is a header line (config, iss, irs, "
                      f"numbering, xfail) or [TIME] open | < | > | app | expect")
        if time < self.now:
            self.fail(f"time {fmt_time(time)} is before the previous line's {fmt_time(self.now)}")
        self.now = time
        step = Step(self.lineno, text, time, "")
        handler(tokens[1:], step)
        self.steps.append(step)

    def time(self, word: str, base: int) -> int:
        m = _TIME_RE.fullmatch(word)
        if not m:
            self.fail(f"not a time: {word!r} (write 0.100, 100ms, +20ms, +1s, +250us)")
        value = float(m.group(2)) * _TIME_UNITS[m.group(3) or "s"]
        t = int(round(value))
        return base + t if m.group(1) else t

    # ---------------------------------------------------------------- header
    def head_config(self, args: list[str], text: str) -> None:
        if not args:
            self.fail("config needs NAME=VALUE pairs, e.g. config mss=500 delayed_ack=false")
        names = option_names()
        for a in args:
            name, eq, value = a.partition("=")
            if not eq or not value:
                self.fail(f"config takes NAME=VALUE, not {a!r}")
            if name not in names:
                self.fail(f"unknown TCP option {name!r}; options: {', '.join(sorted(names))}")
            if name in self.cfg_changes:
                self.fail(f"config option {name!r} set twice")
            self.cfg_changes[name] = self.config_value(name, value)

    def config_value(self, name: str, value: str) -> object:
        try:
            if name in TIME_OPTIONS:
                return parse_duration(float(value) if re.fullmatch(r"[0-9.eE+-]+", value)
                                      else value)
            if name in BOOL_OPTIONS:
                if value not in ("true", "false"):
                    raise ValueError(f"expected true or false, got {value!r}")
                return value == "true"
            if name == "cc":
                return value.lower()
            if name in ("iw", "isn") and value == "none":
                return None
            return int(value, 0)
        except ValueError as e:
            self.fail(f"config {name}: {e}")

    def head_iss(self, args: list[str], text: str) -> None:
        self.iss = self.seq_header("iss", args)

    def head_irs(self, args: list[str], text: str) -> None:
        self.irs = self.seq_header("irs", args)

    def seq_header(self, what: str, args: list[str]) -> int:
        if len(args) != 1:
            self.fail(f"{what} takes one sequence number, e.g. '{what} 100'")
        n = self.integer(args[0], what)
        if not 0 <= n <= MASK:
            self.fail(f"{what} {n} is not a 32-bit sequence number")
        return n

    def head_xfail(self, args: list[str], text: str) -> None:
        reason = text[len("xfail"):].strip()
        if not reason:
            self.fail("xfail needs a reason: the engine bug the script exposes")
        self.xfail = reason

    def head_numbering(self, args: list[str], text: str) -> None:
        if args not in (["relative"], ["absolute"]):
            self.fail("numbering is 'relative' (the default) or 'absolute'")
        self.absolute = args[0] == "absolute"

    def freeze_header(self) -> None:
        if self.cfg is not None:
            return
        try:
            self.cfg = TcpConfig(**self.cfg_changes)
        except ValueError as e:
            self.fail(f"config: {e}")
        if self.iss is None:
            self.iss = self.cfg.isn if self.cfg.isn is not None else DEFAULT_ISS
        if self.irs is None:
            self.irs = DEFAULT_IRS

    # ---------------------------------------------------------------- values
    def integer(self, word: str, what: str) -> int:
        try:
            return int(word, 0)
        except ValueError:
            self.fail(f"{what}: not a number: {word!r}")

    def count(self, word: str, what: str, wild: bool) -> int | None:
        if word == "*":
            if not wild:
                self.fail(f"{what}=* is a wildcard, only for expected ('>') lines")
            return None
        n = self.integer(word, what)
        if n < 0:
            self.fail(f"{what} must not be negative")
        return n

    def seqnum(self, word: str, what: str, base: int) -> int:
        absolute = self.absolute
        if word.startswith("@"):
            absolute, word = True, word[1:]
        n = self.integer(word, what)
        if absolute and not 0 <= n <= MASK:
            self.fail(f"{what}=@{n} is not a 32-bit sequence number")
        return SeqNum(n, absolute).resolve(base)

    def bytes_value(self, word: str, what: str) -> bytes:
        if not (len(word) >= 2 and word[0] == word[-1] == '"'):
            self.fail(f'{what} takes a quoted string, e.g. {what}="hello\\n"')
        try:
            s = ast.literal_eval(word)
            return s.encode("latin-1")
        except (ValueError, SyntaxError, UnicodeEncodeError) as e:
            self.fail(f"{what}: bad string {word}: {e}")

    def flags(self, word: str, wild: bool) -> int | None:
        if word == "*":
            if not wild:
                self.fail("an arriving segment needs real flags, not '*'")
            return None
        if word == "-":
            return 0
        bits = 0
        for ch in word:
            bit = _FLAG_LETTERS.get(ch)
            if bit is None:
                self.fail(f"bad flags {word!r}: use tcpdump's letters S F R P U E W and '.' "
                          f"for ACK (S, S., ., P., F., R, R.), or '-' for none")
            if bits & bit:
                self.fail(f"flag {ch!r} written twice in {word!r}")
            bits |= bit
        return bits

    # ---------------------------------------------------------------- steps
    def step_open(self, args: list[str], step: Step) -> None:
        if args not in (["active"], ["passive"]):
            self.fail("open takes 'active' (send SYN) or 'passive' (LISTEN)")
        step.kind = "open"
        step.args["mode"] = args[0]

    def step_in(self, args: list[str], step: Step) -> None:
        step.kind = "in"
        spec = self.segment(args, outgoing=False)
        step.args["seg"] = spec

    def step_out(self, args: list[str], step: Step) -> None:
        if args and args[0] in ("nothing", "none"):
            step.kind = "nothing"
            rest = args[1:]
            until = step.time
            if rest:
                if len(rest) != 2 or rest[0] != "until":
                    self.fail("write '> nothing' or '> nothing until TIME' (e.g. +200ms)")
                until = self.time(rest[1], step.time)
                if until < step.time:
                    self.fail(f"'until {rest[1]}' lies before the line's own time")
            step.args["until"] = until
            self.now = until
            return
        step.kind = "out"
        step.args["seg"] = self.segment(args, outgoing=True)

    def segment(self, args: list[str], outgoing: bool) -> SegSpec:
        direction = ">" if outgoing else "<"
        if not args:
            self.fail(f"'{direction}' needs flags, e.g. '{direction} S. seq=0 ack=1'"
                      + (" (or '> nothing')" if outgoing else ""))
        spec = SegSpec(flags=self.flags(args[0], wild=outgoing))
        # Our segments count from our ISS and acknowledge the peer's; arriving ones the reverse.
        seq_base, ack_base = (self.iss, self.irs) if outgoing else (self.irs, self.iss)
        keys = _SEG_KEYS_OUT if outgoing else _SEG_KEYS_IN
        seen: set[str] = set()
        seq_end: int | None = None
        for a in args[1:]:
            if a.startswith("<"):
                if "options" in seen:
                    self.fail("two option lists on one segment")
                seen.add("options")
                spec.options = self.options(a, outgoing, ack_base)
                continue
            key, eq, value = a.partition("=")
            if not eq:
                self.fail(f"expected NAME=VALUE or <options>, not {a!r}")
            if key not in keys:
                extra = " (reason= only on expected '>' lines)" if key == "reason" else ""
                self.fail(f"unknown segment field {key!r}{extra}; fields: "
                          f"{', '.join(sorted(keys))}")
            if key in seen:
                self.fail(f"{key}= written twice")
            seen.add(key)
            if not value:
                self.fail(f"{key}= needs a value")
            if value == "*":
                if not outgoing:
                    self.fail(f"{key}=* is a wildcard, only for expected ('>') lines")
                continue
            if key == "seq":
                first, colon, last = value.partition(":")
                spec.seq = self.seqnum(first, "seq", seq_base)
                if colon:
                    seq_end = self.seqnum(last, "seq end", seq_base)
                    seq_end = (seq_end - spec.seq) & MASK
                    if seq_end >= HALF:
                        self.fail(f"seq={value}: the end lies before the start")
            elif key == "ack":
                spec.ack = self.seqnum(value, "ack", ack_base)
            elif key == "win":
                spec.win = self.count(value, "win", outgoing)
                if spec.win is not None and spec.win > 0xFFFF:
                    self.fail(f"win={spec.win} does not fit the 16-bit window field (the "
                              f"script gives raw header values, before any scaling)")
            elif key == "len":
                spec.length = self.count(value, "len", outgoing)
            elif key == "urg":
                spec.urg = self.count(value, "urg", outgoing)
            elif key == "data":
                spec.data = self.bytes_value(value, "data")
            elif key == "reason":
                spec.reason = _enum(SendReason, value)
                if spec.reason is None:
                    self.fail(f"unknown reason {value!r}; reasons: "
                              f"{', '.join(r.name for r in SendReason)}")
        if seq_end is not None:
            if spec.length is not None and spec.length != seq_end:
                self.fail(f"seq range says {seq_end} bytes but len={spec.length}")
            spec.length = seq_end
        if spec.data is not None and spec.length is not None and spec.length != len(spec.data):
            self.fail(f"len={spec.length} but data= holds {len(spec.data)} bytes")
        if not outgoing:
            if spec.seq is None:
                self.fail("an arriving segment needs seq=")
            if spec.flags & ACK and spec.ack is None:
                self.fail("an arriving segment with the ACK flag ('.') needs ack=")
            if spec.ack is None:
                spec.ack = 0
            if spec.win is None:
                spec.win = DEFAULT_PEER_WINDOW
        return spec

    def options(self, token: str, outgoing: bool, sack_base: int) -> OptPattern:
        if not token.endswith(">"):
            self.fail("option list '<' without its closing '>'")
        body = token[1:-1].strip()
        pat = OptPattern([])
        if not body:
            return pat
        for item in (p.strip() for p in body.split(",")):
            words = item.split()
            if not words:
                self.fail(f"empty option in {token}")
            name, vals = words[0].lower(), words[1:]

            def one(kind: int, what: str, limit: int) -> None:
                if len(vals) != 1:
                    self.fail(f"option '{what}' takes one value, e.g. <{what} "
                              f"{500 if kind == OPT_MSS else 7}>")
                v = self.count(vals[0], what, outgoing)
                if v is not None and v > limit:
                    self.fail(f"option {what} {v} exceeds {limit}")
                pat.items.append((kind, v))

            if name == "...":
                if not outgoing:
                    self.fail("'...' (other options allowed) only in expected ('>') lines")
                pat.more = True
            elif name == "mss":
                one(OPT_MSS, "mss", 0xFFFF)
            elif name in ("ws", "wscale"):
                one(OPT_WSCALE, "ws", 255)
            elif name in ("sack_perm", "sackok"):
                if vals:
                    self.fail("sack_perm takes no value")
                pat.items.append((OPT_SACK_PERM, True))
            elif name == "ts":
                if len(vals) == 4 and vals[0].lower() == "val" and vals[2].lower() == "ecr":
                    vals = [vals[1], vals[3]]
                if len(vals) != 2:
                    self.fail("option ts takes TSval and TSecr: <ts 1200 0> (or ts val 1200 "
                              "ecr 0); '*' for either in expected lines")
                tv = self.count(vals[0], "ts val", outgoing)
                te = self.count(vals[1], "ts ecr", outgoing)
                for v in (tv, te):
                    if v is not None and v > MASK:
                        self.fail("timestamps are 32-bit values")
                pat.items.append((OPT_TIMESTAMP, (tv, te)))
            elif name == "sack":
                if vals == ["*"]:
                    if not outgoing:
                        self.fail("sack * is a wildcard, only for expected ('>') lines")
                    pat.items.append((OPT_SACK, None))
                    continue
                if not vals or len(vals) > 4:
                    self.fail("option sack takes 1 to 4 blocks LEFT:RIGHT (or LEFT-RIGHT), "
                              "e.g. <sack 1001:1501 2001:3001>")
                blocks = []
                for b in vals:
                    left, sep, right = b.partition(":") if ":" in b else b.partition("-")
                    if not sep or not left:
                        self.fail(f"sack block {b!r} is not LEFT:RIGHT")
                    blocks.append((self.seqnum(left, "sack left edge", sack_base),
                                   self.seqnum(right, "sack right edge", sack_base)))
                pat.items.append((OPT_SACK, tuple(blocks)))
            elif name in ("nop", "eol"):
                if outgoing:
                    self.fail(f"'{name}' is padding, which expected lines do not compare; "
                              f"leave it out")
                if vals:
                    self.fail(f"{name} takes no value")
                pat.items.append((OPT_NOP if name == "nop" else OPT_EOL, None))
            elif name == "opt":
                if len(vals) != 2:
                    self.fail("a raw option is written 'opt KIND HEXDATA', e.g. <opt 30 0a0b>")
                kind = self.integer(vals[0], "option kind")
                if not 0 <= kind <= 255:
                    self.fail(f"option kind {kind} is outside 0..255")
                if vals[1] == "*":
                    if not outgoing:
                        self.fail("'*' only in expected ('>') lines")
                    pat.items.append((kind, None))
                    continue
                try:
                    pat.items.append((kind, bytes.fromhex(vals[1])))
                except ValueError:
                    self.fail(f"option data {vals[1]!r} is not hex")
            else:
                self.fail(f"unknown option {name!r}; options: mss N, ws N, sack_perm, "
                          f"ts VAL ECR, sack L:R ..., nop, eol, opt KIND HEX, ... (any others)")
        return pat

    def step_app(self, args: list[str], step: Step) -> None:
        step.kind = "app"
        if not args:
            self.fail("app needs a call: send, read, close, abort")
        call, rest = args[0], args[1:]
        step.args["call"] = call
        if call == "send":
            if not rest:
                self.fail('app send needs a byte count or a string: app send 1000 | app send "hi"')
            if rest[0].startswith('"'):
                step.args["data"] = self.bytes_value(rest[0], "app send")
            else:
                step.args["n"] = self.count(rest[0], "app send", False)
            step.args["accepted"] = "all"
            for a in rest[1:]:
                key, eq, value = a.partition("=")
                if key != "accepted" or not eq:
                    self.fail(f"app send takes only accepted=N (or accepted=*), not {a!r}")
                step.args["accepted"] = self.count(value, "accepted", True)
        elif call == "read":
            step.args["n"] = None
            for a in rest:
                key, eq, value = a.partition("=")
                if not eq:
                    step.args["n"] = self.count(a, "app read", False)
                elif key == "len":
                    step.args["len"] = self.count(value, "len", True)
                elif key == "data":
                    step.args["data"] = self.bytes_value(value, "data")
                else:
                    self.fail(f"app read takes [N] [len=N] [data=\"...\"], not {a!r}")
        elif call in ("close", "abort"):
            if rest:
                self.fail(f"app {call} takes no arguments")
        else:
            self.fail(f"unknown app call {call!r}; calls: send, read, close, abort")

    def step_expect(self, args: list[str], step: Step) -> None:
        if not args:
            self.fail("expect what? state NAME | timer KIND at TIME|off|on | note NAME | "
                      "detect NAME | NAME=VALUE ...")
        what = args[0]
        if what == "state":
            if len(args) != 2:
                self.fail("expect state takes one state, e.g. expect state ESTABLISHED")
            st = _enum(TcpState, args[1])
            if st is None:
                self.fail(f"unknown state {args[1]!r}; states: "
                          f"{', '.join(s.label for s in TcpState)}")
            step.kind, step.args["state"] = "state", st
        elif what == "timer":
            if len(args) < 3:
                self.fail("expect timer KIND at TIME | off | on, e.g. expect timer RTO at +1s")
            kind = _enum(TimerKind, args[1])
            if kind is None:
                self.fail(f"unknown timer {args[1]!r}; timers: "
                          f"{', '.join(k.name for k in TimerKind)}")
            step.kind, step.args["timer"] = "timer", kind
            if args[2:] == ["off"] or args[2:] == ["on"]:
                step.args["at"] = args[2]
            elif len(args) == 4 and args[2] == "at":
                step.args["at"] = self.time(args[3], step.time)
            else:
                self.fail("expect timer KIND takes 'at TIME' (absolute, or +TIME from this "
                          "line), 'off' or 'on'")
        elif what == "detect" or (what == "no" and args[1:2] == ["detect"]):
            negate = what == "no"
            rest = args[2:] if negate else args[1:]
            name = rest[0].upper().replace("-", "_") if len(rest) == 1 else ""
            if name not in _DETECTS:
                self.fail(f"expect {'no ' if negate else ''}detect takes one of: "
                          f"{', '.join(d.name for d in Detection)}")
            step.kind = "detect"
            step.args.update(detect=name, negate=negate)
        elif what in ("note", "no"):
            negate = what == "no"
            rest = args[1:]
            if negate:
                if not rest or rest[0] != "note":
                    self.fail("write 'expect no note NAME' or 'expect no detect NAME'")
                rest = rest[1:]
            if len(rest) != 1 or rest[0].lower() not in _NOTES:
                self.fail(f"expect {'no ' if negate else ''}note takes one of: "
                          f"{', '.join(sorted(_NOTES))}")
            step.kind = "note"
            step.args.update(note=rest[0].lower(), negate=negate)
        else:
            checks = []
            for a in args:
                name, eq, value = a.partition("=")
                if not eq:
                    self.fail(f"expect takes state, timer, note or NAME=VALUE, not {a!r} "
                              f"(or detect NAME)")
                if name not in VARS:
                    self.fail(f"unknown variable {name!r}; variables: {', '.join(VARS)}")
                checks.append((name, self.var_value(name, value)))
            step.kind, step.args["checks"] = "vars", checks

    def var_value(self, name: str, value: str) -> object:
        if value == "*":
            return None
        kind = VARS[name][1]
        if kind == "int":
            return self.integer(value, name)
        if kind == "bool":
            if value not in ("true", "false"):
                self.fail(f"{name} is true or false, not {value!r}")
            return value == "true"
        if kind == "time":
            if value == "none":
                return "none"
            m = _TIME_RE.fullmatch(value)
            if not m or m.group(1):
                self.fail(f"{name}: not a duration: {value!r} (write 1.5, 1500ms, 20ms)")
            return self.time(value, 0)
        base = self.iss if kind == "seq_local" else self.irs
        return self.seqnum(value, name, base)


def parse_text(text: str, path: str = "<script>") -> Script:
    """Parse a script's text; ``path`` names it in error messages."""
    return _Parser(text, path).parse()


def parse_file(path: str | Path) -> Script:
    p = Path(path)
    return parse_text(p.read_text(encoding="utf-8"), str(p))


# ====================================================================== rendering
def render_segment(seg: Segment, seq_base: int, ack_base: int, reason: SendReason | None = None,
                   absolute: bool = False, padding: bool = True) -> str:
    """A segment in script syntax (tcpdump-like), numbers relative to the bases given.
    Without ``padding`` NOP and EOL options are left out, as expected lines write them."""
    def num(v: int, base: int) -> str:
        return f"@{v}" if absolute else str(_rel(v, base))

    parts = [flags_text(seg.flags)]
    n = len(seg.payload)
    if n:
        parts.append(f"seq={num(seg.seq, seq_base)}:{num((seg.seq + n) & MASK, seq_base)}")
    else:
        parts.append(f"seq={num(seg.seq, seq_base)}")
    if seg.flags & ACK:
        parts.append(f"ack={num(seg.ack, ack_base)}")
    elif seg.ack:
        parts.append(f"ack=@{seg.ack}")
    parts.append(f"win={seg.window}")
    if seg.urg_ptr:
        parts.append(f"urg={seg.urg_ptr}")
    if seg.options:
        opts = render_options(seg.options, ack_base, absolute, padding)
        if opts != "<>":
            parts.append(opts)
    if reason is not None:
        parts.append(f"reason={reason.name}")
    return " ".join(parts)


def render_options(options, sack_base: int, absolute: bool = False,
                   padding: bool = True) -> str:
    """``<mss 500, sack_perm, ts 1 0, ws 7>``; NOP and EOL only with ``padding``."""
    items = []
    for opt in options:
        k, v = opt.kind, opt.value
        if not padding and k in (OPT_NOP, OPT_EOL):
            continue
        if k == OPT_MSS:
            items.append(f"mss {v}")
        elif k == OPT_WSCALE:
            items.append(f"ws {v}")
        elif k == OPT_SACK_PERM:
            items.append("sack_perm")
        elif k == OPT_TIMESTAMP:
            items.append(f"ts {v[0]} {v[1]}")
        elif k == OPT_SACK:
            def num(x: int) -> str:
                return f"@{x}" if absolute else str(_rel(x, sack_base))
            items.append("sack " + " ".join(f"{num(a)}:{num(b)}" for a, b in v))
        elif k == OPT_NOP:
            items.append("nop")
        elif k == OPT_EOL:
            items.append("eol")
        else:
            data = v.hex() if isinstance(v, (bytes, bytearray)) else str(v)
            items.append(f"opt {k} {data}")
    return "<" + ", ".join(items) + ">"


def _render_pattern_value(kind: int, v, sack_base: int) -> str:
    if kind == OPT_MSS:
        return f"mss {'*' if v is None else v}"
    if kind == OPT_WSCALE:
        return f"ws {'*' if v is None else v}"
    if kind == OPT_SACK_PERM:
        return "sack_perm"
    if kind == OPT_TIMESTAMP:
        return "ts " + " ".join("*" if x is None else str(x) for x in v)
    if kind == OPT_SACK:
        if v is None:
            return "sack *"
        return "sack " + " ".join(f"{_rel(a, sack_base)}:{_rel(b, sack_base)}" for a, b in v)
    return f"opt {kind} {'*' if v is None else v.hex()}"


# ====================================================================== running
def _letters(upper: bool, start: int, n: int) -> bytes:
    """Filler text: the byte at stream offset k is the letter k mod 26 (our data lower case,
    the peer's upper case), so retransmissions carry the same bytes as the originals."""
    a = ord("A" if upper else "a")
    return bytes(a + (start + i) % 26 for i in range(n))


class Runner:
    """Runs one parsed script against a fresh :class:`Connection`."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.iss, self.irs = script.iss, script.irs
        trace = Trace()
        trace.nodes += ["local", "peer"]
        info = trace.add_conn(ConnInfo(-1, 0, LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT,
                                       "script", "client", iss=self.iss))
        self.trace = trace
        self.conn = Connection(script.config, LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT,
                               self.iss, trace, info.id, 0)
        self.now = 0
        self.pending: list[tuple[int, Segment, SendReason]] = []
        self.transcript: list[str] = []
        self.notes: list[str] = []
        self._note_pos = 0
        self.detects: list[str] = []     # DETECT events of the connection's trace, by name
        self._detect_pos = 0
        self._trace_pos = 0
        self._state = self.conn.state
        self._written = 0
        self.step: Step | None = None

    # ---------------------------------------------------------------- helpers
    def out_text(self, seg: Segment, reason: SendReason | None) -> str:
        return render_segment(seg, self.iss, self.irs, reason, padding=False)

    def in_text(self, seg: Segment) -> str:
        return render_segment(seg, self.irs, self.iss)

    def log(self, t: int, text: str) -> None:
        self.transcript.append(f"{fmt_time(t):>10}  {text}")

    def fail(self, problem: str, details: list[str] = ()) -> None:
        step = self.step
        lines = [f"{self.script.path}:{step.lineno}: {problem}",
                 f"  script line {step.lineno}: {step.text}"]
        lines += [f"  {d}" for d in details]
        tail = self.transcript[-TRANSCRIPT_TAIL:]
        if tail:
            lines.append("  transcript (times in s; our segments '>', the peer's '<'):")
            lines += [f"    {t}" for t in tail]
        raise ScriptFailure(self.script.path, step.lineno, "\n".join(lines))

    def collect(self, t: int) -> None:
        """Take what the connection sent at time ``t`` and its notes; log state changes."""
        for seg, reason in self.conn.poll_output(t):
            self.pending.append((t, seg, reason))
            self.log(t, "> " + self.out_text(seg, reason))
        if self.conn.notes:
            for n in self.conn.notes:
                self.log(t, f"  note {n}")
            self.notes += self.conn.notes
            self.conn.notes.clear()
        self.collect_detects()
        if self.conn.state != self._state:
            self.log(t, f"  state {self._state.label} -> {self.conn.state.label}")
            self._state = self.conn.state

    def collect_detects(self) -> None:
        """Take the DETECT events the connection wrote to its trace since the last call."""
        trace = self.trace
        end = len(trace)
        if end == self._trace_pos:
            return
        for i in range(self._trace_pos, end):
            t, kind, _node, _conn, _pkt, a, b, c, d = trace.row(i)
            if kind == EventKind.DETECT:
                what = Detection(a)
                self.detects.append(what.name)
                self.log(t, f"  detect {what.name} {self.detect_details(what, b, c, d)}")
        self._trace_pos = end

    def detect_details(self, what: Detection, b: int, c: int, d: int) -> str:
        """The fields of one DETECT event in words (see ``Detection``), numbers relative."""
        if what in (Detection.SPURIOUS_RETX, Detection.GENUINE_RETX):
            text = f"(seq {_rel(b, self.iss)}, {SendReason(c).name}"
            if what == Detection.SPURIOUS_RETX:
                text += f", TSval - TSecr = {d} ms"
            return text + ")"
        if what == Detection.RECOVERY_START:
            return f"(recover {_rel(b, self.iss)}, {'SACK' if c else 'NewReno'}, FlightSize {d})"
        if what == Detection.RECOVERY_END:
            return "(timeout)" if b == -1 else f"(ack {_rel(b, self.iss)})"
        if what == Detection.PEER_DEAD:
            return f"(user timeout, {b} ms)" if c else f"(keep-alive, {b} probes)"
        return f"({b}, {c}, {d})"

    def advance(self, until: int) -> None:
        """Fire every timer due at or before ``until``, earliest first."""
        conn = self.conn
        for _ in range(100_000):
            due = [(d, k) for k, d in enumerate(conn.deadlines) if d is not None and d <= until]
            if not due:
                break
            d, k = min(due)
            if d < self.now:
                self.fail(f"the engine left timer {TimerKind(k).name} due at {fmt_time(d)}, "
                          f"before the current time {fmt_time(self.now)}")
            self.now = d
            self.log(d, f"  timer {TimerKind(k).name} expires")
            conn.on_timer(d, TimerKind(k))
            self.collect(d)
        else:
            self.fail("more than 100000 timer expiries: the engine keeps re-arming a timer")
        self.now = until

    def next_timers(self) -> str:
        armed = sorted((d, TimerKind(k).name) for k, d in enumerate(self.conn.deadlines)
                       if d is not None)
        if not armed:
            return "no timer is running"
        return "timers running: " + ", ".join(f"{n} at {fmt_time(d)}" for d, n in armed)

    def require_quiet(self, what: str) -> None:
        """Fail if anything was sent that no expected line accounted for."""
        if self.pending:
            t, seg, reason = self.pending[0]
            more = f" (and {len(self.pending) - 1} more)" if len(self.pending) > 1 else ""
            self.fail(f"unexpected segment sent at {fmt_time(t)}{more}, {what}",
                      [f"sent:  > {self.out_text(seg, reason)}"])

    # ---------------------------------------------------------------- the run
    def run(self) -> None:
        for step in self.script.steps:
            self.step = step
            try:
                self.advance(step.time)
                getattr(self, "do_" + step.kind)(step)
            except ScriptFailure:
                raise
            except Exception as e:
                e.add_note(f"{self.script.path}:{step.lineno}: while running: {step.text}")
                raise
        self.require_quiet("not expected by the end of the script")

    def do_open(self, step: Step) -> None:
        self.require_quiet("before this line")
        self.log(step.time, f"open {step.args['mode']}")
        if step.args["mode"] == "active":
            self.conn.open_active(step.time)
        else:
            self.conn.open_passive(step.time)
        self.collect(step.time)

    def do_in(self, step: Step) -> None:
        self.require_quiet("before this segment arrived")
        spec: SegSpec = step.args["seg"]
        payload = spec.data
        if payload is None:
            first = (spec.seq + (1 if spec.flags & SYN else 0) - self.irs - 1) & MASK
            payload = _letters(True, first, spec.length or 0)
        opts = ()
        if spec.options is not None:
            opts = tuple(TcpOption(k, v) for k, v in spec.options.items)
        seg = Segment(REMOTE_PORT, LOCAL_PORT, spec.seq, spec.ack, spec.flags, spec.win,
                      payload, opts, spec.urg or 0)
        self.log(step.time, "< " + self.in_text(seg))
        self.conn.on_segment(step.time, seg)
        self.collect(step.time)

    def do_app(self, step: Step) -> None:
        self.require_quiet("before this call")
        conn, a, t = self.conn, step.args, step.time
        call = a["call"]
        if call == "send":
            data = a.get("data")
            if data is None:
                data = _letters(False, self._written, a["n"])
            n = conn.send(t, data)
            self._written += n
            self.log(t, f"app send {len(data)} -> accepted {n}")
            want = len(data) if a["accepted"] == "all" else a["accepted"]
            if want is not None and n != want:
                self.fail(f"the send buffer accepted {n} bytes, the script expects {want}")
        elif call == "read":
            got = conn.read(t, a["n"])
            self.log(t, f"app read -> {len(got)} bytes")
            if a.get("len") is not None and len(got) != a["len"]:
                self.fail(f"read returned {len(got)} bytes, the script expects {a['len']}")
            if a.get("data") is not None and got != a["data"]:
                self.fail(f"read returned {got!r}, the script expects {a['data']!r}")
        elif call == "close":
            self.log(t, "app close")
            conn.close(t)
        elif call == "abort":
            self.log(t, "app abort")
            conn.abort(t)
        self.collect(t)

    def do_out(self, step: Step) -> None:
        spec: SegSpec = step.args["seg"]
        if not self.pending:
            self.fail(f"expected a segment at {fmt_time(step.time)}, but nothing was sent",
                      [self.next_timers()])
        t, seg, reason = self.pending.pop(0)
        problems = self.compare(spec, seg, reason)
        if t != step.time:
            problems.insert(0, f"time: sent at {fmt_time(t)}, expected at {fmt_time(step.time)}")
        if problems:
            self.fail("the segment sent does not match",
                      [f"sent:  > {self.out_text(seg, reason)}   (at {fmt_time(t)})"]
                      + [f"- {p}" for p in problems])

    def compare(self, spec: SegSpec, seg: Segment, reason: SendReason) -> list[str]:
        p: list[str] = []
        if spec.flags is not None and spec.flags != seg.flags:
            p.append(f"flags: sent {flags_text(seg.flags)}, expected {flags_text(spec.flags)}")
        if spec.seq is not None and spec.seq != seg.seq:
            p.append(f"seq: sent {_rel(seg.seq, self.iss)}, expected "
                     f"{_rel(spec.seq, self.iss)} (absolute {seg.seq} vs {spec.seq})")
        if spec.ack is not None and spec.ack != seg.ack:
            sent = (_rel(seg.ack, self.irs) if seg.flags & ACK
                    else f"@{seg.ack} (the ACK flag is not set)")
            p.append(f"ack: sent {sent}, expected {_rel(spec.ack, self.irs)} "
                     f"(absolute {seg.ack} vs {spec.ack})")
        if spec.win is not None and spec.win != seg.window:
            p.append(f"win: sent {seg.window}, expected {spec.win}")
        if spec.length is not None and spec.length != len(seg.payload):
            p.append(f"len: sent {len(seg.payload)} bytes, expected {spec.length}")
        if spec.data is not None and spec.data != seg.payload:
            p.append(f"data: sent {bytes(seg.payload)!r}, expected {spec.data!r}")
        if spec.urg is not None and spec.urg != seg.urg_ptr:
            p.append(f"urg: sent {seg.urg_ptr}, expected {spec.urg}")
        if spec.reason is not None and spec.reason != reason:
            p.append(f"reason: sent for {reason.name}, expected {spec.reason.name}")
        if spec.options is not None:
            p += self.compare_options(spec.options, seg)
        return p

    def compare_options(self, pat: OptPattern, seg: Segment) -> list[str]:
        actual = [o for o in seg.options if o.kind not in (OPT_NOP, OPT_EOL)]
        used = [False] * len(actual)
        missing = []
        for kind, want in pat.items:
            for i, o in enumerate(actual):
                if not used[i] and o.kind == kind and self.option_matches(kind, want, o.value):
                    used[i] = True
                    break
            else:
                missing.append(_render_pattern_value(kind, want, self.irs))
        extra = [o for i, o in enumerate(actual) if not used[i]]
        p = []
        if missing:
            p.append(f"options: expected {', '.join(missing)}, not sent as written")
        if extra and not pat.more:
            p.append(f"options: sent {render_options(extra, self.irs, padding=False)} that the "
                     f"script does "
                     f"not list (write '...' in the list to allow others)")
        return p

    @staticmethod
    def option_matches(kind: int, want, got) -> bool:
        if want is None:
            return True
        if kind == OPT_TIMESTAMP:
            return all(w is None or w == g for w, g in zip(want, got))
        if kind == OPT_SACK:
            return tuple(tuple(b) for b in got) == want
        if kind == OPT_SACK_PERM:
            return True
        return want == got

    def do_nothing(self, step: Step) -> None:
        self.require_quiet(f"the script expects nothing at {fmt_time(step.time)}")
        until = step.args["until"]
        if until > step.time:
            self.advance(until)
            self.require_quiet(f"the script expects nothing until {fmt_time(until)}")

    def do_state(self, step: Step) -> None:
        want = step.args["state"]
        if self.conn.state != want:
            self.fail(f"state is {self.conn.state.label}, expected {want.label}")

    def do_timer(self, step: Step) -> None:
        kind, at = step.args["timer"], step.args["at"]
        d = self.conn.deadlines[kind]
        if at == "off":
            if d is not None:
                self.fail(f"timer {kind.name} runs (due at {fmt_time(d)}), expected off")
        elif at == "on":
            if d is None:
                self.fail(f"timer {kind.name} is off, expected running", [self.next_timers()])
        elif d != at:
            have = "off" if d is None else f"due at {fmt_time(d)} (+{fmt_time(d - step.time)})"
            self.fail(f"timer {kind.name} is {have}, expected due at {fmt_time(at)} "
                      f"(+{fmt_time(at - step.time)})")

    def do_note(self, step: Step) -> None:
        note, negate = step.args["note"], step.args["negate"]
        if negate:
            if note in self.notes:
                self.fail(f"the application was told {note!r}; notes so far: "
                          f"{', '.join(self.notes)}")
            return
        rest = self.notes[self._note_pos:]
        if note not in rest:
            self.fail(f"no note {note!r} since the last 'expect note'; notes since: "
                      f"{', '.join(rest) or 'none'}")
        self._note_pos += rest.index(note) + 1

    def do_detect(self, step: Step) -> None:
        name, negate = step.args["detect"], step.args["negate"]
        if negate:
            if name in self.detects:
                self.fail(f"the connection reported {name}; detections so far: "
                          f"{', '.join(self.detects)}")
            return
        rest = self.detects[self._detect_pos:]
        if name not in rest:
            self.fail(f"no detection {name} since the last 'expect detect'; detections since: "
                      f"{', '.join(rest) or 'none'}")
        self._detect_pos += rest.index(name) + 1

    def do_vars(self, step: Step) -> None:
        problems = []
        for name, want in step.args["checks"]:
            if want is None:
                continue
            getter, kind = VARS[name]
            try:
                got = getter(self.conn)
            except AttributeError as e:
                self.fail(f"cannot read {name} from the engine: {e}")
            if kind == "time":
                if got != (None if want == "none" else want):
                    def text(v):
                        return "none" if v in (None, "none") else fmt_time(v) + " s"
                    problems.append(f"{name} = {text(got)}, expected {text(want)}")
            elif kind in ("seq_local", "seq_peer"):
                base = self.iss if kind == "seq_local" else self.irs
                if got != want:
                    problems.append(f"{name} = {_rel(got, base)}, expected {_rel(want, base)} "
                                    f"(absolute {got} vs {want})")
            elif got != want:
                problems.append(f"{name} = {str(got).lower() if kind == 'bool' else got}, "
                                f"expected {str(want).lower() if kind == 'bool' else want}")
        if problems:
            self.fail("; ".join(problems))


def run_script(path: str | Path, verbose: bool = False) -> Runner:
    """Parse and run one script file; raises ScriptError or ScriptFailure."""
    return parse_file(path).run(verbose)


def main(argv: list[str] | None = None) -> int:
    """``python -m tcplab.tcp.script [-v] FILE...``: run scripts, report each."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = False
    if "-v" in args:
        verbose = True
        args.remove("-v")
    if not args:
        print("usage: python -m tcplab.tcp.script [-v] FILE.tcpscript ...", file=sys.stderr)
        return 2
    bad = 0
    for a in args:
        try:
            script = parse_file(a)
            runner = Runner(script)
            try:
                runner.run()
            finally:
                if verbose:
                    print(f"--- {a}")
                    print("\n".join(runner.transcript))
            print(f"ok      {a}" + (f"   (marked xfail: {script.xfail})" if script.xfail else ""))
        except (ScriptError, ScriptFailure) as e:
            bad += 1
            print(f"FAILED  {a}\n{e}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
