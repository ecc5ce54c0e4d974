"""The receiver's out-of-order queue (RFC 9293 3.10.7.4, "segment text").

RFC 9293 3.10.7.4 lets a receiver keep segments that arrive beyond RCV.NXT but inside the
window ("segments with higher beginning sequence numbers ... may be held for later
processing") and deliver their text once the gap before them is filled. This queue holds those
bytes.

It works on *stream offsets*: non-negative ints counting bytes from the start of the received
data stream. The connection converts sequence numbers to offsets (and so deals with the
2**32 wraparound); nothing here is modular.

Held data is kept as disjoint, non-adjacent half-open ranges ``[start, end)`` sorted by start;
touching or overlapping ranges are merged, bytes included. Where a new segment overlaps bytes
already held, the bytes already held are kept ("first copy wins"); RFC 9293 leaves the choice
open and a correct peer sends identical bytes anyway. A sorted list searched with ``bisect``
suits the tens of ranges a window can produce.

For RFC 2018 SACK the queue also remembers which range received data most recently
(:meth:`ReassemblyQueue.sack_blocks`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

__all__ = ["ReassemblyQueue"]


class ReassemblyQueue:
    """Out-of-order bytes beyond RCV.NXT, by stream offset (RFC 9293 3.10.7.4)."""

    __slots__ = ("_starts", "_ends", "_data", "_stamps", "_clock", "_held")

    def __init__(self) -> None:
        self._starts: list[int] = []        # range starts, ascending
        self._ends: list[int] = []          # range ends (exclusive), ascending
        self._data: list[bytearray] = []    # bytes of each range
        self._stamps: list[int] = []        # when each range last received a segment
        self._clock = 0                     # counts add() calls, for recency
        self._held = 0

    # ---- adding and delivering ----

    def add(self, offset: int, data: bytes) -> int:
        """Hold ``data`` (a segment's text) that starts at stream ``offset``.

        Bytes overlapping what is already held are dropped in favour of the held copy; the rest
        is stored and merged with any touching ranges. Returns the number of bytes newly stored
        (0 for a full duplicate). The range that ends up containing the segment becomes the
        most recent one for :meth:`sack_blocks`, even when nothing new was stored, because
        RFC 2018 section 4 reports the block holding the segment that triggered the ACK.
        An empty ``data`` changes nothing.
        """
        if offset < 0:
            raise ValueError(f"stream offset must not be negative ({offset})")
        n = len(data)
        if n == 0:
            return 0
        s, e = offset, offset + n
        starts, ends = self._starts, self._ends
        self._clock += 1
        # Ranges i..j-1 overlap or touch [s, e).
        i = bisect_left(ends, s)
        j = bisect_right(starts, e)
        if i == j:
            starts.insert(i, s)
            ends.insert(i, e)
            self._data.insert(i, bytearray(data))
            self._stamps.insert(i, self._clock)
            self._held += n
            return n
        new_start = min(s, starts[i])
        new_end = max(e, ends[j - 1])
        view = memoryview(data)
        # Walk left to right; held ranges win, the new segment fills the gaps between them.
        if starts[i] <= s:
            buf = self._data[i]          # extend the first held range in place
            cursor = ends[i]
            k = i + 1
        else:
            buf = bytearray(view[:starts[i] - s])
            cursor = starts[i]
            k = i
        old = 0 if starts[i] > s else ends[i] - starts[i]
        for k in range(k, j):
            if cursor < starts[k]:
                buf += view[cursor - s:starts[k] - s]
            buf += self._data[k]
            old += ends[k] - starts[k]
            cursor = ends[k]
        if cursor < new_end:
            buf += view[cursor - s:]
        added = (new_end - new_start) - old
        starts[i:j] = [new_start]
        ends[i:j] = [new_end]
        self._data[i:j] = [buf]
        self._stamps[i:j] = [self._clock]
        self._held += added
        return added

    def pop_contiguous(self, rcv_offset: int) -> bytes:
        """Remove and return the held bytes that start exactly at ``rcv_offset`` (RCV.NXT as an
        offset) and run on without a gap; ``b''`` if the byte at ``rcv_offset`` is not held.

        Held data wholly below ``rcv_offset`` is already delivered and is discarded; a range
        straddling it is trimmed to start there. This is the "deliver the text once the hole is
        filled" step of RFC 9293 3.10.7.4.
        """
        starts, ends = self._starts, self._ends
        drop = bisect_right(ends, rcv_offset)      # ranges ending at or below rcv_offset
        if drop:
            self._held -= sum(ends[k] - starts[k] for k in range(drop))
            del starts[:drop], ends[:drop], self._data[:drop], self._stamps[:drop]
        if not starts or starts[0] > rcv_offset:
            return b""
        out = bytes(memoryview(self._data[0])[rcv_offset - starts[0]:])
        self._held -= ends[0] - starts[0]
        del starts[0], ends[0], self._data[0], self._stamps[0]
        return out

    def clear(self) -> None:
        """Forget everything held (e.g. when the connection is reset)."""
        self._starts.clear()
        self._ends.clear()
        self._data.clear()
        self._stamps.clear()
        self._held = 0

    # ---- inspecting ----

    def ranges(self) -> list[tuple[int, int]]:
        """Held ranges as half-open ``(start, end)`` offsets, ascending, disjoint and merged
        (no two touch)."""
        return list(zip(self._starts, self._ends))

    def holes(self, rcv_offset: int) -> list[tuple[int, int]]:
        """The missing ranges ``(start, end)`` between ``rcv_offset`` and the end of the last
        held range, ascending: exactly what the sender still has to fill for everything held
        to become deliverable. Empty when nothing beyond ``rcv_offset`` is held."""
        out: list[tuple[int, int]] = []
        cursor = rcv_offset
        for s, e in zip(self._starts, self._ends):
            if e <= cursor:
                continue
            if s > cursor:
                out.append((cursor, s))
            cursor = e
        return out

    @property
    def held_bytes(self) -> int:
        """Total bytes held (the sum of the range lengths)."""
        return self._held

    def sack_blocks(self, limit: int = 4, most_recent_first: bool = True) -> list[tuple[int, int]]:
        """Up to ``limit`` held ranges, for filling an RFC 2018 SACK option.

        With ``most_recent_first`` the range that most recently received a segment comes
        first (RFC 2018 section 4: the first block MUST be the one holding the segment that
        triggered the ACK, unless that segment advanced the cumulative ACK, in which case it is
        no longer held here), then the others from most to least recently received, which
        approximates repeating the most recently reported blocks. Otherwise the lowest
        ``limit`` ranges in ascending offset order.
        """
        if limit <= 0:
            return []
        if not most_recent_first:
            return list(zip(self._starts[:limit], self._ends[:limit]))
        order = sorted(range(len(self._starts)), key=self._stamps.__getitem__, reverse=True)
        return [(self._starts[k], self._ends[k]) for k in order[:limit]]

    def __len__(self) -> int:
        return len(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __repr__(self) -> str:
        return f"ReassemblyQueue(ranges={self.ranges()}, held_bytes={self._held})"
