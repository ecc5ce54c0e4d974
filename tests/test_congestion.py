"""Reno (RFC 5681) and NewReno (RFC 6582) window arithmetic, and the registry."""

import pytest

from tcplab.tcp.congestion import (INITIAL_SSTHRESH, CongestionControl, CongestionState,
                                   available, create, initial_window, register)
from tcplab.tcp.congestion.newreno import NewReno
from tcplab.tcp.congestion.reno import Reno

SMSS = 1000


def fresh(name="newreno", smss=SMSS, **kw):
    cc = create(name)
    st = CongestionState(cwnd=0, smss=smss, **kw)
    cc.init(st, 0)
    return cc, st


def test_state_defaults():
    st = CongestionState()
    assert st.ssthresh == INITIAL_SSTHRESH == 2**31 - 1
    assert st.extras == {} and st.iw_segments is None
    assert not hasattr(st, "__dict__")          # slots


@pytest.mark.parametrize("smss,iw", [(536, 2144), (1095, 4380), (1096, 3288), (1460, 4380),
                                     (2190, 6570), (2191, 4382), (9000, 18000)])
def test_initial_window_table(smss, iw):
    assert initial_window(smss) == iw
    cc, st = fresh(smss=smss)
    assert st.cwnd == iw


def test_initial_window_override_and_syn_lost():
    cc, st = fresh(iw_segments=10, smss=1460)
    assert st.cwnd == 14600
    cc.init(st, 0, syn_lost=True)
    assert st.cwnd == 1460


def test_slow_start_growth_per_ack():
    cc, st = fresh()
    assert st.cwnd == 4000
    cc.on_ack(st, 0, 1000, 4000, None)
    assert st.cwnd == 5000
    cc.on_ack(st, 0, 2000, 4000, None)          # stretch ACK: at most SMSS (ABC, L = 1)
    assert st.cwnd == 6000
    cc.on_ack(st, 0, 300, 4000, None)           # small ACK: by bytes acked
    assert st.cwnd == 6300
    cc.on_ack(st, 0, 0, 4000, None)
    assert st.cwnd == 6300


def test_congestion_avoidance_byte_counting():
    cc, st = fresh()
    st.cwnd, st.ssthresh = 4000, 4000           # cwnd >= ssthresh: congestion avoidance
    for _ in range(3):
        cc.on_ack(st, 0, 1000, 4000, None)
    assert st.cwnd == 4000 and st.bytes_acked == 3000
    cc.on_ack(st, 0, 1000, 4000, None)          # a full window acknowledged
    assert st.cwnd == 5000 and st.bytes_acked == 0
    # Delayed ACKs (2 segments each) still give one SMSS per window.
    for _ in range(2):
        cc.on_ack(st, 0, 2000, 5000, None)
    assert st.cwnd == 5000
    cc.on_ack(st, 0, 2000, 5000, None)
    assert st.cwnd == 6000 and st.bytes_acked == 1000


def test_slow_start_crosses_into_avoidance():
    cc, st = fresh()
    st.cwnd, st.ssthresh = 4500, 5000
    cc.on_ack(st, 0, 1000, 4500, None)
    assert st.cwnd == 5500                      # slow start increase is not clipped
    cc.on_ack(st, 0, 1000, 4500, None)
    assert st.cwnd == 5500 and st.bytes_acked == 1000


def test_loss_threshold_halves_flight_with_floor():
    cc, st = fresh()
    assert cc.ssthresh_after_loss(st, 10_000) == 5000
    assert cc.ssthresh_after_loss(st, 10_001) == 5000
    assert cc.ssthresh_after_loss(st, 3000) == 2000   # 2*SMSS floor


def test_rto_sets_loss_window_and_holds_ssthresh_on_repeat():
    cc, st = fresh()
    st.cwnd = 20_000
    cc.on_rto(st, 0, 16_000)
    assert st.ssthresh == 8000 and st.cwnd == SMSS
    cc.on_rto(st, 0, 4000)                      # same segment timed out again
    assert st.ssthresh == 8000 and st.cwnd == SMSS
    cc.on_ack(st, 0, 1000, 16_000, None)        # new data acknowledged: slow start
    assert st.cwnd == 2000
    cc.on_rto(st, 0, 4000)                      # a new loss: recomputed
    assert st.ssthresh == 2000 and st.cwnd == SMSS


def test_reno_fast_recovery():
    cc, st = fresh("reno")
    assert cc.exits_recovery_on_partial_ack is True
    st.cwnd = 10_000
    cc.on_enter_recovery(st, 0, 10_000)
    assert st.ssthresh == 5000 and st.cwnd == 8000     # ssthresh + 3*SMSS
    cc.on_dup_ack_in_recovery(st, 0)
    cc.on_dup_ack_in_recovery(st, 0)
    assert st.cwnd == 10_000
    cc.on_exit_recovery(st, 0, 2000)
    assert st.cwnd == 5000                              # RFC 5681 step 6: ssthresh
    # Reno treats a partial ACK as the end of recovery.
    st.cwnd = 9000
    cc.on_partial_ack(st, 0, 1000)
    assert st.cwnd == 5000


def test_newreno_partial_and_full_ack():
    cc, st = fresh("newreno")
    assert cc.exits_recovery_on_partial_ack is False
    st.cwnd = 10_000
    cc.on_enter_recovery(st, 0, 10_000)
    assert (st.ssthresh, st.cwnd) == (5000, 8000)
    for _ in range(4):
        cc.on_dup_ack_in_recovery(st, 0)
    assert st.cwnd == 12_000
    cc.on_partial_ack(st, 0, 3000)              # deflate by 3000, add back SMSS
    assert st.cwnd == 10_000
    cc.on_partial_ack(st, 0, 500)               # less than SMSS acked: no add-back
    assert st.cwnd == 9500
    cc.on_partial_ack(st, 0, 20_000)            # guard: never below 1 SMSS
    assert st.cwnd == SMSS
    # Full ACK, option (1): min(ssthresh, max(FlightSize, SMSS) + SMSS).
    cc.on_exit_recovery(st, 0, 6000)
    assert st.cwnd == 5000
    cc.on_exit_recovery(st, 0, 2000)
    assert st.cwnd == 3000
    cc.on_exit_recovery(st, 0, 0)
    assert st.cwnd == 2000


def test_idle_restart():
    cc, st = fresh()
    st.cwnd = 30_000
    cc.on_idle_restart(st, 0)
    assert st.cwnd == 4000
    st.cwnd = 2000
    cc.on_idle_restart(st, 0)
    assert st.cwnd == 2000


def test_registry_listing_and_create():
    assert available() == ["cubic", "newreno", "reno"]
    a, b = create("newreno"), create("NewReno")
    assert isinstance(a, NewReno) and isinstance(b, NewReno) and a is not b
    assert type(create("reno")) is Reno
    assert issubclass(NewReno, CongestionControl)


def test_registry_unknown_name():
    with pytest.raises(ValueError) as exc:
        create("cubic-ish")
    assert str(exc.value) == "unknown congestion control 'cubic-ish'; available: cubic, newreno, reno"


def test_register_rejects_bad_classes():
    class Nameless(CongestionControl):
        pass

    class Clash(CongestionControl):
        name = "reno"

    with pytest.raises(ValueError):
        register(Nameless)
    with pytest.raises(ValueError):
        register(Clash)
    with pytest.raises(TypeError):
        register(int)
    assert register(Reno) is Reno               # re-registering the same class is harmless
    assert available() == ["cubic", "newreno", "reno"]
