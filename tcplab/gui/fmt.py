"""Short human forms of engine values for the window's labels: ``5 ms``, ``10 Mb/s``, ``1 %``.

Durations and rates use the scenario format's own formatters (``tcplab.scenario.units``), so a
label reads back as the value a file would hold; a bandwidth of 0 is shown as "unlimited".
"""

from __future__ import annotations

from tcplab.scenario.units import format_duration, format_rate


def rate(bps: int) -> str:
    """``10_000_000`` -> ``"10 Mb/s"``; ``0`` (no serialisation delay) -> ``"unlimited"``."""
    return "unlimited" if bps == 0 else format_rate(bps)


def percent(p: float) -> str:
    return f"{p * 100:.3g} %"


def sim_time(ns: int) -> str:
    """The simulated clock as the toolbar and status bar show it: ``12.345678 s``."""
    return f"{ns / 1e9:.6f} s"


def link_label(params) -> str:
    """The text on a link: delay and bandwidth, then loss, jitter or DOWN when they apply."""
    text = f"{format_duration(params.delay)} · {rate(params.bandwidth)}"
    extra = []
    if params.loss:
        extra.append(f"loss {percent(params.loss)}")
    if params.jitter:
        extra.append(f"jitter {format_duration(params.jitter)}")
    if not params.up:
        extra.append("DOWN")
    return text + ("\n" + " · ".join(extra) if extra else "")
