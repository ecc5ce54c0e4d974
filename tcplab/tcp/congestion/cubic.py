"""CUBIC: the congestion-avoidance window of RFC 9438, with NewReno fast recovery.

CUBIC replaces only the window *growth* of congestion avoidance and the size of the window
*reduction*; slow start, fast retransmit and fast recovery are those of RFC 5681 / RFC 6582
(RFC 9438 section 4.2: CUBIC "does not make any changes to the TCP Fast Recovery and Fast
Retransmit algorithms"). After a congestion event the window follows the cubic curve

    W_cubic(t) = C * (t - K)**3 + W_max                      (RFC 9438 4.2, Figure 1)

where ``t`` is the time since the current congestion-avoidance stage (the "epoch") began,
``W_max`` the window just before the last reduction and ``K`` the time the curve takes to
climb back from the window at the start of the epoch, ``cwnd_epoch``, to ``W_max``:

    K = cbrt((W_max - cwnd_epoch) / C)                       (RFC 9438 4.2, Figure 2)

Below ``W_max`` the curve is concave (fast growth that flattens out near the old maximum),
above it convex (slow probing that speeds up). A Reno-like estimate ``W_est`` keeps CUBIC at
least as fast as Reno where Reno does well (short RTT, small windows; RFC 9438 4.3).

The RFC counts windows in segments and time in seconds; this module does the same internally
(floats), while :class:`~tcplab.tcp.congestion.base.CongestionState` keeps ``cwnd`` in whole
bytes. Growth smaller than a byte is carried over to later ACKs, not lost to truncation.

Choices where RFC 9438 leaves room, or where this engine differs, are stated in the docstrings
of :class:`Cubic` and its hooks.
"""

from __future__ import annotations

import math

from tcplab.sim.clock import SEC

from .base import CongestionState
from .newreno import NewReno
from .registry import register

__all__ = ["Cubic", "C", "BETA_CUBIC", "ALPHA_CUBIC", "REGION_SLOW_START", "REGION_RENO_FRIENDLY",
           "REGION_CONCAVE", "REGION_CONVEX", "EXTRAS_KEYS", "w_cubic", "cubic_k"]

#: RFC 9438 4.1.1 / 5.1: aggressiveness of the cubic curve in segments per second cubed;
#: "C SHOULD be set to 0.4".
C = 0.4
#: RFC 9438 4.6: multiplicative decrease factor; "beta_cubic SHOULD be set to 0.7".
BETA_CUBIC = 0.7
#: The same factor as an exact fraction, for the integer ssthresh in bytes.
_BETA_NUM, _BETA_DEN = 7, 10
#: RFC 9438 4.3: additive increase of the Reno-friendly estimate, 3*(1-beta)/(1+beta) segments
#: per RTT (9/17 = 0.529 for beta 0.7): AIMD(alpha, beta) with this alpha averages the same
#: window as Reno's AIMD(1, 0.5).
ALPHA_CUBIC = 3 * (1 - BETA_CUBIC) / (1 + BETA_CUBIC)

#: Values of ``extras["region"]``: 0 = no congestion-avoidance epoch running (slow start, or
#: between a congestion event and the first ACK of congestion avoidance after it);
#: 1 = Reno-friendly region (RFC 9438 4.3), 2 = concave (4.4), 3 = convex (4.5).
REGION_SLOW_START = 0
REGION_RENO_FRIENDLY = 1
REGION_CONCAVE = 2
REGION_CONVEX = 3

#: The keys CUBIC publishes in ``CongestionState.extras`` after every hook.
EXTRAS_KEYS = ("w_max", "k", "w_est", "epoch_start", "region")


def w_cubic(t: float, k: float, w_max: float) -> float:
    """RFC 9438 4.2 Figure 1: the cubic window in segments ``t`` seconds into the epoch,
    ``C*(t-K)**3 + W_max``. At ``t == K`` it equals ``W_max``."""
    return C * (t - k) ** 3 + w_max


