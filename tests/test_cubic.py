"""CUBIC (RFC 9438) window arithmetic on scripted sequences of hook calls.

Windows in the RFC are in segments; SMSS is 1000 bytes here so that N segments are N*1000
bytes. Expected values are computed from the RFC's formulas written out in the tests.
"""

import math

import pytest
from hypothesis import given, settings, strategies as hs

from tcplab.sim.clock import MS, SEC
from tcplab.tcp.congestion import (INITIAL_SSTHRESH, Cubic, CongestionState, available, create,
                                   lookup)
from tcplab.tcp.congestion import cubic as cubic_mod
from tcplab.tcp.congestion.newreno import NewReno

SMSS = 1000
C, BETA = 0.4, 0.7
ALPHA = 3 * (1 - BETA) / (1 + BETA)
KEYS = {"w_max", "k", "w_est", "epoch_start", "region"}


def fresh(smss=SMSS, **kw):
    cc = create("cubic")
    st = CongestionState(cwnd=0, smss=smss, **kw)
    cc.init(st, 0)
    return cc, st


def after_loss(cwnd_segs, now=0, flight=None):
    """A CUBIC sender in congestion avoidance at ``cwnd_segs`` that detects a loss by three
    duplicate ACKs at ``now`` and leaves recovery on a full ACK with plenty outstanding, so
    that cwnd = ssthresh (RFC 6582 option (1))."""
    cc, st = fresh()
    st.cwnd = st.ssthresh = cwnd_segs * SMSS
    cc.on_enter_recovery(st, now, cwnd_segs * SMSS if flight is None else flight)
    cc.on_exit_recovery(st, now, 10 * cwnd_segs * SMSS)
    return cc, st


