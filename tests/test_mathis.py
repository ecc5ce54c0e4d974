"""Bulk throughput under random loss against the Mathis et al. model (bench/bench_mathis.py).

NewReno without SACK and without delayed ACKs on the ``bulk`` path made loss-limited (1 Gb/s
links, deep queues, a receive buffer far above the loss-limited window, lossless ACK path; see
the bench's docstring), three seeds per loss rate, pooled. Everything is simulated time.

The model, Mathis et al. 1997: BW = (MSS / RTT) * C / sqrt(p), C = sqrt(3 / 2b) = 1.22 for one
ACK per segment (b = 1). Its derivation assumes (a) periodic loss, one loss per window, each
loss halving cwnd at once and growth resuming at once, (b) no retransmission timeouts, (c) no
receive-window or link limit. (c) is arranged by the setup. For (b), the compared goodput
excludes timeout episodes (bytes and time; see ``measure``), and the timeouts' cost is checked
separately against the PFTK refinement. Around (a) the engine may legitimately fall anywhere
between two bounding idealisations, which give the band:

Lower: every loss is its own congestion event, losses are periodic (the less favourable
spacing: C = 1.22 against 1.31 for Bernoulli spacing, see below), and each event
costs one round trip of fast recovery in which cwnd does not grow and only W/2 new segments
go out (RFC 5681 3.2 / RFC 6582: the retransmission takes one RTT to be acknowledged and cwnd
is deflated to ssthresh). A cycle then carries 1/p packets = 3W^2/8 + W/2, of which one is the
retransmission, in W/2 + 1 round trips. At p = 0.1%, 1%, 3% this is 0.97, 0.91, 0.85 of Mathis.

Upper: losses are Bernoulli (what the link does), recovery is instantaneous and several losses
in one window count as one halving (what NewReno does: one reduction per window of data). For
ideal AIMD under Bernoulli loss the mean window is 1.31/sqrt(p) (Ott, Kemperman and Mathis
1996), i.e. C = 1.31 instead of 1.22, applied to the measured loss-event rate p_e (fast
recoveries and timeout episodes per packet) instead of p.

Sampling: with three seeds the pooled figure rests on 40-120 loss events. Over 18 seeds the
per-run standard deviation of the ratio is 3-5% when no timeout disturbs the sawtooth (see
bench/README.md), so a three-seed pool has a standard error of 2-3%. The band is widened by
10% on each side, about 3-4 standard errors, and no more: a run pushed further out is a finding
(as the test at the end once was: a timeout in fast recovery used to raise ssthresh, which
moved one pool of seeds above the upper bound's 1.10 to 1.18 and doubled or quintupled the
per-run spread at 3% and 0.1%; the engine now keeps the episode's ssthresh).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "bench_mathis", Path(__file__).resolve().parent.parent / "bench" / "bench_mathis.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("bench_mathis", bench)      # dataclasses look their module up
_spec.loader.exec_module(bench)

VARIANT = ["tcp.sack=false", "tcp.delayed_ack=false"]     # cc = newreno, the default
SEEDS = (1, 2, 3)
BYTES = {0.001: 30_000_000, 0.01: 8_000_000, 0.03: 3_000_000}
SAMPLING = 0.10
OTT_C = 1.31
MATHIS_C = math.sqrt(3 / 2)


def periodic_with_recovery(p: float) -> float:
    """The lower idealisation, as a fraction of Mathis: 1/p packets a cycle = 3W^2/8 + W/2
    (growth from W/2 to W, then one recovery round trip at W/2), one of them resent, over
    W/2 + 1 round trips."""
    w = (-0.5 + math.sqrt(0.25 + 1.5 / p)) / 0.75
    per_rtt = (1 / p - 1) / (w / 2 + 1)
    return per_rtt / (MATHIS_C / math.sqrt(p))


@pytest.fixture(scope="module")
def pooled():
    out = {}
    for p, nbytes in BYTES.items():
        ms = [bench.run_one(p, VARIANT, seed, nbytes) for seed in SEEDS]
        out[p] = (bench.pool(ms), ms)
    return out


@pytest.mark.parametrize("p", sorted(BYTES))
def test_goodput_without_timeouts_within_the_models_band(pooled, p):
    r, ms = pooled[p]
    assert abs(r.p - p) < 0.25 * p                      # the link draws what it was told
    packets = sum(m.interval * m.goodput / 8 / m.seg for m in ms)
    p_event = r.loss_events / packets
    model = bench.mathis(r.seg, r.rtt, r.p, 1)
    ratio = r.goodput_ca / model
    lower = periodic_with_recovery(r.p) * (1 - SAMPLING)
    # Upper bound in Mathis's own terms: C = 1.31 at the loss-event rate.
    upper = (OTT_C / MATHIS_C) * math.sqrt(r.p / p_event) * (1 + SAMPLING)
    assert lower <= ratio <= upper, (p, round(lower, 3), round(ratio, 3), round(upper, 3))


@pytest.mark.parametrize("p", sorted(BYTES))
def test_timeouts_cost_no_more_than_pftk_predicts(pooled, p):
    """With timeouts counted, the goodput stays above PFTK (Padhye et al. 1998, with the
    measured T0): PFTK's timeout probability min(1, 3/W) models Reno losing the rest of a
    round after a drop-tail loss, which overstates NewReno's timeouts under independent loss
    (there a timeout needs a lost retransmission, probability p, or a window too small for
    three duplicate ACKs)."""
    r, _ = pooled[p]
    assert r.goodput >= bench.pftk(r.seg, r.rtt, r.p, r.t0)


def test_a_timeout_in_fast_recovery_does_not_raise_ssthresh():
    """Seed 10 at 0.1%: a retransmission in fast recovery is lost; while the timer runs the
    sender keeps sending new data on duplicate ACKs until the 1 MB receive window is full, then
    the timer expires. The loss was already answered by halving; the timeout should not raise
    ssthresh above that (pooled over seeds 10-12 this lifts goodput to 1.18 x Mathis, above
    the band's upper bound 1.10 without its sampling allowance)."""
    from tcplab.scenario import load
    from tcplab.scenario.runner import Run
    from tcplab.trace.events import EventKind, TimerKind, Var

    run = Run(load("bulk", bench.overrides(0.001, VARIANT, 10_000_000)), seed=10)
    run.run()
    tr = run.trace
    ssthresh = [(tr.t[i], tr.b[i], tr.c[i]) for i in tr.indices(EventKind.VAR)
                if tr.conn[i] == 0 and tr.a[i] == Var.SSTHRESH]
    expiries = [tr.t[i] for i in tr.indices(EventKind.TIMER_EXPIRE)
                if tr.conn[i] == 0 and tr.a[i] == TimerKind.RTO]
    assert expiries
    raised = [(t, old, new) for t, old, new in ssthresh if t in expiries and new > old]
    assert raised == []