def cubic_k(w_max: float, cwnd_epoch: float) -> float:
    """RFC 9438 4.2 Figure 2: ``K = cbrt((W_max - cwnd_epoch)/C)`` seconds, the time the curve
    takes to rise from ``cwnd_epoch`` to ``W_max`` (both in segments). Right after a reduction
    to ``beta*W_max`` this is ``cbrt(W_max*(1-beta)/C)``. 0 when ``cwnd_epoch >= W_max``
    (no climb is needed; see :meth:`Cubic._start_epoch`)."""
    if w_max <= cwnd_epoch:
        return 0.0
    return math.cbrt((w_max - cwnd_epoch) / C)


@register
class Cubic(NewReno):
    """RFC 9438 CUBIC with RFC 6582 NewReno fast recovery. One instance per connection.

    State (all windows in segments of SMSS, as floats; times in ns unless named otherwise):

    ``w_max``
        W_max, the window just before the last reduction, lowered by fast convergence
        (RFC 9438 4.1.2, 4.7). 0 until the first congestion event.
    ``k``
        K in seconds (4.2 Figure 2).
    ``w_est``
        W_est, the Reno-friendly window estimate (4.3).
    ``cwnd_prior``
        cwnd when ssthresh was last set, i.e. just before the last reduction (4.1.2, 4.6);
        W_est grows with alpha 1 instead of ALPHA_CUBIC once it reaches this (4.3).
    ``cwnd_epoch``
        cwnd at the beginning of the current congestion-avoidance stage (4.1.2).
    ``epoch_start``
        t_epoch, the time that stage began; -1 when none is running.
    ``region``
        Which rule set cwnd on the last ACK (``REGION_*``).
    ``srtt``, ``latest_rtt``, ``min_rtt``
        RTT from the samples the connection passes to :meth:`on_ack`. RFC 9438 4.1.2 defines
        RTT as the smoothed RTT of RFC 6298; it is used only for the target W_cubic(t+RTT)
        (the Reno-friendly estimate of RFC 9438 4.3 is counted per ACK and needs no RTT).
        Without any sample RTT counts as 0, i.e. the target is W_cubic(t).

    Published in ``st.extras`` after every hook (see :data:`EXTRAS_KEYS`): ``w_max`` and
    ``w_est`` in bytes, ``k`` in seconds, ``epoch_start`` in ns (-1: none), ``region``.

    Not implemented: HyStart++ (RFC 9438 4.10 allows standard slow start), undo after a
    spurious congestion event (4.9), ECN (4.6), and 5.8's rule not to grow cwnd while the
    application, not cwnd, limits the sender (only idle restart resets the epoch).
    """

    name = "cubic"
    rfc = "RFC 9438"
    #: RFC 9438 4.2: loss recovery is NewReno's (RFC 6582), so only a full ACK ends recovery.
    exits_recovery_on_partial_ack = False
    #: RFC 9438 4.7: fast convergence "SHOULD be implemented". Set False on an instance to
    #: always remember W_max = cwnd (4.7 suggests that for a single flow alone on a path).
    fast_convergence: bool = True

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.w_max = 0.0
        self.k = 0.0
        self.w_est = 0.0
        self.cwnd_prior = 0.0
        self.cwnd_epoch = 0.0
        self.epoch_start = -1
        self.region = REGION_SLOW_START
        #: True from a retransmission timeout to the start of the next epoch (RFC 9438 4.8).
        self.after_timeout = False
        self.srtt: float | None = None
        self.latest_rtt: int | None = None
        self.min_rtt: int | None = None
        # Growth in bytes not yet in st.cwnd (0 <= _carry < 1), valid while st.cwnd is still
        # the value this object last wrote (_cwnd_seen).
        self._carry = 0.0
        self._cwnd_seen = -1

    # ---- helpers ----

    def _publish(self, st: CongestionState) -> None:
        """Write the algorithm state to ``st.extras`` (windows in bytes)."""
        st.extras["w_max"] = self.w_max * st.smss
        st.extras["k"] = self.k
        st.extras["w_est"] = self.w_est * st.smss
        st.extras["epoch_start"] = self.epoch_start
        st.extras["region"] = self.region

    def _cwnd_bytes(self, st: CongestionState) -> float:
        """cwnd in bytes including the carried fraction, if st.cwnd is still ours."""
        return st.cwnd + (self._carry if st.cwnd == self._cwnd_seen else 0.0)

    def _end_epoch(self) -> None:
        self.epoch_start = -1
        self.region = REGION_SLOW_START
        self._carry = 0.0
        self._cwnd_seen = -1

    def _rtt_sample(self, rtt: int) -> None:
        """Keep the latest and minimum RTT and the smoothed RTT of RFC 6298 2.2-2.3
        (SRTT <- R for the first sample, then SRTT <- 7/8 SRTT + 1/8 R)."""
        self.latest_rtt = rtt
        self.min_rtt = rtt if self.min_rtt is None else min(self.min_rtt, rtt)
        self.srtt = float(rtt) if self.srtt is None else 0.875 * self.srtt + 0.125 * rtt

    # ---- start ----

    def init(self, st: CongestionState, now: int, syn_lost: bool = False) -> None:
        """cwnd <- IW as RFC 5681 3.1 (base class); all CUBIC state starts undefined
        (W_max 0, no epoch)."""
        super().init(st, now, syn_lost)
        self._reset()
        self._publish(st)

    # ---- normal operation ----

    def on_ack(self, st: CongestionState, now: int, acked: int, bytes_in_flight: int,
               rtt: int | None) -> None:
        """``acked`` new bytes acknowledged outside fast recovery; ``rtt`` a valid sample in ns
        or None.

        Below ssthresh: slow start exactly as RFC 5681 3.1 (the base class; RFC 9438 4.10).
        Otherwise congestion avoidance by RFC 9438 4.2-4.5 (:meth:`_congestion_avoidance`).
        The first such ACK after a congestion event (or at any time no epoch is running)
        starts a new epoch: t_epoch = now, cwnd_epoch = cwnd (:meth:`_start_epoch`).
        """
        if rtt is not None and rtt >= 0:
            self._rtt_sample(rtt)
        if acked <= 0:
            return
        if st.cwnd < st.ssthresh or st.cwnd <= 0:
            super().on_ack(st, now, acked, bytes_in_flight, rtt)
            self.region = REGION_SLOW_START
        else:
            st.timer_retransmitted = False
            self._congestion_avoidance(st, now, acked)
        self._publish(st)

    def _start_epoch(self, now: int, cwnd: float) -> None:
        """Begin a congestion-avoidance stage at ``now`` with ``cwnd`` segments.

        RFC 9438 4.2: t_epoch = now, cwnd_epoch = cwnd, K from Figure 2 with this cwnd_epoch
        (so K is exact even when fast recovery left cwnd below the reduced window).
        RFC 9438 4.3: W_est = cwnd_epoch.
        RFC 9438 4.8: in the first stage after a timeout, K = 0 and W_max = cwnd_epoch. The
        same is done when W_max is undefined (no congestion event yet) or not above
        cwnd_epoch, where Figure 2 has no real climb: the curve then starts at cwnd_epoch and
        is convex from the start (as 4.10 prescribes when slow start ends without a loss).
        """
        self.epoch_start = now
        self.cwnd_epoch = cwnd
        self.w_est = cwnd
        if self.after_timeout or self.w_max <= cwnd:
            self.w_max = cwnd
            self.k = 0.0
        else:
            self.k = cubic_k(self.w_max, cwnd)
        self.after_timeout = False

    def _congestion_avoidance(self, st: CongestionState, now: int, acked: int) -> None:
        """One ACK in congestion avoidance (RFC 9438 4.2-4.5), in segments:

        - t = (now - t_epoch) in seconds; target = W_cubic(t + RTT) clamped to
          [cwnd, 1.5*cwnd] (4.2), so growth is never negative nor faster than slow start.
        - W_est += alpha * segments_acked / cwnd, alpha = ALPHA_CUBIC until W_est reaches
          cwnd_prior, 1 from then on (4.3, Figure 4). segments_acked = acked/SMSS, counted at
          most one cwnd per ACK (as RFC 3465 byte counting never grows Reno more than 1 SMSS
          per ACK).
        - If W_cubic(t) < W_est: Reno-friendly region, cwnd = W_est (4.3); never lowered here,
          an ACK does not shrink the window.
        - Otherwise concave (cwnd < W_max, 4.4) or convex (cwnd >= W_max, 4.5):
          cwnd += (target - cwnd)/cwnd per segment acknowledged, and no further than target
          (a single ACK of a large amount cannot pass the window aimed at for one RTT later).
        """
        smss = st.smss
        cwnd_b = self._cwnd_bytes(st)
        cwnd = cwnd_b / smss
        if self.epoch_start < 0:
            self._start_epoch(now, cwnd)
        t = (now - self.epoch_start) / SEC
        rtt = (self.srtt or 0.0) / SEC
        segments_acked = acked / smss

        target = w_cubic(t + rtt, self.k, self.w_max)
        target = min(max(target, cwnd), 1.5 * cwnd)

        alpha = 1.0 if self.w_est >= self.cwnd_prior else ALPHA_CUBIC
        self.w_est += alpha * min(segments_acked, cwnd) / cwnd

        if w_cubic(t, self.k, self.w_max) < self.w_est:
            self.region = REGION_RENO_FRIENDLY
            new = max(cwnd, self.w_est)
        else:
            self.region = REGION_CONCAVE if cwnd < self.w_max else REGION_CONVEX
            new = min(target, cwnd + (target - cwnd) / cwnd * segments_acked)

        # Grow in bytes from the exact current value, so float round-off cannot shrink cwnd.
        new_b = cwnd_b + max(new - cwnd, 0.0) * smss
        st.cwnd = max(int(new_b), st.cwnd)
        self._carry = new_b - st.cwnd if new_b > st.cwnd else 0.0
        self._cwnd_seen = st.cwnd
        st.bytes_acked = 0

    # ---- loss ----

    def ssthresh_after_loss(self, st: CongestionState, bytes_in_flight: int) -> int:
        """RFC 9438 4.6 Figure 5: ssthresh = max(flight_size * beta_cubic, 2*SMSS), in whole
        bytes (floored).

        Of the two forms RFC 9438 4.6 allows this is the one its Figure 5 writes:
        FlightSize, the data outstanding when the loss is detected (as RFC 5681 eq. 4 and
        the base class use). The other, cwnd * beta_cubic (Linux's), is permitted only with
        "other measures to prevent cwnd from growing when the volume of bytes in flight is
        smaller than cwnd", which this engine does not have. For a sender limited by cwnd the
        two agree (FlightSize = cwnd); W_max is always taken from cwnd (4.6, 4.7).
        """
        return max(bytes_in_flight * _BETA_NUM // _BETA_DEN, 2 * st.smss)

    def _congestion_event(self, st: CongestionState, bytes_in_flight: int) -> None:
        """The bookkeeping every congestion event does (RFC 9438 4.6, 4.7):

        - cwnd_prior = cwnd (4.6 Figure 5);
        - fast convergence (4.7): W_max = cwnd*(1+beta)/2 if cwnd < W_max, else W_max = cwnd;
        - ssthresh by :meth:`ssthresh_after_loss`;
        - the epoch ends. K and W_est are published as they will be if the next epoch starts
          at cwnd_epoch = ssthresh (RFC 9438 4.2: "right after a congestion event,
          cwnd_epoch" is the reduced window); :meth:`_start_epoch` recomputes both from the
          actual cwnd when congestion avoidance resumes.
        """
        smss = st.smss
        cwnd = self._cwnd_bytes(st) / smss
        self.cwnd_prior = cwnd
        if self.fast_convergence and cwnd < self.w_max:
            self.w_max = cwnd * (1 + BETA_CUBIC) / 2
        else:
            self.w_max = cwnd
        st.ssthresh = self.ssthresh_after_loss(st, bytes_in_flight)
        reduced = st.ssthresh / smss
        self.k = cubic_k(self.w_max, reduced)
        self.w_est = reduced
        self.after_timeout = False
        self._end_epoch()

    def on_rto(self, st: CongestionState, now: int, bytes_in_flight: int) -> None:
        """Retransmission timeout (RFC 9438 4.8): cwnd is reduced as RFC 5681 3.1 does, to the
        loss window of 1 SMSS, and slow start resumes; ssthresh is set with beta_cubic as in
        4.6 (:meth:`ssthresh_after_loss`).

        The first timeout for a segment is a congestion event (:meth:`_congestion_event`:
        cwnd_prior, W_max with fast convergence, ssthresh). A repeated timeout of the same
        segment (``st.timer_retransmitted``) holds ssthresh and the CUBIC state, as RFC 5681
        3.1 holds ssthresh. Either way the epoch ends, and the next one is the "first
        congestion avoidance stage after a timeout" of 4.8: it starts with K = 0 and
        W_max = W_est = cwnd_epoch (:meth:`_start_epoch`); K is published as 0 meanwhile.
        """
        if not st.timer_retransmitted:
            self._congestion_event(st, bytes_in_flight)
            self.after_timeout = True
            self.k = 0.0
        st.timer_retransmitted = True
        st.cwnd = st.smss
        st.bytes_acked = 0
        self._end_epoch()
        self._publish(st)

    def on_enter_recovery(self, st: CongestionState, now: int, bytes_in_flight: int) -> None:
        """Third duplicate ACK: a congestion event (RFC 9438 4.6, 4.7 via
        :meth:`_congestion_event`), then fast recovery as RFC 5681 3.2 step 3 and RFC 6582:
        cwnd = ssthresh + 3*SMSS. RFC 9438 4.6 lets the sender "employ a Fast Recovery
        algorithm to gradually adjust the congestion window to its new reduced ssthresh"."""
        self._congestion_event(st, bytes_in_flight)
        st.cwnd = st.ssthresh + 3 * st.smss
        st.bytes_acked = 0
        self._publish(st)

    def on_dup_ack_in_recovery(self, st: CongestionState, now: int) -> None:
        """RFC 5681 3.2 step 4: cwnd += SMSS (inflation); CUBIC state is untouched."""
        super().on_dup_ack_in_recovery(st, now)
        self._publish(st)

    def on_partial_ack(self, st: CongestionState, now: int, acked: int) -> None:
        """RFC 6582 3.2 step 5, partial window deflation, exactly as NewReno."""
        super().on_partial_ack(st, now, acked)
        self._publish(st)

    def on_exit_recovery(self, st: CongestionState, now: int, bytes_in_flight: int) -> None:
        """RFC 6582 3.2 step 6 option (1) as NewReno: cwnd = min(ssthresh, max(FlightSize,
        SMSS) + SMSS). The cubic epoch starts later, on the first ACK of new data in
        congestion avoidance (after any slow start back up to ssthresh)."""
        super().on_exit_recovery(st, now, bytes_in_flight)
        self._end_epoch()
        self._publish(st)

    # ---- idle ----

    def on_idle_restart(self, st: CongestionState, now: int) -> None:
        """Sending resumes after an idle period longer than the RTO: cwnd = min(IW, cwnd) as
        RFC 5681 4.1 (base class), and the epoch ends, because RFC 9438 5.8 says t in
        Figure 1 "MUST NOT include" idle periods. W_max stays; the next epoch computes K
        from it and the cwnd at which congestion avoidance resumes."""
        super().on_idle_restart(st, now)
        self._end_epoch()
        self._publish(st)