def rounds(cc, st, now, rtt, n):
    """``n`` round trips of ACK clocking: each round acknowledges one window, one segment
    per ACK, the ACKs spread evenly over the round, every ACK carrying the RTT sample.
    Returns the list of (now, cwnd, region) after each round, and the final time."""
    log = []
    for _ in range(n):
        acks = max(st.cwnd // SMSS, 1)
        for i in range(acks):
            cc.on_ack(st, now + rtt * i // acks, SMSS, st.cwnd, rtt)
        now += rtt
        log.append((now, st.cwnd, st.extras["region"]))
    return log, now


# ---- constants and formulas ----

def test_constants():
    assert cubic_mod.C == 0.4 and cubic_mod.BETA_CUBIC == 0.7
    assert cubic_mod.ALPHA_CUBIC == pytest.approx(9 / 17)


def test_w_cubic_at_k_is_w_max_and_k_formula():
    # K = cbrt(W_max*(1-beta)/C) when cwnd_epoch = beta*W_max (RFC 9438 4.2 Figures 1-2).
    k = cubic_mod.cubic_k(100.0, 70.0)
    assert k == pytest.approx(math.cbrt(100 * 0.3 / 0.4)) == pytest.approx(4.2171633265)
    assert cubic_mod.w_cubic(k, k, 100.0) == 100.0
    assert cubic_mod.w_cubic(0.0, k, 100.0) == pytest.approx(70.0)        # starts at cwnd_epoch
    assert cubic_mod.w_cubic(k + 1, k, 100.0) == pytest.approx(100.4)
    assert cubic_mod.cubic_k(50.0, 60.0) == 0.0 and cubic_mod.cubic_k(50.0, 50.0) == 0.0


# ---- registry and state publication ----

def test_registry_lookup():
    assert "cubic" in available()
    a, b = create("CUBIC"), create("cubic")
    assert type(a) is Cubic and a is not b and lookup("Cubic") is Cubic
    assert isinstance(a, NewReno)
    assert a.name == "cubic" and a.rfc == "RFC 9438"
    assert a.exits_recovery_on_partial_ack is False


def test_instances_do_not_share_state():
    cc1, st1 = after_loss(100)
    cc2, st2 = fresh()
    assert st2.extras["w_max"] == 0.0 and cc2.w_max == 0.0
    assert cc1.w_max == 100.0


def test_extras_published_after_init():
    cc, st = fresh()
    assert set(st.extras) == KEYS
    assert st.extras == {"w_max": 0.0, "k": 0.0, "w_est": 0.0, "epoch_start": -1, "region": 0}
    assert st.cwnd == 4000 and st.ssthresh == INITIAL_SSTHRESH


def test_slow_start_is_rfc5681():
    cc, st = fresh()
    cc.on_ack(st, 0, 1000, 4000, None)
    cc.on_ack(st, 0, 3000, 4000, None)          # at most SMSS per ACK
    cc.on_ack(st, 0, 300, 4000, None)
    assert st.cwnd == 6300 and st.extras["region"] == 0 and st.extras["epoch_start"] == -1


# ---- congestion event: multiplicative decrease, K, fast convergence ----

def test_loss_at_100_segments():
    cc, st = fresh()
    st.cwnd = st.ssthresh = 100_000
    cc.on_enter_recovery(st, 5 * SEC, 100_000)
    assert st.ssthresh == 70_000                        # 0.7 * FlightSize
    assert st.cwnd == 73_000                            # ssthresh + 3*SMSS (RFC 5681 3.2)
    assert st.extras["w_max"] == pytest.approx(100_000)
    assert st.extras["k"] == pytest.approx(math.cbrt(75.0))
    assert st.extras["w_est"] == pytest.approx(70_000)
    assert st.extras["epoch_start"] == -1 and st.extras["region"] == 0
    # Recovery as NewReno: inflation, partial ACK deflation, full ACK option (1).
    cc.on_dup_ack_in_recovery(st, 5 * SEC)
    assert st.cwnd == 74_000
    cc.on_partial_ack(st, 5 * SEC, 3000)
    assert st.cwnd == 72_000
    cc.on_exit_recovery(st, 5 * SEC, 50_000)
    assert st.cwnd == 51_000
    cc.on_exit_recovery(st, 5 * SEC, 90_000)
    assert st.cwnd == 70_000
    assert st.extras["epoch_start"] == -1


def test_epoch_starts_on_first_congestion_avoidance_ack():
    cc, st = after_loss(100, now=1 * SEC)
    t0 = 3 * SEC
    cc.on_ack(st, t0, 1000, 70_000, 100 * MS)
    assert st.extras["epoch_start"] == t0
    assert cc.cwnd_epoch == 70.0
    assert st.extras["k"] == pytest.approx(math.cbrt(75.0))
    # W_est = cwnd_epoch + alpha * 1/cwnd (RFC 9438 4.3), alpha < 1 below cwnd_prior = 100.
    assert st.extras["w_est"] == pytest.approx(1000 * (70 + ALPHA / 70))


def test_epoch_k_uses_actual_cwnd_epoch():
    # Recovery ended with little outstanding: cwnd 20 segments, slow start back to ssthresh.
    cc, st = fresh()
    st.cwnd = st.ssthresh = 100_000
    cc.on_enter_recovery(st, 0, 100_000)
    cc.on_exit_recovery(st, 0, 19_000)
    assert st.cwnd == 20_000 and st.ssthresh == 70_000
    while st.cwnd < st.ssthresh:
        cc.on_ack(st, 0, 1000, st.cwnd, None)
        assert st.extras["region"] == 0
    cc.on_ack(st, 1 * SEC, 500, st.cwnd, None)
    assert cc.cwnd_epoch == 70.0
    assert st.extras["k"] == pytest.approx(math.cbrt((100 - 70) / 0.4))


def test_ssthresh_is_beta_times_flight_with_floor():
    cc, st = fresh()
    assert cc.ssthresh_after_loss(st, 100_000) == 70_000
    assert cc.ssthresh_after_loss(st, 10_001) == 7000          # floored to whole bytes
    assert cc.ssthresh_after_loss(st, 2500) == 2000            # 2*SMSS floor
    assert cc.ssthresh_after_loss(st, 0) == 2000
    # W_max comes from cwnd, ssthresh from FlightSize (RFC 9438 4.6 Figure 5).
    st.cwnd = st.ssthresh = 100_000
    cc.on_enter_recovery(st, 0, 60_000)
    assert st.ssthresh == 42_000 and cc.w_max == 100.0 and cc.cwnd_prior == 100.0
    assert st.extras["k"] == pytest.approx(math.cbrt((100 - 42) / 0.4))


def test_fast_convergence():
    cc, st = after_loss(100)
    assert cc.w_max == 100.0
    # Second loss below the old W_max: W_max = cwnd * (1 + beta)/2 (RFC 9438 4.7).
    st.cwnd = 90_000
    cc.on_enter_recovery(st, 0, 90_000)
    assert cc.w_max == pytest.approx(76.5)
    assert st.extras["w_max"] == pytest.approx(76_500)
    assert st.ssthresh == 63_000
    assert st.extras["k"] == pytest.approx(math.cbrt((76.5 - 63) / 0.4))
    cc.on_exit_recovery(st, 0, 1_000_000)
    # A loss at or above W_max remembers cwnd.
    st.cwnd = 80_000
    cc.on_enter_recovery(st, 0, 80_000)
    assert cc.w_max == 80.0


def test_fast_convergence_can_be_disabled():
    cc, st = after_loss(100)
    cc.fast_convergence = False
    st.cwnd = 90_000
    cc.on_enter_recovery(st, 0, 90_000)
    assert cc.w_max == 90.0


# ---- congestion avoidance: concave, convex, Reno-friendly ----

def test_single_ack_concave_step():
    cc, st = after_loss(100)
    rtt = 100 * MS
    cc.on_ack(st, 0, 1000, 70_000, rtt)                        # epoch starts at 0
    before = st.cwnd + 0.0
    now = 2 * SEC
    cc.on_ack(st, now, 1000, st.cwnd, rtt)
    k = math.cbrt(75.0)
    w_t = C * (2.0 - k) ** 3 + 100
    target = C * (2.1 - k) ** 3 + 100                           # W_cubic(t + RTT)
    cw = before / SMSS
    assert cw <= target <= 1.5 * cw and w_t > cc.w_est
    expected = (cw + (target - cw) / cw) * SMSS
    assert st.extras["region"] == 2
    assert abs(st.cwnd - expected) <= 1


def test_target_capped_at_one_and_a_half_cwnd():
    # Long after the epoch began the curve is far above cwnd: growth is (0.5*cwnd)/cwnd
    # per segment, i.e. half a segment per ACK.
    cc, st = after_loss(100)
    cc.on_ack(st, 0, 1000, 70_000, 100 * MS)
    cw = st.cwnd
    cc.on_ack(st, 60 * SEC, 1000, cw, None)
    assert st.extras["region"] == 2
    assert st.cwnd - cw in (500, 501)
    # One huge ACK cannot take cwnd past the target 1.5*cwnd.
    cw = st.cwnd
    cc.on_ack(st, 60 * SEC, 10 * cw, cw, None)
    assert st.cwnd <= 1.5 * cw + 1


def test_concave_then_convex():
    rtt = 100 * MS
    cc, st = after_loss(100)
    k = math.cbrt(75.0)
    log, _ = rounds(cc, st, 0, rtt, 100)                      # 10 s: well past K = 4.22 s
    t0 = cc.epoch_start
    secs = [(now - t0) / SEC for now, _, _ in log]
    cwnds = [c for _, c, _ in log]
    regions = [r for _, _, r in log]
    growth = [b - a for a, b in zip(cwnds, cwnds[1:])]
    for t, c, r in zip(secs, cwnds, regions):
        if 0.5 < t < k - 0.5:
            assert r == 2 and c < 100_000                      # concave, below W_max
        if k + 0.3 < t < 5.8:
            assert r == 3 and c >= 100_000                     # convex, above W_max
        # Never above the curve one RTT ahead, except where W_est is larger.
        if r != 1:
            assert c <= (C * (t + 0.1 - k) ** 3 + 100) * SMSS + 1
    # The window sits at W_max around t = K (the plateau).
    near_k = [c for t, c in zip(secs, cwnds) if abs(t - k) < 0.15]
    assert near_k and all(97_000 <= c <= 100_500 for c in near_k)
    # Concave: growth per round shrinks approaching K; convex: it increases after K.
    before = [g for t, g in zip(secs[1:], growth) if 0.5 < t < k - 0.5]
    after = [g for t, g in zip(secs[1:], growth) if k + 0.3 < t < 5.8]
    late = [g for t, g in zip(secs[1:], growth) if t > 8.5]
    assert len(before) > 10 and len(after) > 10 and len(late) > 10
    assert all(b <= a for a, b in zip(before, before[1:]))
    assert all(b >= a for a, b in zip(after, after[1:]))
    assert all(b >= a for a, b in zip(late, late[1:]))
    assert before[0] > 1000 and before[-1] < 500 and late[-1] > 3000
    # In between, W_est (alpha 1 once it reached cwnd_prior = 100 segments) briefly leads:
    # one segment per RTT, until the convex curve overtakes it for good.
    reno = [(t, g) for t, g, r in zip(secs[1:], growth, regions[1:]) if r == 1]
    assert reno and all(5.8 < t < 8.5 and 800 <= g <= 1030 for t, g in reno)
    assert regions[-1] == 3


def test_reno_friendly_region_wins_on_short_rtt():
    rtt = 1 * MS
    cc, st = after_loss(20)                                     # W_max 20, cwnd 14, K 2.47 s
    cc.on_ack(st, 0, 1000, st.cwnd, rtt)
    assert st.extras["region"] == 1
    assert st.extras["w_est"] == pytest.approx(1000 * (14 + ALPHA / 14))
    assert st.cwnd == int(1000 * (14 + ALPHA / 14))
    # Replay the RFC 9438 4.3 recurrence: W_est += alpha * segments_acked / cwnd with alpha
    # = 3(1-beta)/(1+beta) until W_est reaches cwnd_prior (20), then 1; cwnd = W_est.
    w = 14 + ALPHA / 14
    now = 0
    for _ in range(40):                                         # 40 ms: W_cubic barely moves
        acks = st.cwnd // SMSS
        for i in range(acks):
            cc.on_ack(st, now + rtt * i // acks, SMSS, st.cwnd, rtt)
            w += (1.0 if w >= 20 else ALPHA) / w
            assert st.extras["region"] == 1
        now += rtt
        assert abs(st.cwnd - w * SMSS) <= 1
    assert st.extras["w_est"] == pytest.approx(w * SMSS)
    assert st.cwnd > 20_000 + 15 * SMSS                        # far beyond the cubic curve
    assert st.cwnd > (C * (now / SEC - cc.k) ** 3 + 20) * SMSS


def test_fractional_growth_accumulates():
    # cwnd 1400 segments: each 1-segment ACK adds alpha/1400 segment = 0.38 bytes.
    cc, st = after_loss(2000)
    assert st.cwnd == 1_400_000
    w = 1400.0
    for _ in range(3000):
        cc.on_ack(st, 0, SMSS, st.cwnd, None)                 # t = 0: Reno-friendly
        w += ALPHA / w
    assert st.extras["region"] == 1
    assert abs(st.cwnd - w * SMSS) <= 1
    assert st.cwnd >= 1_400_000 + 1130                         # not lost to truncation


# ---- timeout and idle ----

def test_rto_loss_window_and_first_epoch_after_timeout():
    cc, st = after_loss(100)
    cc.on_ack(st, 0, 1000, 70_000, 100 * MS)
    st.cwnd = 50_000
    cc.on_rto(st, 10 * SEC, 40_000)
    assert st.cwnd == SMSS and st.ssthresh == 28_000
    assert cc.w_max == 50 * (1 + BETA) / 2                      # 50 < 100: fast convergence
    assert st.extras["k"] == 0.0 and st.extras["epoch_start"] == -1
    assert st.extras["region"] == 0
    cc.on_rto(st, 11 * SEC, 1000)                               # same segment again
    assert st.cwnd == SMSS and st.ssthresh == 28_000 and cc.w_max == 42.5
    now = 12 * SEC
    while st.cwnd < st.ssthresh:                                # slow start
        cc.on_ack(st, now, 1000, st.cwnd, None)
        assert st.extras["region"] == 0
    cw = st.cwnd
    now += SEC
    cc.on_ack(st, now, 1000, cw, None)
    # RFC 9438 4.8: K = 0, W_max = W_est = cwnd at the start of congestion avoidance.
    assert st.extras["epoch_start"] == now
    assert st.extras["k"] == 0.0
    assert st.extras["w_max"] == pytest.approx(cw)
    assert st.extras["w_est"] == pytest.approx(cw + 1000 * ALPHA * 1000 / cw)
    # Then the curve is convex from cwnd_epoch on: region 3 once it beats W_est.
    log, _ = rounds(cc, st, now, 100 * MS, 60)
    assert log[-1][2] == 3


def test_rto_during_recovery_and_after_dup_ack_loss():
    cc, st = fresh()
    st.cwnd = st.ssthresh = 40_000
    cc.on_enter_recovery(st, 0, 40_000)
    cc.on_rto(st, SEC, 40_000)
    assert st.cwnd == SMSS and st.ssthresh >= 2 * SMSS and cc.after_timeout
    # A fast-retransmit loss before congestion avoidance resumed ends the timeout case.
    st.cwnd = 10_000
    cc.on_enter_recovery(st, 2 * SEC, 10_000)
    assert not cc.after_timeout and st.ssthresh == 7000


def test_idle_restart_resets_epoch():
    cc, st = after_loss(100)
    cc.on_ack(st, 0, 1000, 70_000, 100 * MS)
    assert st.extras["epoch_start"] == 0
    cc.on_idle_restart(st, 30 * SEC)
    assert st.cwnd == 4000                                     # min(IW, cwnd), RFC 5681 4.1
    assert st.extras["epoch_start"] == -1 and st.extras["region"] == 0
    assert st.extras["w_max"] == pytest.approx(100_000)        # W_max is kept


def test_rtt_tracking():
    cc, st = fresh()
    cc.on_ack(st, 0, 1000, 4000, 100 * MS)
    cc.on_ack(st, 0, 1000, 4000, None)
    cc.on_ack(st, 0, 1000, 4000, 20 * MS)
    assert cc.latest_rtt == 20 * MS and cc.min_rtt == 20 * MS
    assert cc.srtt == pytest.approx(0.875 * 100 * MS + 0.125 * 20 * MS)


# ---- random sequences of hooks ----

op = hs.one_of(
    hs.tuples(hs.just("ack"), hs.integers(1, 5 * SMSS), hs.integers(0, 500 * MS),
              hs.one_of(hs.none(), hs.integers(0, 400 * MS)), hs.floats(0.0, 1.5)),
    hs.tuples(hs.just("dup"), hs.floats(0.0, 1.5)),
    hs.tuples(hs.just("full"), hs.floats(0.0, 1.5)),
    hs.tuples(hs.just("rto"), hs.floats(0.0, 1.5)),
    hs.tuples(hs.just("idle"), hs.integers(0, 10 * SEC)),
)


@settings(max_examples=300, deadline=None)
@given(hs.sampled_from([536, 1000, 1460]), hs.lists(op, max_size=120))
def test_random_hook_sequences_keep_invariants(smss, ops):
    cc, st = fresh(smss=smss)
    now = 0
    in_recovery = False
    lost = False
    for o in ops:
        kind = o[0]
        before = st.cwnd
        flight = int(st.cwnd * o[-1]) if kind != "idle" else 0
        if kind == "ack":
            _, acked, dt, rtt, _ = o
            now += dt
            if in_recovery:                                    # partial ACK
                cc.on_partial_ack(st, now, acked)
            else:
                in_ca = st.cwnd >= st.ssthresh
                cc.on_ack(st, now, acked, flight, rtt)
                assert st.cwnd >= before                       # an ACK never shrinks cwnd
                if in_ca:
                    assert st.extras["region"] in (1, 2, 3)
                    assert 0 <= st.extras["epoch_start"] <= now
                    # Target <= 1.5*cwnd; Reno-friendly steps stay within 2 segments.
                    assert st.cwnd <= before + max(before // 2, 2 * smss) + 2
                else:
                    assert st.cwnd <= before + smss and st.extras["region"] == 0
        elif kind == "dup":
            if in_recovery:
                cc.on_dup_ack_in_recovery(st, now)
                assert st.cwnd == before + smss
            else:
                cc.on_enter_recovery(st, now, flight)
                in_recovery = lost = True
                assert st.cwnd == st.ssthresh + 3 * smss
                assert st.ssthresh == max(flight * 7 // 10, 2 * smss)
        elif kind == "full":
            if in_recovery:
                cc.on_exit_recovery(st, now, flight)
                in_recovery = False
                assert st.cwnd <= st.ssthresh
        elif kind == "rto":
            now += 200 * MS
            cc.on_rto(st, now, flight)
            in_recovery = False
            lost = True
            assert st.cwnd == smss and st.extras["k"] == 0.0
        else:
            now += o[1]
            if not in_recovery:
                cc.on_idle_restart(st, now)
                assert st.cwnd <= before and st.extras["epoch_start"] == -1
        assert isinstance(st.cwnd, int) and isinstance(st.ssthresh, int)
        assert st.cwnd >= smss
        assert st.ssthresh >= 2 * smss
        if lost:
            assert st.ssthresh < INITIAL_SSTHRESH
        assert set(st.extras) == KEYS
        assert st.extras["w_max"] >= 0 and st.extras["k"] >= 0 and st.extras["w_est"] >= 0
        assert all(math.isfinite(v) for v in st.extras.values())


# ---- wired into a connection ----

def test_connection_fast_retransmit_with_cubic():
    from tcplab.tcp.config import TcpConfig
    from tcplab.trace.events import SendReason
    from tcpkit import IRS, ISS, RTT, established, out, seg

    smss = 500
    c, now = established(TcpConfig(mss=smss, iw=10, cc="cubic"))
    assert type(c.cc) is Cubic and set(c.ccs.extras) == KEYS
    c.send(now, b"x" * 20000)
    out(c, now)
    now += RTT

    def ack(n, times=1):
        sent = []
        for _ in range(times):
            c.on_segment(now, seg(IRS + 1, ISS + 1 + n))
            sent += out(c, now)
        return sent

    ack(500)                                    # slow start: cwnd 5500; segment 2 is lost
    flight = c.snd_max - c.snd_una
    ack(500, times=2)                           # limited transmit, not counted in FlightSize
    (rx, reason), = ack(500)
    assert reason == SendReason.FAST_RETX and rx.seq == ISS + 501
    assert c.ccs.ssthresh == flight * 7 // 10 == 3850
    assert c.ccs.cwnd == 3850 + 3 * smss
    assert c.ccs.extras["w_max"] == pytest.approx(5500)
    assert c.ccs.extras["k"] == pytest.approx(math.cbrt((11 - 7.7) / 0.4))
