"""The retransmission timer's estimator: SRTT, RTTVAR and RTO as RFC 6298 defines them.

The estimator only does the arithmetic of RFC 6298 sections 2 and 5; deciding *which*
measurements are valid is the connection's job, because only it knows what was retransmitted.

How the caller must apply Karn's algorithm (RFC 6298 section 3)
----------------------------------------------------------------
* Time at most one segment at a time (RFC 6298 3 allows one sample per RTT) and call
  :meth:`RttEstimator.sample` with ``now - send_time`` only when an ACK covers it.
* Never take a sample from a segment that was retransmitted: the ACK cannot say which copy it
  answers (RFC 6298 3: "RTT samples MUST NOT be made using segments that were retransmitted").
  On a retransmission, forget the timed segment.
* After :meth:`RttEstimator.on_timeout`, keep using the backed-off :attr:`RttEstimator.rto`
  (for restarting the timer on ACKs, RFC 6298 5.3) until a valid sample arrives from a segment
  sent after the retransmission; that sample recomputes the RTO and so collapses the backoff
  (RFC 6298 section 5, the note after rule 5.7). An ACK of new data that yields no valid sample
  does not by itself undo the backoff under RFC 6298.

Units and rounding
------------------
Every time is an integer number of nanoseconds and the arithmetic is exact integer arithmetic:
alpha, beta and K are held as fractions and each weighted average is floored once, e.g. with
the default gains ``RTTVAR = (3*RTTVAR + |SRTT - R|) // 4`` and ``SRTT = (7*SRTT + R) // 8``,
and the first sample sets ``RTTVAR = R // 2``. Flooring loses less than one nanosecond per
update, far below the clock granularity G, and keeps runs bit-for-bit repeatable.
"""

from __future__ import annotations

from fractions import Fraction

from tcplab.sim.clock import MS, SEC

__all__ = ["RttEstimator", "SYN_TIMEOUT_RTO"]

#: RFC 6298 5.7: RTO used once data transfer begins if a SYN's timer expired (3 seconds).
SYN_TIMEOUT_RTO = 3 * SEC

# Gains given as floats (1/8, 0.25) are turned into small exact fractions.
_MAX_DENOMINATOR = 1 << 20


def _fraction(value: float | int | Fraction, name: str, lo: float, hi: float | None) -> Fraction:
    f = Fraction(value).limit_denominator(_MAX_DENOMINATOR)
    if f < lo or (hi is not None and f > hi):
        upper = "" if hi is None else f" and at most {hi}"
        raise ValueError(f"{name} must be at least {lo}{upper}, not {value}")
    return f


