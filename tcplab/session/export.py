"""Exports of a trace (a live run's or a session's): pcapng captures, and every event as CSV
or JSON with its plain-language narration. Every output is written atomically
(:func:`write_atomic`): readers never see half a file, and a failure leaves an existing file
as it was.

The event columns (CSV header, JSON keys): ``index`` (row number), ``t_ns`` (simulated time,
integer ns), ``time_s`` (the same in seconds: an exact decimal in CSV, a number in JSON),
``kind`` (the EventKind name), ``node`` (node name), ``conn`` (connection label
``node:port``), ``pkt`` (packet uid), ``a b c d`` (the kind's integer fields, see
``tcplab.trace.events``), ``text`` (the narration). A field that does not apply is empty in
CSV and null in JSON. JSON events also carry ``extra`` when the row has one (tuples as lists,
bytes as hex).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Callable, Iterator

from tcplab import __version__
from tcplab.fileio import write_atomic
from tcplab.sim.clock import SEC
from tcplab.trace.events import EventKind

EVENT_COLUMNS = ("index", "t_ns", "time_s", "kind", "node", "conn", "pkt", "a", "b", "c", "d",
                 "text")
EVENTS_FORMAT = "tcplab-events"
EVENTS_VERSION = 1
_CHUNK = 65536

#: ``progress(done, total)``: called as an export goes; returning False (exactly) stops it.
Progress = Callable[[int, int], Any]


class ExportCancelled(Exception):
    """The ``progress`` callback asked to stop; nothing was written and an existing file was
    left as it was."""


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None and progress(done, total) is False:
        raise ExportCancelled("export cancelled")


def default_capture_node(trace, scenario) -> int:
    """Where a capture is taken unless told otherwise: the client of the scenario's first
    application, else the node of the first connection that opened actively, else node 0."""
    for app in scenario.apps:
        if app.client in trace.nodes:
            return trace.nodes.index(app.client)
    for info in trace.conns:
        if info.role == "client":
            return info.node
    return 0


def write_capture(path: str | Path, trace, node: int, progress: Progress | None = None) -> int:
    """The pcapng capture at ``node`` (``tcplab.trace.capture``) written atomically to
    ``path``; returns the number of packets. ``progress`` counts trace rows."""
    from tcplab.trace.capture import write_pcapng
    if progress is None:
        return write_atomic(path, lambda f: write_pcapng(trace, node, f))
    total = len(trace)

    def rows(done: int) -> None:
        _report(progress, done, total)
    _report(progress, 0, total)
    n = write_atomic(path, lambda f: write_pcapng(trace, node, f, rows))
    _report(progress, total, total)
    return n


def seconds_text(t_ns: int) -> str:
    """``t_ns`` as an exact decimal number of seconds: ``1.000000001``."""
    sign = "-" if t_ns < 0 else ""
    t = abs(t_ns)
    return f"{sign}{t // SEC}.{t % SEC:09d}"


def event_records(trace, progress: Progress | None = None) -> Iterator[tuple]:
    """One tuple per trace row, in :data:`EVENT_COLUMNS` order; ``None`` where a field does not
    apply. The narration is :class:`~tcplab.trace.narrate.Narrator`'s, as the views show it.
    ``progress`` hears of every block of rows (and may stop the export)."""
    from tcplab.trace.narrate import Narrator
    narrator = Narrator(trace)
    kinds = {int(k): k.name for k in EventKind}
    nodes = trace.nodes
    labels = [info.label(nodes) for info in trace.conns]
    n = len(trace)
    for start in range(0, n, _CHUNK):
        _report(progress, start, n)
        block = trace.matrix(start, min(n, start + _CHUNK)).tolist()
        for i, (t, kind, node, conn, pkt, a, b, c, d) in enumerate(block, start):
            yield (i, t, seconds_text(t), kinds.get(kind, str(kind)),
                   nodes[node] if node >= 0 else None, labels[conn] if conn >= 0 else None,
                   pkt if pkt >= 0 else None, a, b, c, d, narrator.explain(i))
    _report(progress, n, n)


def write_csv(path: str | Path, trace, progress: Progress | None = None) -> int:
    """Every event as one CSV row under a header of :data:`EVENT_COLUMNS`; returns the count."""
    def fill(f) -> int:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(EVENT_COLUMNS)
        count = 0
        for record in event_records(trace, progress):
            out.writerow(record)      # None is written as an empty field
            count += 1
        return count
    return write_atomic(path, fill, text=True)


def plain(value: Any) -> Any:
    """An extra value as plain JSON: tuples as lists, bytes as hex, keys as strings."""
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def write_json(path: str | Path, trace, header: dict[str, Any],
               progress: Progress | None = None) -> int:
    """``{"format": "tcplab-events", "version": 1, "tcplab": ..., **header, "events": [...]}``,
    one object per event (keys :data:`EVENT_COLUMNS`, plus ``extra`` when the row has one),
    written as it goes, one event per line; returns the count."""
    head = {"format": EVENTS_FORMAT, "version": EVENTS_VERSION, "tcplab": __version__,
            **header, "events_count": len(trace)}
    extra = trace.extra

    def fill(f) -> int:
        f.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "events": [')
        count = 0
        for record in event_records(trace, progress):
            obj = dict(zip(EVENT_COLUMNS, record))
            obj["time_s"] = record[1] / SEC
            i = record[0]
            if i in extra:
                obj["extra"] = plain(extra[i])
            f.write(("\n" if not count else ",\n") + json.dumps(obj, ensure_ascii=False))
            count += 1
        f.write("\n]}\n")
        return count
    return write_atomic(path, fill, text=True)
