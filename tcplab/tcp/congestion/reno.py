"""Reno: the standard algorithms of RFC 5681 exactly (slow start, congestion avoidance, fast
retransmit and fast recovery), which the base class already implements."""

from __future__ import annotations

from .base import CongestionControl
from .registry import register

__all__ = ["Reno"]


@register
class Reno(CongestionControl):
    """RFC 5681 congestion control. Fast recovery ends on the first ACK of new data, partial
    or not (RFC 5681 3.2 step 6), so several losses in one window usually end in a timeout."""

    name = "reno"
    rfc = "RFC 5681"
    exits_recovery_on_partial_ack = True
