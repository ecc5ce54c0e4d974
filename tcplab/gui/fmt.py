"""Short human forms of engine values for labels: ``5 ms``, ``10 Mb/s``, ``1 %``."""

from __future__ import annotations


def duration(ns: int) -> str:
    """``5_000_000`` -> ``"5 ms"``; ``1_500_000_000`` -> ``"1.5 s"``; ``0`` -> ``"0"``."""
    if ns == 0:
        return "0"
    for unit, scale in (("s", 1_000_000_000), ("ms", 1_000_000), ("µs", 1_000)):
        if abs(ns) >= scale:
            return f"{ns / scale:.4g} {unit}"
    return f"{ns} ns"


def rate(bps: int) -> str:
    """``10_000_000`` -> ``"10 Mb/s"``; ``0`` -> ``"unlimited"``."""
    if bps == 0:
        return "unlimited"
    for unit, scale in (("Gb/s", 10**9), ("Mb/s", 10**6), ("kb/s", 10**3)):
        if bps >= scale:
            return f"{bps / scale:.4g} {unit}"
    return f"{bps} b/s"


def percent(p: float) -> str:
    return f"{p * 100:.3g} %"


def sim_time(ns: int) -> str:
    """The simulated clock as the status bar shows it: ``12.345678 s``."""
    return f"{ns / 1e9:.6f} s"


def link_label(params) -> str:
    """The text on a link: delay, bandwidth, and loss or queue when they matter."""
    parts = [duration(params.delay), rate(params.bandwidth)]
    line2 = []
    if params.loss:
        line2.append(f"loss {percent(params.loss)}")
    if params.jitter:
        line2.append(f"jitter {duration(params.jitter)}")
    if not params.up:
        line2.append("DOWN")
    text = " · ".join(parts)
    return text + ("\n" + " · ".join(line2) if line2 else "")
