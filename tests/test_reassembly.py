"""The receiver's out-of-order queue (RFC 9293 3.10.7.4), by stream offset."""

from hypothesis import given, settings, strategies as st

from tcplab.tcp.reassembly import ReassemblyQueue


def check_invariants(q: ReassemblyQueue) -> None:
    r = q.ranges()
    assert r == sorted(r)
    for s, e in r:
        assert s < e
    for (_, e1), (s2, _) in zip(r, r[1:]):
        assert e1 < s2                     # disjoint and not touching (merged)
    assert q.held_bytes == sum(e - s for s, e in r)
    assert len(q) == len(r)
    assert bool(q) == bool(r)


def test_empty():
    q = ReassemblyQueue()
    assert not q and len(q) == 0 and q.held_bytes == 0
    assert q.ranges() == [] and q.holes(0) == [] and q.sack_blocks() == []
    assert q.pop_contiguous(0) == b""


def test_in_order_gap_fill():
    q = ReassemblyQueue()
    assert q.add(10, b"klmno") == 5
    assert q.pop_contiguous(0) == b""
    assert q.holes(0) == [(0, 10)]
    assert q.add(0, b"abcdefghij") == 10
    assert q.ranges() == [(0, 15)]
    assert q.pop_contiguous(0) == b"abcdefghijklmno"
    assert not q and q.held_bytes == 0


def test_overlap_first_copy_wins_and_counts_new_bytes():
    q = ReassemblyQueue()
    assert q.add(5, b"AAAAA") == 5           # [5, 10)
    assert q.add(15, b"BBBBB") == 5          # [15, 20)
    assert q.add(3, b"xxxxxxxxxxxxxxxxxx") == 8   # [3, 21): new bytes 3-5, 10-15, 20-21
    assert q.ranges() == [(3, 21)]
    assert q.pop_contiguous(3) == b"xxAAAAAxxxxxBBBBBx"


def test_duplicates_and_contained():
    q = ReassemblyQueue()
    assert q.add(0 + 100, b"0123456789") == 10
    assert q.add(100, b"0123456789") == 0
    assert q.add(103, b"zz") == 0
    assert q.ranges() == [(100, 110)]
    assert q.add(110, b"ab") == 2            # touching ranges merge
    assert q.ranges() == [(100, 112)]
    assert q.add(90, b"") == 0
    check_invariants(q)


def test_pop_discards_below_and_trims_straddling():
    q = ReassemblyQueue()
    q.add(0, b"abc")
    q.add(5, b"fghij")
    q.add(20, b"uv")
    assert q.pop_contiguous(7) == b"hij"     # [0,3) dropped, [5,10) trimmed
    assert q.ranges() == [(20, 22)]
    assert q.held_bytes == 2
    assert q.pop_contiguous(30) == b""
    assert not q


def test_holes():
    q = ReassemblyQueue()
    q.add(10, b"x" * 5)
    q.add(20, b"y" * 5)
    assert q.holes(0) == [(0, 10), (15, 20)]
    assert q.holes(12) == [(15, 20)]
    assert q.holes(10) == [(15, 20)]
    assert q.holes(30) == []


def test_sack_blocks_recency():
    q = ReassemblyQueue()
    q.add(10, b"a")
    q.add(20, b"b")
    q.add(30, b"c")
    assert q.sack_blocks() == [(30, 31), (20, 21), (10, 11)]
    q.add(11, b"a")                          # extends the first range: now most recent
    assert q.sack_blocks() == [(10, 12), (30, 31), (20, 21)]
    q.add(20, b"b")                          # duplicate still counts as most recent
    assert q.sack_blocks(limit=2) == [(20, 21), (10, 12)]
    assert q.sack_blocks(limit=2, most_recent_first=False) == [(10, 12), (20, 21)]
    assert q.sack_blocks(limit=0) == []
    q.add(12, b"x" * 8)                      # bridges [10,12) and [20,21)
    assert q.sack_blocks() == [(10, 21), (30, 31)]


def test_clear():
    q = ReassemblyQueue()
    q.add(5, b"abc")
    q.clear()
    assert not q and q.held_bytes == 0 and q.ranges() == []


def test_add_does_not_alias_caller_buffer():
    q = ReassemblyQueue()
    buf = bytearray(b"hello")
    q.add(3, buf)
    buf[0] = ord("J")
    q.add(8, b"!")
    assert q.pop_contiguous(3) == b"hello!"


@st.composite
def chunked_stream(draw):
    data = draw(st.binary(min_size=1, max_size=300))
    n = len(data)
    chunks = draw(st.lists(
        st.tuples(st.integers(0, n - 1), st.integers(1, 40)), min_size=0, max_size=40))
    chunks = [(o, min(o + ln, n)) for o, ln in chunks]
    # Make sure every byte is covered at least once; extra cover pieces overlap others.
    step = draw(st.integers(1, 50))
    chunks += [(o, min(o + step, n)) for o in range(0, n, step)]
    order = draw(st.permutations(chunks))
    return data, order


@settings(max_examples=300)
@given(chunked_stream())
def test_random_overlapping_chunks_reassemble_exactly(case):
    data, order = case
    q = ReassemblyQueue()
    covered = set()
    for s, e in order:
        new = set(range(s, e)) - covered
        assert q.add(s, data[s:e]) == len(new)
        covered |= new
        check_invariants(q)
        # holes() is exactly the complement of ranges() up to the last held byte.
        held = q.ranges()
        holes = q.holes(0)
        last = held[-1][1]
        assert sorted(held + holes) == merge_check(held + holes, last)
        assert set().union(*(range(a, b) for a, b in holes)) == set(range(last)) - covered
    assert q.ranges() == [(0, len(data))]
    assert q.pop_contiguous(0) == data
    assert not q and q.held_bytes == 0


def merge_check(parts, last):
    """The pieces tile [0, last) exactly: sorted, touching, no overlap."""
    parts = sorted(parts)
    cursor = 0
    for s, e in parts:
        assert s == cursor and e > s
        cursor = e
    assert cursor == last
    return parts


@given(chunked_stream(), st.data())
def test_incremental_delivery_matches_stream(case, draw):
    data, order = case
    q = ReassemblyQueue()
    rcv = 0
    out = bytearray()
    for s, e in order:
        # A real receiver trims what lies below RCV.NXT before queueing; the queue copes anyway.
        q.add(s, data[s:e])
        got = q.pop_contiguous(rcv)
        out += got
        rcv += len(got)
        check_invariants(q)
        assert all(s2 > rcv for s2, _ in q.ranges())
    assert bytes(out) == data
