"""Session files (``.tcplab``): a run kept whole, to reopen, replay and export.

A session holds the scenario text as it was run, the seed, the timeline of live user actions
and the complete trace, in a versioned zip container of plain data (``docs/session-format.md``).

    save_session(path, scenario_text, run)      write one, atomically
    load_session(path) -> Session               read one; SessionError says why it cannot
    replay(session) -> Run                      run it again and check the trace is the same

Exports of a session's trace (pcapng, CSV, JSON) are in :mod:`tcplab.session.export`.
Nothing here imports Qt.
"""

from tcplab.session.format import (FORMAT_NAME, FORMAT_VERSION, LIMITS, Session, SessionError,
                                   load_session, save_session)
from tcplab.session.replay import ReplayError, first_difference, replay

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "LIMITS", "ReplayError", "Session", "SessionError",
           "first_difference", "load_session", "replay", "save_session"]
