"""Running a recorded session again, and checking that the engine did exactly the same.

The engine is deterministic: the same scenario, seed and user actions at the same simulated
times give the same trace, row for row (docs/architecture.md). :func:`replay` re-runs a
session that way and compares the new trace with the recorded one.
"""

from __future__ import annotations

from tcplab.scenario.spec import ScenarioError
from tcplab.session.format import Session, SessionError
from tcplab.sim.clock import fmt_time


class ReplayError(SessionError):
    """The session cannot be replayed, or the replay differs from the recording."""


def replay(session: Session, *, check: bool = True):
    """A new :class:`~tcplab.scenario.runner.Run` of ``session``'s scenario and seed with its
    recorded actions applied at their times, run to the time the recording had reached.

    With ``check``, raises :class:`ReplayError` naming the first difference when the new trace
    is not the recorded one (see :func:`first_difference`)."""
    from tcplab.net.network import TopologyError
    from tcplab.scenario.runner import Run
    try:
        run = Run(session.scenario, seed=session.seed)
        run.replay_actions(session.actions, until=session.end_ns)
    except (ScenarioError, TopologyError, ValueError) as e:
        raise ReplayError(f"{session.path}: cannot replay: {e}") from None
    if check:
        problem = first_difference(session.trace, run.trace, session.end_ns)
        if problem is not None:
            raise ReplayError(f"{session.path}: the replay differs from the recording: {problem}")
    return run


def first_difference(recorded, replayed, end_ns: int | None = None) -> str | None:
    """None when ``replayed`` reproduces ``recorded``, else the first difference in words.

    The traces must be equal, except that the replay may go on with rows at ``end_ns``: a run
    saved between two engine events of one instant (the GUI runs in slices of a few
    milliseconds) is replayed to the end of that instant."""
    if recorded.fingerprint() == replayed.fingerprint():
        return None
    n, m = len(recorded), len(replayed)
    k = min(n, m)
    a, b = recorded.matrix(0, k), replayed.matrix(0, k)
    rows = (a != b).any(axis=1).nonzero()[0]
    if len(rows):
        i = int(rows[0])
        return (f"row {i} at {fmt_time(int(a[i, 0]))}: recorded {tuple(a[i].tolist())}, "
                f"replayed {tuple(b[i].tolist())}")
    for i in sorted({i for i in recorded.extra if i < k} | {i for i in replayed.extra if i < k}):
        old, new = recorded.extra.get(i), replayed.extra.get(i)
        if repr(old) != repr(new):
            return f"row {i}'s extra value: recorded {old!r:.80}, replayed {new!r:.80}"
    if m < n:
        return f"the replay stops after {m} rows, the recording has {n}"
    later = replayed.matrix(n, m)[:, 0]
    if end_ns is None or (later != end_ns).any():
        return f"the replay goes on after the recording's last row ({m} rows, recorded {n})"
    return None
