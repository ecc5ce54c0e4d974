"""Simulated time is an integer count of nanoseconds since the start of the run.

Integers keep runs exact and repeatable: no floating-point drift can reorder two events.
"""

NS = 1
US = 1_000
MS = 1_000_000
SEC = 1_000_000_000


def ns_from_seconds(seconds: float) -> int:
    """Convert a duration in seconds (as a user writes it) to integer nanoseconds."""
    return int(round(seconds * SEC))


def fmt_time(t_ns: int) -> str:
    """Render a time for people: ``1.234567 s`` with microsecond precision."""
    sign = "-" if t_ns < 0 else ""
    t = abs(t_ns)
    return f"{sign}{t // SEC}.{(t % SEC) // US:06d} s"


def fmt_duration(d_ns: int) -> str:
    """Render a duration with a unit that suits its size (``200 ms``, ``1.5 s``, ``12 us``)."""
    if d_ns >= SEC:
        return f"{d_ns / SEC:.3g} s"
    if d_ns >= MS:
        return f"{d_ns / MS:.3g} ms"
    if d_ns >= US:
        return f"{d_ns / US:.3g} us"
    return f"{d_ns} ns"
