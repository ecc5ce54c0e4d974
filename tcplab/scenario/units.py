"""Units people write in scenario files: ``5ms``, ``1.5 s``, ``10Mbps``, ``100 Mb/s``."""

from __future__ import annotations

import re

_TIME_UNITS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "µs": 1_000, "ns": 1}
_RATE_UNITS = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
_NUM = r"([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)"


def parse_duration(value) -> int:
    """Seconds as a number, or a string with a unit (s, ms, us, ns) -> integer ns."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"duration {value!r} is negative")
        return int(round(value * 1_000_000_000))
    if isinstance(value, str):
        m = re.fullmatch(_NUM + r"\s*(s|ms|us|µs|ns)", value.strip())
        if m:
            return int(round(float(m.group(1)) * _TIME_UNITS[m.group(2)]))
        if value.strip().startswith("-"):
            raise ValueError(f"duration {value!r} is negative")
    raise ValueError(f"expected a duration like 0.005, \"5ms\" or \"1 s\", got {value!r}")


def parse_rate(value) -> int:
    """Bits per second as a number, or ``10Mbps``/``100 Mb/s``/``56kbit/s`` -> int bits/s."""
    if isinstance(value, bool):
        raise ValueError(f"expected a bandwidth, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"bandwidth {value!r} is negative")
        return int(round(value))
    if isinstance(value, str):
        m = re.fullmatch(_NUM + r"\s*([kKmMgG]?)(?:bps|b/s|bit/s|bits/s)", value.strip())
        if m:
            return int(round(float(m.group(1)) * _RATE_UNITS[m.group(2).lower()]))
        if value.strip().startswith("-"):
            raise ValueError(f"bandwidth {value!r} is negative")
    raise ValueError(f"expected a bandwidth like 10000000, \"10Mbps\" or \"100 Mb/s\", got {value!r}")


def format_duration(ns: int) -> str:
    """Integer ns -> the shortest readable form in the largest fitting unit: ``"5 ms"``,
    ``"1.5 s"``, ``"200 µs"``, ``"0 s"``. parse_duration reads it back to the same ns."""
    if ns == 0:
        return "0 s"
    for unit in ("s", "ms", "µs"):
        if abs(ns) >= _TIME_UNITS[unit]:
            return f"{ns / _TIME_UNITS[unit]:.10g} {unit}"
    return f"{ns} ns"


def format_rate(bps: int) -> str:
    """Integer bits/s -> ``"10 Mb/s"``, ``"56 kb/s"``, ``"1.5 Gb/s"``, ``"0 b/s"`` (0: no limit).
    parse_rate reads it back to the same number."""
    for prefix in ("g", "m", "k"):
        if bps >= _RATE_UNITS[prefix]:
            return f"{bps / _RATE_UNITS[prefix]:.10g} {prefix.upper() if prefix != 'k' else 'k'}b/s"
    return f"{bps:.10g} b/s"
