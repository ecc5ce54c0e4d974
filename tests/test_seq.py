"""Sequence-number arithmetic modulo 2**32 (RFC 9293 3.4)."""

from hypothesis import given, strategies as st

from tcplab.tcp.seq import (HALF, MASK, MOD, seq_add, seq_between, seq_ge, seq_gt, seq_le,
                            seq_lt, seq_max, seq_min, seq_sub)

seqs = st.integers(0, MOD - 1)
near = st.integers(-(HALF - 1), HALF - 1)      # distances the 2**31 convention can order


def test_constants():
    assert MOD == 2**32 and MASK == 2**32 - 1 and HALF == 2**31


def test_add_wraps():
    assert seq_add(MOD - 1, 1) == 0
    assert seq_add(MOD - 10, 20) == 10
    assert seq_add(5, -10) == MOD - 5
    assert seq_add(0, MOD) == 0


def test_sub_is_signed_short_way():
    assert seq_sub(5, MOD - 5) == 10
    assert seq_sub(MOD - 5, 5) == -10
    assert seq_sub(7, 7) == 0
    assert seq_sub(HALF - 1, 0) == HALF - 1
    assert seq_sub(0, HALF - 1) == -(HALF - 1)
    # Exactly half way: reported as -2**31 both ways.
    assert seq_sub(HALF, 0) == -HALF
    assert seq_sub(0, HALF) == -HALF


def test_comparisons_across_wrap():
    a, b = MOD - 100, 50          # b lies 150 after a
    assert seq_lt(a, b) and seq_le(a, b) and not seq_gt(a, b) and not seq_ge(a, b)
    assert seq_gt(b, a) and seq_ge(b, a) and not seq_lt(b, a) and not seq_le(b, a)
    assert seq_le(a, a) and seq_ge(a, a) and not seq_lt(a, a) and not seq_gt(a, a)
    assert seq_max(a, b) == b and seq_min(a, b) == a
    assert seq_max(b, a) == b and seq_min(b, a) == a


def test_half_way_pair_is_the_documented_exception():
    assert seq_lt(0, HALF) and seq_lt(HALF, 0)
    assert not seq_gt(0, HALF) and not seq_gt(HALF, 0)


def test_between_half_open_arc():
    assert seq_between(10, 10, 20)
    assert seq_between(10, 19, 20)
    assert not seq_between(10, 20, 20)
    assert not seq_between(10, 9, 20)
    # Arc wrapping through zero.
    lo, hi = MOD - 5, 5
    assert seq_between(lo, MOD - 5, hi)
    assert seq_between(lo, MOD - 1, hi)
    assert seq_between(lo, 0, hi)
    assert seq_between(lo, 4, hi)
    assert not seq_between(lo, 5, hi)
    assert not seq_between(lo, MOD - 6, hi)
    # Empty arc.
    assert not seq_between(7, 7, 7)
    # Arcs longer than 2**31 work too.
    assert seq_between(0, MOD - 2, MOD - 1)


@given(seqs, near)
def test_add_sub_inverse(a, n):
    b = seq_add(a, n)
    assert 0 <= b < MOD
    assert seq_sub(b, a) == n
    assert seq_add(a, seq_sub(b, a)) == b


@given(seqs, seqs)
def test_sub_range_and_roundtrip(a, b):
    d = seq_sub(a, b)
    assert -HALF <= d < HALF
    assert seq_add(b, d) == a


@given(seqs, near)
def test_order_antisymmetric_and_consistent(a, n):
    b = seq_add(a, n)
    assert seq_lt(a, b) == (n > 0) == seq_gt(b, a)
    assert seq_lt(b, a) == (n < 0) == seq_gt(a, b)
    assert not (seq_lt(a, b) and seq_lt(b, a))
    assert seq_le(a, b) == (not seq_gt(a, b))
    assert seq_ge(a, b) == (not seq_lt(a, b))
    assert (seq_le(a, b) and seq_ge(a, b)) == (a == b)
    assert seq_max(a, b) == (b if n >= 0 else a)
    assert seq_min(a, b) == (a if n >= 0 else b)


@given(seqs, st.integers(0, MOD - 1), st.integers(0, MOD - 1))
def test_between_matches_offsets(lo, length, k):
    hi = seq_add(lo, length)
    x = seq_add(lo, k)
    assert seq_between(lo, x, hi) == (k < length)


@given(seqs, st.integers(1, HALF - 1), st.integers(0, HALF - 1))
def test_between_agrees_with_pairwise_for_short_arcs(lo, length, k):
    hi = seq_add(lo, length)
    x = seq_add(lo, k - length // 2)
    assert seq_between(lo, x, hi) == (seq_le(lo, x) and seq_lt(x, hi))
