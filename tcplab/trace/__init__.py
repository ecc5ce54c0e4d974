"""The typed trace: the single record of everything a run did.

Every view, the recorder, the pcap writer and the narration read it; nothing else reaches into
engine objects. See ``tcplab.trace.events`` for the event kinds and what their fields mean.
"""

from tcplab.trace.events import (DropReason, EventKind, RecvOutcome, SendReason, TcpState, TimerKind,
                                 Var)
from tcplab.trace.store import ConnInfo, Trace

__all__ = ["Trace", "ConnInfo", "EventKind", "DropReason", "SendReason", "RecvOutcome", "TcpState",
           "TimerKind", "Var"]
