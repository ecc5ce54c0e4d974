"""The data sender's SACK scoreboard (RFC 6675 section 2, RFC 2018).

It records which bytes above SND.UNA the receiver has reported holding in SACK blocks, and
answers the questions RFC 6675 asks of it: ``IsLost`` (3 duplicate-threshold rule, section 4),
the ``pipe`` estimate of bytes still in the network (``SetPipe``, section 4) and where the next
segment should start (``NextSeg``, section 4).

Like the receiver's reassembly queue it works on *stream offsets* (byte 0 is the first data
byte, ISS + 1): the connection converts sequence numbers, so nothing here is modular. Ranges are
half-open ``[start, end)``, disjoint, non-adjacent and sorted.
"""

from __future__ import annotations

from bisect import bisect_right

__all__ = ["Scoreboard", "DUPTHRESH"]

#: RFC 6675 section 2 "DupThresh": duplicate ACKs (or SACKed segments) that signal a loss.
DUPTHRESH = 3


class Scoreboard:
    """SACKed ranges above SND.UNA and the retransmission marks of one recovery episode."""

    __slots__ = ("starts", "ends", "sacked", "high_rxt", "rescue_rxt")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        #: Total SACKed bytes.
        self.sacked = 0
        #: RFC 6675 "HighRxt": end (exclusive) of the highest byte retransmitted in this
        #: recovery episode, or -1.
        self.high_rxt = -1
        #: RFC 6675 "RescueRxt": the recovery point when the rescue retransmission was sent,
        #: or -1.
        self.rescue_rxt = -1

    # ---- updating ----

    def add(self, start: int, end: int) -> int:
        """Record that ``[start, end)`` is SACKed; return the number of bytes newly covered."""
        if end <= start:
            return 0
        starts, ends = self.starts, self.ends
        i = bisect_right(ends, start - 1)           # first range that ends at or after start
        j = i
        new_start, new_end = start, end
        covered = 0
        while j < len(starts) and starts[j] <= end:
            new_start = min(new_start, starts[j])
            new_end = max(new_end, ends[j])
            covered += ends[j] - starts[j]
            j += 1
        starts[i:j] = [new_start]
        ends[i:j] = [new_end]
        gained = (new_end - new_start) - covered
        self.sacked += gained
        return gained

    def advance(self, una: int) -> bool:
        """SND.UNA moved to offset ``una``: forget what lies below it. True if anything
        changed."""
        starts, ends = self.starts, self.ends
        if not starts or starts[0] >= una:
            return False
        while starts and ends[0] <= una:
            self.sacked -= ends[0] - starts[0]
            del starts[0], ends[0]
        if starts and starts[0] < una:
            self.sacked -= una - starts[0]
            starts[0] = una
        return True

    def clear(self) -> None:
        self.starts.clear()
        self.ends.clear()
        self.sacked = 0
        self.high_rxt = -1
        self.rescue_rxt = -1

    # ---- questions ----

    def is_sacked(self, off: int) -> bool:
        i = bisect_right(self.starts, off) - 1
        return i >= 0 and off < self.ends[i]

    def next_sacked(self, off: int) -> int | None:
        """Start of the first SACKed range at or after ``off`` (None if there is none)."""
        i = bisect_right(self.ends, off)
        if i >= len(self.starts):
            return None
        return max(self.starts[i], off)

    def sacked_between(self, a: int, b: int) -> int:
        """SACKed bytes inside ``[a, b)``."""
        total = 0
        for s, e in zip(self.starts, self.ends):
            if e <= a:
                continue
            if s >= b:
                break
            total += min(e, b) - max(s, a)
        return total

    @property
    def high_sacked(self) -> int:
        """End of the highest SACKed byte (0 when nothing is SACKed)."""
        return self.ends[-1] if self.ends else 0

    def lost_below(self, smss: int) -> int:
        """The offset below which every un-SACKed byte counts as lost.

        RFC 6675 ``IsLost(SeqNum)``: true when at least DupThresh discontiguous SACKed
        sequences lie above SeqNum, or more than (DupThresh - 1) * SMSS bytes above it are
        SACKed. Both counts only grow as SeqNum goes down, so the answer is a threshold: the
        start of the SACKed range, counted from the top, at which either rule first holds.
        Returns 0 (nothing lost) when neither ever holds."""
        total = 0
        for k in range(len(self.starts) - 1, -1, -1):
            total += self.ends[k] - self.starts[k]
            if total > (DUPTHRESH - 1) * smss or len(self.starts) - k >= DUPTHRESH:
                return self.starts[k]
        return 0

    def pipe(self, una: int, high_data: int, smss: int) -> int:
        """RFC 6675 ``SetPipe``: for every un-SACKed byte in ``[una, high_data)``, one if it is
        not lost (the original may still be in flight) plus one if it was retransmitted in
        this episode (below HighRxt)."""
        lost = max(una, min(self.lost_below(smss), high_data))
        pipe = (high_data - lost) - self.sacked_between(lost, high_data)
        if self.high_rxt > una:
            rx_end = min(self.high_rxt, high_data)
            pipe += (rx_end - una) - self.sacked_between(una, rx_end)
        return pipe

    def next_seg(self, una: int, high_data: int, smss: int) -> tuple[int, int, bool] | None:
        """RFC 6675 ``NextSeg`` rules 1 and 3: ``(offset, length, lost)`` of the next
        retransmission, or None when there is nothing to resend (rule 2, new data, and rule 4,
        the rescue retransmission, are the caller's).

        Rule 1: the lowest un-SACKed byte above HighRxt that is lost and below the highest
        SACKed byte. Rule 3 (``lost`` False): one that is not (yet) lost, which is only sent
        when there is no new data to send. The segment stops at the next SACKed range."""
        high = self.high_sacked
        off = max(una, self.high_rxt)
        while off < high:
            nxt = self.next_sacked(off)
            if nxt is None:
                return None
            if nxt > off:
                n = min(smss, nxt - off, high_data - off)
                if n <= 0:
                    return None
                return off, n, off < self.lost_below(smss)
            i = bisect_right(self.starts, off) - 1
            off = self.ends[i]
        return None

    def ranges(self) -> list[tuple[int, int]]:
        return list(zip(self.starts, self.ends))

    def __bool__(self) -> bool:
        return bool(self.starts)

    def __repr__(self) -> str:
        return f"Scoreboard({self.ranges()}, sacked={self.sacked}, high_rxt={self.high_rxt})"
