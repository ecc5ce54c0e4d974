"""RFC 6298 retransmission timeout arithmetic, exact in integer nanoseconds."""

import pytest

from tcplab.sim.clock import MS, SEC, US
from tcplab.tcp.rtt import SYN_TIMEOUT_RTO, RttEstimator


def test_before_any_sample_rto_is_initial():
    e = RttEstimator()
    assert e.srtt is None and e.rttvar is None
    assert e.rto == 1 * SEC and e.backoff == 0 and e.samples == 0


def test_first_sample_defaults_round_up_to_one_second():
    e = RttEstimator()
    e.sample(100 * MS)
    assert e.srtt == 100 * MS                       # 2.2
    assert e.rttvar == 50 * MS
    assert e.rto == 1 * SEC                         # 100 + 4*50 = 300 ms, raised by 2.4
    assert e.samples == 1


def test_first_sample_with_lower_floor():
    e = RttEstimator(min_rto=200 * MS)
    e.sample(100 * MS)
    assert e.rto == 300 * MS


def test_second_sample_updates_rttvar_with_old_srtt():
    e = RttEstimator(min_rto=1 * MS)
    e.sample(100 * MS)
    e.sample(200 * MS)
    # RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5 ms; SRTT = 7/8*100 + 1/8*200 = 112.5 ms
    assert e.rttvar == 62_500 * US
    assert e.srtt == 112_500 * US
    assert e.rto == 112_500 * US + 4 * 62_500 * US   # 362.5 ms


def test_integer_rounding_is_floor():
    e = RttEstimator(min_rto=1, clock_granularity=0)
    e.sample(3)
    assert (e.srtt, e.rttvar) == (3, 1)              # 3 // 2
    e.sample(10)
    assert e.rttvar == (3 * 1 + 7) // 4 == 2
    assert e.srtt == (7 * 3 + 10) // 8 == 3
    assert e.rto == 3 + 4 * 2


def test_granularity_term_dominates_small_variance():
    e = RttEstimator(min_rto=1 * MS, clock_granularity=10 * MS)
    for _ in range(40):
        e.sample(50 * MS)
    assert e.srtt == 50 * MS
    assert 4 * e.rttvar < 10 * MS
    assert e.rto == 60 * MS                          # SRTT + max(G, K*RTTVAR) = 50 + 10


def test_max_rto_caps_computation():
    e = RttEstimator(max_rto=60 * SEC)
    e.sample(30 * SEC)
    assert e.rto == 60 * SEC                         # 30 + 60 capped (2.5)


def test_backoff_doubles_up_to_cap():
    e = RttEstimator()
    seen = []
    for _ in range(9):
        e.on_timeout()
        seen.append(e.rto // SEC)
    assert seen == [2, 4, 8, 16, 32, 60, 60, 60, 60]
    assert e.backoff == 9


def test_new_sample_after_backoff_collapses_rto():
    e = RttEstimator(min_rto=200 * MS)
    e.sample(100 * MS)
    e.on_timeout()
    e.on_timeout()
    assert e.rto == 1200 * MS and e.backoff == 2
    e.sample(100 * MS)
    # RTTVAR = 3/4*50 + 0 = 37.5 ms; SRTT stays 100 ms; RTO = 100 + 150 = 250 ms.
    assert e.backoff == 0
    assert e.rttvar == 37_500 * US
    assert e.rto == 250 * MS


def test_reset_backoff_returns_to_computed_value():
    e = RttEstimator(min_rto=200 * MS)
    e.on_timeout()
    assert e.rto == 2 * SEC
    e.reset_backoff()
    assert e.rto == 1 * SEC and e.backoff == 0       # initial RTO, no sample yet
    e.sample(100 * MS)
    e.on_timeout()
    e.reset_backoff()
    assert e.rto == 300 * MS == e.base_rto


def test_syn_timeout_reinitialises_to_three_seconds():
    e = RttEstimator()
    e.on_timeout()
    e.reinit_after_syn_timeout()
    assert e.rto == SYN_TIMEOUT_RTO == 3 * SEC and e.backoff == 0
    e.sample(100 * MS)                               # a real measurement takes over
    assert e.rto == 1 * SEC
    capped = RttEstimator(min_rto=100 * MS, max_rto=2 * SEC)
    capped.reinit_after_syn_timeout()
    assert capped.rto == 2 * SEC
    big = RttEstimator()
    big.sample(2 * SEC)                              # RTO 6 s is already above 3 s
    big.reinit_after_syn_timeout()
    assert big.rto == 6 * SEC


def test_float_gains_are_exact_fractions():
    e = RttEstimator(min_rto=1, clock_granularity=0, alpha=0.5, beta=0.5, k=2)
    e.sample(100)
    e.sample(300)
    assert e.rttvar == (50 + 200) // 2
    assert e.srtt == (100 + 300) // 2
    assert e.rto == 200 + 2 * 125


def test_invalid_arguments():
    with pytest.raises(ValueError):
        RttEstimator(min_rto=2 * SEC, max_rto=1 * SEC)
    with pytest.raises(ValueError):
        RttEstimator(alpha=1.5)
    with pytest.raises(ValueError):
        RttEstimator().sample(-1)
