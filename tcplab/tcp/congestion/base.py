"""The congestion-control strategy interface and the state it acts on.

The connection owns a :class:`CongestionState` and one :class:`CongestionControl` object
(created by name from the registry) and calls the hooks below at the events RFC 5681 names:
new data acknowledged, retransmission timeout, third duplicate ACK, further duplicate ACKs,
partial and full ACKs during fast recovery. The strategy changes ``cwnd`` and ``ssthresh``;
the connection decides *when* each event happens (duplicate-ACK counting, the ``recover``
variable of RFC 6582, which segment to retransmit) and never sets the window itself.

The defaults in :class:`CongestionControl` are the standard algorithms of RFC 5681 (slow
start, congestion avoidance, fast retransmit/fast recovery), so an algorithm such as CUBIC
(RFC 9438) overrides only what it changes. Sizes are bytes (ints); times are integer ns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CongestionControl", "CongestionState", "INITIAL_SSTHRESH", "initial_window"]

#: RFC 5681 3.1: "The initial value of ssthresh SHOULD be set arbitrarily high (e.g., to the
#: size of the largest possible advertised window)". 2**31 - 1 is beyond any window here.
INITIAL_SSTHRESH = 2**31 - 1


@dataclass(slots=True)
class CongestionState:
    """Congestion-control variables of one sender (RFC 5681 section 2), owned by the connection
    and published to the trace."""

    #: Congestion window in bytes (RFC 5681 2, "cwnd"); set by :meth:`CongestionControl.init`.
    cwnd: int = 0
    #: Slow start threshold in bytes (RFC 5681 2, "ssthresh"), initially arbitrarily high (3.1).
    ssthresh: int = INITIAL_SSTHRESH
    #: Sender maximum segment size in bytes (RFC 5681 2, "SMSS").
    smss: int = 536
    #: Initial window in segments chosen by the experimenter (e.g. 10 as RFC 6928 allows);
    #: None means the RFC 5681 3.1 rule.
    iw_segments: int | None = None
    #: Bytes acknowledged in congestion avoidance not yet turned into window growth
    #: (RFC 3465 2.1 "bytes_acked"; RFC 5681 3.1 byte counting).
    bytes_acked: int = 0
    #: True once the retransmission timer has resent the segment at SND.UNA and no new data
    #: has been acknowledged since: a further timeout then keeps ssthresh (RFC 5681 3.1).
    timer_retransmitted: bool = False
    #: Algorithm-specific values to show in the trace (e.g. CUBIC's W_max and K).
    extras: dict[str, float] = field(default_factory=dict)


def initial_window(smss: int, iw_segments: int | None = None) -> int:
    """The initial congestion window IW in bytes.

    RFC 5681 3.1 sets it by segment size: 2 segments if SMSS > 2190 bytes, 3 segments if
    1095 < SMSS <= 2190, 4 segments if SMSS <= 1095 (RFC 3390's byte formula
    min(4*SMSS, max(2*SMSS, 4380)) agrees at SMSS = 1460, giving 4380 bytes, but may exceed
    the whole-segment limits the RFC 5681 table imposes for other sizes, so the table is used).
    ``iw_segments`` overrides it with that many full segments (an experiment knob; RFC 6928
    permits about 10).
    """
    if iw_segments is not None:
        return iw_segments * smss
    if smss > 2190:
        return 2 * smss
    if smss > 1095:
        return 3 * smss
    return 4 * smss


class CongestionControl:
    """A congestion-control algorithm (strategy object, one per connection).

    Subclasses set :attr:`name` and override hooks; register them with
    ``tcplab.tcp.congestion.register``. Per-connection algorithm state other than the shared
    variables may live on the instance: ``create()`` makes a fresh instance for each connection.
    """

    #: Registry key, lower case.
    name: str = ""
    #: The document that defines the algorithm, for display.
    rfc: str = "RFC 5681"
    #: True if any ACK of new data ends fast recovery (Reno, RFC 5681 3.2 step 6): the
    #: connection then calls :meth:`on_exit_recovery` for a partial ACK too. False if only an
    #: ACK covering ``recover`` ends it and partial ACKs go to :meth:`on_partial_ack`
    #: (NewReno, RFC 6582 3.2 step 5).
    exits_recovery_on_partial_ack: bool = True

    # ---- start ----

    def init(self, st: CongestionState, now: int, syn_lost: bool = False) -> None:
        """The connection is established: cwnd <- IW (RFC 5681 3.1, :func:`initial_window`).

        If the SYN or SYN-ACK was lost (retransmitted), RFC 5681 3.1 requires an initial
        window of one segment: pass ``syn_lost=True``. ssthresh keeps its initial, arbitrarily
        high value.
        """
        st.cwnd = st.smss if syn_lost else initial_window(st.smss, st.iw_segments)
        st.bytes_acked = 0
        st.timer_retransmitted = False

    # ---- normal operation ----

    def on_ack(self, st: CongestionState, now: int, acked: int, bytes_in_flight: int,
               rtt: int | None) -> None:
        """An ACK acknowledged ``acked`` new bytes outside fast recovery.

        While cwnd < ssthresh, slow start (RFC 5681 3.1 eq. 2, appropriate byte counting of
        RFC 3465 with L = 1 SMSS): cwnd += min(acked, SMSS). The increase is not clipped at
        ssthresh; the next ACK simply finds cwnd >= ssthresh.

        Otherwise congestion avoidance by byte counting, the method RFC 5681 3.1 RECOMMENDS
        (RFC 3465 2.1): bytes_acked += acked; once bytes_acked >= cwnd, bytes_acked -= cwnd and
        cwnd += SMSS. That is one SMSS per window of acknowledged data, whatever the ACK
        pattern (delayed ACKs included), and never more than one SMSS per ACK.

        ``bytes_in_flight`` (FlightSize before this ACK) and ``rtt`` (a valid sample or None)
        are for algorithms that need them.
        """
        if acked <= 0:
            return
        st.timer_retransmitted = False
        if st.cwnd < st.ssthresh:
            st.cwnd += min(acked, st.smss)
            return
        st.bytes_acked += acked
        if st.bytes_acked >= st.cwnd:
            st.bytes_acked -= st.cwnd
            st.cwnd += st.smss

    # ---- loss ----

    def ssthresh_after_loss(self, st: CongestionState, bytes_in_flight: int) -> int:
        """RFC 5681 3.1 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS), FlightSize being the
        data outstanding when the loss is detected (not cwnd). Halves are floored."""
        return max(bytes_in_flight // 2, 2 * st.smss)

    def on_rto(self, st: CongestionState, now: int, bytes_in_flight: int) -> None:
        """The retransmission timer expired (RFC 5681 3.1).

        On the first timeout for the segment at SND.UNA, ssthresh <- eq. 4; if the timer has
        already resent that segment (no new data acknowledged since the previous timeout),
        ssthresh "is held constant". Either way cwnd <- the loss window, 1 SMSS, and slow start
        resumes.
        """
        if not st.timer_retransmitted:
            st.ssthresh = self.ssthresh_after_loss(st, bytes_in_flight)
        st.timer_retransmitted = True
        st.cwnd = st.smss
        st.bytes_acked = 0

    # ---- fast retransmit / fast recovery (RFC 5681 3.2, RFC 6582 3.2) ----

    def on_enter_recovery(self, st: CongestionState, now: int, bytes_in_flight: int) -> None:
        """Third duplicate ACK: RFC 5681 3.2 step 2, ssthresh <- eq. 4 with the FlightSize at
        this moment; step 3, after retransmitting, cwnd <- ssthresh + 3*SMSS ("inflating" it by
        the three segments that have left the network)."""
        st.ssthresh = self.ssthresh_after_loss(st, bytes_in_flight)
        st.cwnd = st.ssthresh + 3 * st.smss
        st.bytes_acked = 0

    def on_enter_sack_recovery(self, st: CongestionState, now: int, bytes_in_flight: int) -> None:
        """Loss recovery driven by the SACK scoreboard begins (RFC 6675 section 5 step 4.2):
        the algorithm's usual reduction of ssthresh, then cwnd = ssthresh without inflation,
        because the ``pipe`` estimate, not cwnd inflation, accounts for the segments that
        have left the network."""
        self.on_enter_recovery(st, now, bytes_in_flight)
        st.cwnd = st.ssthresh

    def on_dup_ack_in_recovery(self, st: CongestionState, now: int) -> None:
        """Each further duplicate ACK in fast recovery: RFC 5681 3.2 step 4, cwnd += SMSS."""
        st.cwnd += st.smss

    def on_partial_ack(self, st: CongestionState, now: int, acked: int) -> None:
        """An ACK of new data that does not cover ``recover``, during fast recovery.

        Reno has no partial ACKs: RFC 5681 3.2 step 6 ends recovery on the first ACK of new
        data and sets cwnd <- ssthresh, which is what this default does. (With
        :attr:`exits_recovery_on_partial_ack` true the connection calls
        :meth:`on_exit_recovery` instead.)
        """
        st.cwnd = st.ssthresh
        st.bytes_acked = 0
        st.timer_retransmitted = False

    def on_exit_recovery(self, st: CongestionState, now: int, bytes_in_flight: int) -> None:
        """Fast recovery ends (RFC 5681 3.2 step 6): "deflate" the window, cwnd <- ssthresh.
        ``bytes_in_flight`` is the data outstanding after this ACK."""
        st.cwnd = st.ssthresh
        st.bytes_acked = 0
        st.timer_retransmitted = False

    # ---- idle ----

    def on_idle_restart(self, st: CongestionState, now: int) -> None:
        """Sending resumes after an idle period longer than the RTO (the caller checks that):
        RFC 5681 4.1, cwnd <- RW = min(IW, cwnd)."""
        st.cwnd = min(initial_window(st.smss, st.iw_segments), st.cwnd)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
