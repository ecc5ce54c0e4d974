"""Sequence-number arithmetic modulo 2**32 (RFC 9293 section 3.4).

TCP sequence numbers live on a circle of 2**32 values: "all arithmetic dealing with sequence
numbers must be performed modulo 2**32" (RFC 9293 3.4). Comparing two numbers on a circle only
makes sense when they are known to be close; these helpers take "close" to mean less than
2**31 apart, which is the usual serial-number convention (RFC 1982 section 3.2). TCP keeps
every window it compares well inside that bound, so the convention never bites in practice.

All comparisons are defined through one signed difference, :func:`seq_sub`, so they agree with
each other by construction:

* ``seq_lt(a, b)``  is ``seq_sub(a, b) < 0``
* ``seq_le(a, b)``  is ``seq_sub(a, b) <= 0``
* ``seq_gt(a, b)``  is ``seq_sub(a, b) > 0``
* ``seq_ge(a, b)``  is ``seq_sub(a, b) >= 0``

The one pair the convention cannot order is two numbers exactly 2**31 apart (RFC 1982 leaves it
undefined). Here :func:`seq_sub` maps that distance to -2**31 in *both* directions, so for such
a pair ``seq_lt(a, b)`` and ``seq_lt(b, a)`` are both true. Callers must not rely on either
answer.

Arguments are expected to be sequence numbers already, i.e. ints in ``[0, 2**32)``. The
functions are plain module-level functions (no classes, no validation) because the engine calls
them for every segment.
"""

from __future__ import annotations

__all__ = [
    "MOD", "MASK", "HALF",
    "seq_add", "seq_sub", "seq_lt", "seq_le", "seq_gt", "seq_ge", "seq_between",
    "seq_max", "seq_min",
]

#: Size of the sequence space (RFC 9293 3.4: "modulo 2**32").
MOD = 1 << 32
#: All-ones mask: ``x & MASK`` is ``x mod 2**32`` for any int, negative ones included.
MASK = MOD - 1
#: Half the space: the largest distance two numbers may be apart and still be ordered.
HALF = 1 << 31


def seq_add(a: int, n: int) -> int:
    """The sequence number ``n`` positions after ``a`` (``n`` may be negative), mod 2**32.

    RFC 9293 3.4: e.g. the sequence number after a segment is SEG.SEQ + SEG.LEN, wrapped.
    """
    return (a + n) & MASK


def seq_sub(a: int, b: int) -> int:
    """Signed distance ``a - b`` taken the short way round the circle, in ``[-2**31, 2**31)``.

    Positive means ``a`` lies after ``b``. This is the number of bytes between two sequence
    numbers, e.g. the amount of data newly acknowledged by SEG.ACK - SND.UNA (RFC 9293 3.4).
    A distance of exactly 2**31 is reported as -2**31 (see the module note).
    """
    return ((a - b + HALF) & MASK) - HALF


def seq_lt(a: int, b: int) -> bool:
    """``a < b`` in sequence space (RFC 9293 3.4): ``a`` lies before ``b``."""
    return ((a - b) & MASK) >= HALF


def seq_le(a: int, b: int) -> bool:
    """``a =< b`` in sequence space (RFC 9293 3.4): ``a`` is ``b`` or lies before it."""
    d = (a - b) & MASK
    return d == 0 or d >= HALF


def seq_gt(a: int, b: int) -> bool:
    """``a > b`` in sequence space (RFC 9293 3.4): ``a`` lies after ``b``."""
    return 0 < ((a - b) & MASK) < HALF


def seq_ge(a: int, b: int) -> bool:
    """``a >= b`` in sequence space (RFC 9293 3.4): ``a`` is ``b`` or lies after it."""
    return ((a - b) & MASK) < HALF


def seq_between(lo: int, x: int, hi: int) -> bool:
    """``lo =< x < hi`` modulo 2**32: ``x`` lies on the half-open arc that starts at ``lo`` and
    runs forward (increasing, wrapping past 2**32 - 1 to 0) up to but not including ``hi``.

    Exactly: ``(x - lo) mod 2**32 < (hi - lo) mod 2**32``. This is the shape of RFC 9293's
    window tests, e.g. the acceptability test ``RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND``
    (3.10.7.4). Unlike the pairwise comparisons it needs no 2**31 convention: the arc may be
    any length from 0 to 2**32 - 1. ``lo == hi`` is the empty arc, so nothing is between.
    For a closed upper end (``lo < x =< hi``, as in ``SND.UNA < SEG.ACK =< SND.NXT``) use
    ``seq_between(seq_add(lo, 1), x, seq_add(hi, 1))``.
    """
    return ((x - lo) & MASK) < ((hi - lo) & MASK)


def seq_max(a: int, b: int) -> int:
    """The later of two sequence numbers (``b`` if they are equal or 2**31 apart)."""
    return a if 0 < ((a - b) & MASK) < HALF else b


def seq_min(a: int, b: int) -> int:
    """The earlier of two sequence numbers (``a`` if they are equal or 2**31 apart)."""
    return a if ((a - b) & MASK) >= HALF or a == b else b