class RttEstimator:
    """Smoothed round-trip time and retransmission timeout of one connection (RFC 6298).

    Attributes (read them, do not assign them):

    * ``srtt``: smoothed RTT in ns, ``None`` until the first sample (RFC 6298 2.2).
    * ``rttvar``: RTT variation in ns, ``None`` until the first sample (RFC 6298 2.2).
    * ``rto``: the retransmission timeout to arm now, in ns, backoff included.
    * ``backoff``: how many times :meth:`on_timeout` doubled the RTO since it was last
      computed; counted even when the doubling is capped at ``max_rto``.
    * ``samples``: number of RTT measurements taken.
    """

    __slots__ = ("min_rto", "max_rto", "initial_rto", "clock_granularity", "alpha", "beta", "k",
                 "srtt", "rttvar", "rto", "backoff", "samples", "_computed_rto", "_w")

    def __init__(self, min_rto: int = 1 * SEC, max_rto: int = 60 * SEC,
                 initial_rto: int = 1 * SEC, clock_granularity: int = 1 * MS,
                 alpha: float | Fraction = 1 / 8, beta: float | Fraction = 1 / 4,
                 k: int | float | Fraction = 4) -> None:
        """Parameters are RFC 6298's: ``min_rto`` is the floor of rule 2.4 (the RFC says 1 s),
        ``max_rto`` the optional cap of rule 2.5 (at least 60 s there), ``initial_rto`` the
        value of rule 2.1 used before any sample, ``clock_granularity`` G of rule 2.3, and
        ``alpha``, ``beta``, ``k`` the gains and variance multiplier of section 2 (1/8, 1/4, 4).
        """
        if min_rto <= 0 or max_rto <= 0 or initial_rto <= 0:
            raise ValueError("min_rto, max_rto and initial_rto must be greater than zero")
        if min_rto > max_rto:
            raise ValueError(f"min_rto ({min_rto} ns) exceeds max_rto ({max_rto} ns)")
        if clock_granularity < 0:
            raise ValueError("clock_granularity must not be negative")
        self.min_rto = int(min_rto)
        self.max_rto = int(max_rto)
        self.initial_rto = int(initial_rto)
        self.clock_granularity = int(clock_granularity)
        self.alpha = _fraction(alpha, "alpha", 0, 1)
        self.beta = _fraction(beta, "beta", 0, 1)
        self.k = _fraction(k, "k", 0, None)
        a, b, kk = self.alpha, self.beta, self.k
        #: The gains as integers, for the per-sample arithmetic.
        self._w = (a.denominator - a.numerator, a.numerator, a.denominator,
                   b.denominator - b.numerator, b.numerator, b.denominator,
                   kk.numerator, kk.denominator)
        self.srtt: int | None = None
        self.rttvar: int | None = None
        #: RFC 6298 2.1: until a measurement is made, RTO is the initial value.
        self._computed_rto = self.initial_rto
        self.rto = self.initial_rto
        self.backoff = 0
        self.samples = 0

    @property
    def base_rto(self) -> int:
        """The RTO as last computed from SRTT and RTTVAR (or the initial RTO), before any
        backoff: what :meth:`reset_backoff` returns to."""
        return self._computed_rto

    def sample(self, r: int) -> None:
        """Fold in one valid round-trip measurement ``r`` (ns) and recompute the RTO.

        RFC 6298 2.2, the first measurement: SRTT <- R, RTTVAR <- R/2.
        RFC 6298 2.3, later ones, RTTVAR first because it uses the old SRTT:
        RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R|, then
        SRTT <- (1 - alpha) * SRTT + alpha * R.
        Both: RTO <- SRTT + max(G, K*RTTVAR), raised to ``min_rto`` (2.4) and capped at
        ``max_rto`` (2.5). The new RTO replaces any backed-off value and the backoff count
        returns to zero (RFC 6298 section 5, the note after 5.7: a new measurement may
        "collapse" the RTO after exponential backoff).

        The caller must apply Karn's algorithm (see the module docstring).
        """
        if r < 0:
            raise ValueError(f"an RTT sample cannot be negative ({r} ns)")
        r = int(r)
        if self.srtt is None:
            self.srtt = r
            self.rttvar = r // 2
        else:
            a1, an, ad, b1, bn, bd, _, _ = self._w
            srtt = self.srtt
            self.rttvar = (b1 * self.rttvar + bn * abs(srtt - r)) // bd
            self.srtt = (a1 * srtt + an * r) // ad
        self.samples += 1
        self._computed_rto = self._compute()
        self.rto = self._computed_rto
        self.backoff = 0

    def _compute(self) -> int:
        """RFC 6298 2.2/2.3 RTO from SRTT and RTTVAR, then the bounds of 2.4 and 2.5."""
        w = self._w
        var_term = (w[6] * self.rttvar) // w[7]
        rto = self.srtt + max(self.clock_granularity, var_term)
        return min(max(rto, self.min_rto), self.max_rto)

    def on_timeout(self) -> None:
        """The retransmission timer expired: back off (RFC 6298 5.5, RTO <- RTO * 2), bounded
        by ``max_rto`` as 5.5 allows via 2.5. Call once per expiry, before re-arming the timer
        with :attr:`rto` (5.6)."""
        self.rto = min(2 * self.rto, self.max_rto)
        self.backoff += 1

    def reset_backoff(self) -> None:
        """Undo the backoff without a new measurement: RTO returns to the value last computed
        from SRTT and RTTVAR, or to the initial RTO (2.1) if there has been no sample yet.

        RFC 6298 never asks for this on an ordinary ACK: after a timeout the backed-off RTO is
        kept until a valid sample recomputes it (section 5, the note after 5.7; Karn,
        section 3), and :meth:`sample` already resets the backoff. Use this where a fresh start
        is meant, e.g. when a connection is (re)established without having timed out on its
        SYN; after a SYN timeout use :meth:`reinit_after_syn_timeout` instead (5.7).
        """
        self.backoff = 0
        self.rto = self._computed_rto

    def reinit_after_syn_timeout(self) -> None:
        """RFC 6298 5.7: the timer expired while awaiting the ACK of a SYN, so when data
        transmission begins (the handshake has completed) an RTO below 3 seconds MUST be
        re-initialised to 3 seconds. The backoff count returns to zero; ``max_rto`` still caps
        the result (2.5). The next valid sample recomputes the RTO as usual."""
        self.backoff = 0
        self.rto = min(max(self._computed_rto, SYN_TIMEOUT_RTO), self.max_rto)

    def __repr__(self) -> str:
        return (f"RttEstimator(srtt={self.srtt}, rttvar={self.rttvar}, rto={self.rto}, "
                f"backoff={self.backoff})")
