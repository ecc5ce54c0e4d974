"""Typed views of trace rows: one small class per event kind with named fields.

These are built on demand from the columnar store (``Trace.event(i)``); the store itself keeps
integers only. Field meanings are documented on :class:`~tcplab.trace.events.EventKind`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from tcplab.trace.events import (Detection, DropReason, EventKind, RecvOutcome, SendReason, TcpState,
                                 TimerKind, UserOp, Var)


@dataclass(frozen=True, slots=True)
class Event:
    index: int
    t: int
    node: int
    conn: int
    pkt: int
    kind: ClassVar[EventKind]


@dataclass(frozen=True, slots=True)
class SegmentSent(Event):
    seq: int
    ack: int
    length: int
    flags: int
    reason: SendReason
    kind: ClassVar[EventKind] = EventKind.SEG_SENT


@dataclass(frozen=True, slots=True)
class SegmentReceived(Event):
    seq: int
    ack: int
    length: int
    flags: int
    outcome: RecvOutcome
    kind: ClassVar[EventKind] = EventKind.SEG_RECV


@dataclass(frozen=True, slots=True)
class PacketDropped(Event):
    reason: DropReason
    link: int
    detail: int
    direction: int
    kind: ClassVar[EventKind] = EventKind.DROP


@dataclass(frozen=True, slots=True)
class Delivered(Event):
    nbytes: int
    offset: int
    waiting: int
    kind: ClassVar[EventKind] = EventKind.DELIVER


@dataclass(frozen=True, slots=True)
class StateChanged(Event):
    old: TcpState
    new: TcpState
    cause: int
    kind: ClassVar[EventKind] = EventKind.STATE


@dataclass(frozen=True, slots=True)
class TimerArmed(Event):
    timer: TimerKind
    deadline: int
    duration: int
    backoff: int
    kind: ClassVar[EventKind] = EventKind.TIMER_ARM


@dataclass(frozen=True, slots=True)
class TimerCancelled(Event):
    timer: TimerKind
    deadline: int
    kind: ClassVar[EventKind] = EventKind.TIMER_CANCEL


@dataclass(frozen=True, slots=True)
class TimerExpired(Event):
    timer: TimerKind
    ran: int
    snd_una: int
    snd_nxt: int
    kind: ClassVar[EventKind] = EventKind.TIMER_EXPIRE


@dataclass(frozen=True, slots=True)
class VarChanged(Event):
    var: Var
    old: int
    new: int
    kind: ClassVar[EventKind] = EventKind.VAR


@dataclass(frozen=True, slots=True)
class OutOfOrderChanged(Event):
    held_bytes: int
    ranges: tuple
    kind: ClassVar[EventKind] = EventKind.OOO


@dataclass(frozen=True, slots=True)
class AppWrote(Event):
    nbytes: int
    total: int
    asked: int
    kind: ClassVar[EventKind] = EventKind.APP_WRITE


@dataclass(frozen=True, slots=True)
class AppRead(Event):
    nbytes: int
    total: int
    kind: ClassVar[EventKind] = EventKind.APP_READ


@dataclass(frozen=True, slots=True)
class Hop(Event):
    link: int
    arrival: int
    ttl: int
    direction: int
    kind: ClassVar[EventKind] = EventKind.HOP


@dataclass(frozen=True, slots=True)
class Arrived(Event):
    link: int
    ttl: int
    direction: int
    kind: ClassVar[EventKind] = EventKind.ARRIVE


@dataclass(frozen=True, slots=True)
class LinkChanged(Event):
    link: int
    direction: int
    param: str
    old: Any
    new: Any
    kind: ClassVar[EventKind] = EventKind.LINK_SET


@dataclass(frozen=True, slots=True)
class NodeChanged(Event):
    restarted: bool
    kind: ClassVar[EventKind] = EventKind.NODE


@dataclass(frozen=True, slots=True)
class PacketAltered(Event):
    link: int
    original: int
    what: str         # duplicate / corrupt / delay
    direction: int
    arrival: int | None = None    # delay: the packet's new arrival time (ns)
    kind: ClassVar[EventKind] = EventKind.ALTER


@dataclass(frozen=True, slots=True)
class AppCall(Event):
    call: str         # close / abort / open / listen
    kind: ClassVar[EventKind] = EventKind.APP_CALL


@dataclass(frozen=True, slots=True)
class Detected(Event):
    what: Detection
    b: int            # meanings per Detection code
    c: int
    d: int
    kind: ClassVar[EventKind] = EventKind.DETECT


@dataclass(frozen=True, slots=True)
class CongestionStateChanged(Event):
    values: tuple     # ((name, value), ...) the algorithm publishes
    kind: ClassVar[EventKind] = EventKind.CC_STATE


@dataclass(frozen=True, slots=True)
class ScoreboardChanged(Event):
    sacked_bytes: int
    ranges: tuple     # ((start_seq, end_seq), ...) SACKed, absolute
    kind: ClassVar[EventKind] = EventKind.SACKED


@dataclass(frozen=True, slots=True)
class UserAction(Event):
    op: UserOp
    link: int         # -1 when the action names no link
    detail: int       # DROP: old arrival, DUPLICATE: the copy's uid, DELAY: new arrival, else 0
    direction: int    # -1 both or not known yet
    action: dict      # the action as recorded in Run.actions
    kind: ClassVar[EventKind] = EventKind.USER


@dataclass(frozen=True, slots=True)
class Queued(Event):
    link: int
    length: int       # packets waiting after this one joined
    direction: int
    kind: ClassVar[EventKind] = EventKind.QUEUE


_ALTER = {0: "duplicate", 1: "corrupt", 2: "delay"}
_CALLS = {0: "close", 1: "abort", 2: "open", 3: "listen"}


def make_event(trace, i: int) -> Event:
    """Build the typed event for row ``i`` of ``trace``."""
    t, kind, node, conn, pkt, a, b, c, d = trace.row(i)
    base = (i, t, node, conn, pkt)
    k = EventKind(kind)
    if k == EventKind.SEG_SENT:
        return SegmentSent(*base, a, b, c, d & 0xFFFF, SendReason(d >> 16))
    if k == EventKind.SEG_RECV:
        return SegmentReceived(*base, a, b, c, d & 0xFFFF, RecvOutcome(d >> 16))
    if k == EventKind.DROP:
        return PacketDropped(*base, DropReason(a), b, c, d)
    if k == EventKind.DELIVER:
        return Delivered(*base, a, b, c)
    if k == EventKind.STATE:
        return StateChanged(*base, TcpState(a), TcpState(b), c)
    if k == EventKind.TIMER_ARM:
        return TimerArmed(*base, TimerKind(a), b, c, d)
    if k == EventKind.TIMER_CANCEL:
        return TimerCancelled(*base, TimerKind(a), b)
    if k == EventKind.TIMER_EXPIRE:
        return TimerExpired(*base, TimerKind(a), b, c, d)
    if k == EventKind.VAR:
        return VarChanged(*base, Var(a), b, c)
    if k == EventKind.OOO:
        return OutOfOrderChanged(*base, a, trace.extra.get(i, ()))
    if k == EventKind.APP_WRITE:
        return AppWrote(*base, a, b, c)
    if k == EventKind.APP_READ:
        return AppRead(*base, a, b)
    if k == EventKind.HOP:
        return Hop(*base, a, b, c, d)
    if k == EventKind.ARRIVE:
        return Arrived(*base, a, b, d)
    if k == EventKind.LINK_SET:
        name, old, new = trace.extra[i]
        return LinkChanged(*base, a, d, name, old, new)
    if k == EventKind.NODE:
        return NodeChanged(*base, bool(a))
    if k == EventKind.ALTER:
        return PacketAltered(*base, a, b, _ALTER.get(c, "?"), d,
                             trace.extra.get(i) if c == 2 else None)
    if k == EventKind.APP_CALL:
        return AppCall(*base, _CALLS.get(a, "?"))
    if k == EventKind.DETECT:
        return Detected(*base, Detection(a), b, c, d)
    if k == EventKind.CC_STATE:
        return CongestionStateChanged(*base, trace.extra.get(i, ()))
    if k == EventKind.SACKED:
        return ScoreboardChanged(*base, a, trace.extra.get(i, ()))
    if k == EventKind.USER:
        return UserAction(*base, UserOp(a), b, c, d, trace.extra.get(i, {}))
    if k == EventKind.QUEUE:
        return Queued(*base, a, b, d)
    raise ValueError(f"event {i} has an unknown kind {kind}")
