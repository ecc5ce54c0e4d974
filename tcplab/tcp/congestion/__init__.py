"""Pluggable congestion control: Reno (RFC 5681), NewReno (RFC 6582) and CUBIC (RFC 9438),
chosen by name.

``create("newreno")`` gives a strategy object whose hooks the connection calls; the window
variables live in a :class:`CongestionState` the connection owns.
"""

from .base import INITIAL_SSTHRESH, CongestionControl, CongestionState, initial_window
from .registry import available, create, lookup, register

# Built-in algorithms register themselves on import.
from . import reno as _reno  # noqa: E402,F401
from . import newreno as _newreno  # noqa: E402,F401
from . import cubic as _cubic  # noqa: E402,F401
from .cubic import Cubic
from .newreno import NewReno
from .reno import Reno

__all__ = ["CongestionControl", "CongestionState", "INITIAL_SSTHRESH", "initial_window",
           "register", "create", "available", "lookup", "Reno", "NewReno", "Cubic"]
