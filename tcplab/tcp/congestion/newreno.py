"""NewReno: RFC 5681 with the fast-recovery modification of RFC 6582, which stays in recovery
across partial ACKs so that several losses in one window are repaired one per RTT without a
retransmission timeout."""

from __future__ import annotations

from .base import CongestionState
from .registry import register
from .reno import Reno

__all__ = ["NewReno"]


@register
class NewReno(Reno):
    """RFC 6582 NewReno. The connection keeps ``recover`` (RFC 6582 3.2 steps 1-2) and calls
    :meth:`on_partial_ack` for ACKs below it and :meth:`on_exit_recovery` for the full ACK."""

    name = "newreno"
    rfc = "RFC 6582"
    exits_recovery_on_partial_ack = False

    def on_partial_ack(self, st: CongestionState, now: int, acked: int) -> None:
        """RFC 6582 3.2 step 5, partial window deflation: cwnd -= the new data acknowledged,
        then cwnd += SMSS if that was at least one SMSS, so that about ssthresh bytes remain
        outstanding when recovery ends. Recovery continues. (Our guard: cwnd never drops below
        1 SMSS, so the retransmission the caller now sends always fits.)"""
        cwnd = st.cwnd - acked
        if acked >= st.smss:
            cwnd += st.smss
        st.cwnd = max(cwnd, st.smss)
        st.timer_retransmitted = False

    def on_exit_recovery(self, st: CongestionState, now: int, bytes_in_flight: int) -> None:
        """RFC 6582 3.2 step 6, full ACK: of the two permitted choices this uses option (1),
        cwnd <- min(ssthresh, max(FlightSize, SMSS) + SMSS), FlightSize being the data
        outstanding after this ACK. Option (2), cwnd <- ssthresh, could release a burst when
        little is outstanding; option (1) avoids that without a separate burst limiter."""
        st.cwnd = min(st.ssthresh, max(bytes_in_flight, st.smss) + st.smss)
        st.bytes_acked = 0
        st.timer_retransmitted = False
