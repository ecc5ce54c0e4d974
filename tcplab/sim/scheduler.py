"""The event scheduler: a heap of ``(time_ns, seq, handle)``.

Events fire in time order; events at the same nanosecond fire in the order they were scheduled
(the insertion counter ``seq`` breaks ties), which makes every run deterministic. The scheduler
knows nothing about wall-clock time: pacing a run for people to watch is the GUI's business.
"""

from __future__ import annotations

import heapq
from typing import Any, Callable


class Handle:
    """A scheduled callback. ``cancel()`` makes it a no-op; the heap entry is skipped lazily."""

    __slots__ = ("time", "seq", "callback", "args", "cancelled")

    def __init__(self, time: int, seq: int, callback: Callable[..., Any], args: tuple) -> None:
        self.time = time
        self.seq = seq
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        """Prevent the callback from running. Cancelling twice, or after it ran, is harmless."""
        self.cancelled = True
        self.callback = None  # drop references early
        self.args = ()

    @property
    def active(self) -> bool:
        return not self.cancelled

    def __lt__(self, other: "Handle") -> bool:  # heap order: (time, seq)
        return (self.time, self.seq) < (other.time, other.seq)

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else "pending"
        return f"<Handle t={self.time} seq={self.seq} {state}>"


class Scheduler:
    """Discrete-event scheduler with an integer-nanosecond clock.

    ``schedule(delay, fn, *args)`` and ``schedule_at(time, fn, *args)`` return a ``Handle``;
    ``step()`` runs one event; ``run(until=t)`` runs every event with time <= t and leaves the
    clock at t; ``peek()`` tells the time of the next live event.
    """

    def __init__(self) -> None:
        self.now: int = 0
        self._heap: list[tuple[int, int, Handle]] = []
        self._seq = 0
        self.events_processed = 0

    def schedule(self, delay: int, callback: Callable[..., Any], *args: Any) -> Handle:
        if delay < 0:
            raise ValueError(f"cannot schedule into the past (delay {delay} ns)")
        return self.schedule_at(self.now + delay, callback, *args)

    def schedule_at(self, time: int, callback: Callable[..., Any], *args: Any) -> Handle:
        if time < self.now:
            raise ValueError(f"cannot schedule at {time} ns, before now ({self.now} ns)")
        seq = self._seq
        self._seq = seq + 1
        handle = Handle(time, seq, callback, args)
        heapq.heappush(self._heap, (time, seq, handle))
        return handle

    def peek(self) -> int | None:
        """Time of the next event that will really run, or None when nothing is pending."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pending(self) -> int:
        """Number of live events still queued (cancelled ones excluded)."""
        return sum(1 for _, _, h in self._heap if not h.cancelled)

    def step(self) -> bool:
        """Run the next live event. Returns False when there was none."""
        heap = self._heap
        while heap:
            time, _, handle = heapq.heappop(heap)
            if handle.cancelled:
                continue
            self.now = time
            callback, args = handle.callback, handle.args
            handle.cancelled = True  # it has run: a late cancel() is a no-op
            self.events_processed += 1
            callback(*args)
            return True
        return False

    def run(self, until: int | None = None, max_events: int | None = None,
            advance: bool = True) -> int:
        """Run events in order until the heap is empty, the next event is after ``until``, or
        ``max_events`` have run. With ``until`` set and ``advance`` true, the clock ends at
        ``until`` (if the run was not cut short by ``max_events``); with ``advance`` false it
        stays at the last event when nothing is left to run. Returns the number of events run."""
        heap = self._heap
        pop = heapq.heappop
        count = 0
        limit = max_events if max_events is not None else -1
        while heap and count != limit:
            entry = heap[0]
            handle = entry[2]
            if handle.cancelled:
                pop(heap)
                continue
            if until is not None and entry[0] > until:
                break
            pop(heap)
            self.now = entry[0]
            callback, args = handle.callback, handle.args
            handle.cancelled = True
            count += 1
            callback(*args)
        self.events_processed += count
        if until is not None and count != limit and until > self.now and (advance or self.peek() is not None):
            self.now = until
        return count
