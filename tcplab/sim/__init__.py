"""Discrete-event simulation kernel: integer-nanosecond clock, ordered events, seeded streams."""

from tcplab.sim.clock import MS, NS, SEC, US, fmt_time, ns_from_seconds
from tcplab.sim.rng import RandomStreams
from tcplab.sim.scheduler import Handle, Scheduler

__all__ = ["Handle", "Scheduler", "RandomStreams", "NS", "US", "MS", "SEC", "fmt_time", "ns_from_seconds"]
