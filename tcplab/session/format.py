"""Reading and writing ``.tcplab`` session files (the schema is in docs/session-format.md).

A session file is a zip archive of plain data: JSON, TOML, numpy ``.npy`` arrays of int64 and
raw datagram bytes. Nothing in it is ever executed or unpickled. The manifest comes first and
names the format and its version, the size and SHA-256 of every member and the counts of what
the trace holds.

Reading trusts nothing: the format and version are checked before anything else, every member's
size against its limit before it is decompressed (and decompression is capped at that size),
its checksum before it is parsed, and the parsed contents against each other (row fields point
at nodes, connections, links and packets that exist; enumerated codes are known ones) before a
``Trace`` is built; last, the rebuilt trace's fingerprint must equal the one recorded. Whatever
is wrong is raised as one :class:`SessionError` naming the file and the problem; nothing is
changed on disk by reading.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import struct
import zipfile
import zlib
from array import array
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from tcplab import __version__
from tcplab.net.wire import WireError, decode_packet, encode_packet
from tcplab.scenario.spec import Scenario, ScenarioError, loads
from tcplab.trace.events import (Detection, DropReason, EventKind, RecvOutcome, SendReason,
                                 TcpState, TimerKind, UserOp, Var)
from tcplab.trace.store import COLUMNS, NCOL, ConnInfo, LinkInfo, Trace

FORMAT_NAME = "tcplab-session"
#: The version this code writes, and the newest it reads.
FORMAT_VERSION = 1

KB, MB, GB = 1 << 10, 1 << 20, 1 << 30

MANIFEST = "manifest.json"
SCENARIO = "scenario.toml"
RUN = "run.json"
INFO = "trace/info.json"
EVENTS = "trace/events.npy"
PACKETS = "trace/packets.npy"
PACKET_BYTES = "trace/packets.bin"
EXTRA = "trace/extra.json"

#: Largest uncompressed size of each member; a larger one is refused before it is read.
LIMITS = {
    MANIFEST: 1 * MB,
    SCENARIO: 4 * MB,
    RUN: 64 * MB,
    INFO: 64 * MB,
    EVENTS: 2 * GB,
    PACKETS: 256 * MB,
    PACKET_BYTES: 2 * GB,
    EXTRA: 512 * MB,
}
#: The members every version-1 file has, in the order they are written.
MEMBERS = (MANIFEST, SCENARIO, RUN, INFO, EVENTS, PACKETS, PACKET_BYTES, EXTRA)

NPY_HEADER_MAX = 4 * KB
PACKET_COLUMNS = ("length", "wire_length", "dup_of")
#: Counts beyond these are refused as absurd (the member limits bound them anyway).
MAX_EVENTS = (LIMITS[EVENTS] - NPY_HEADER_MAX) // (8 * NCOL)
MAX_PACKETS = (LIMITS[PACKETS] - NPY_HEADER_MAX) // (8 * len(PACKET_COLUMNS))
MAX_NODES = 100_000
MAX_LINKS = 1_000_000
MAX_CONNS = 10_000_000
MAX_ACTIONS = 10_000_000
MAX_DEPTH = 32          # nesting of a value in extra.json / meta
ZIP_LOCAL_MAGIC = b"PK\x03\x04"


class SessionError(ValueError):
    """A session file that cannot be read (or a run that cannot be recorded): the message says
    which file and what is wrong, in one line."""


class _Bad(Exception):
    """A problem found while parsing one member; becomes a SessionError naming file and member."""


@dataclass
class Session:
    """What a session file holds, ready to use.

    ``trace`` is a complete :class:`~tcplab.trace.store.Trace`: every reader of a run's trace
    (narration, ladder, captures, views) works on it, and ``trace.fingerprint()`` equals the
    recorded run's. ``scenario`` is ``scenario_text`` validated; ``actions`` are the live user
    actions as ``Run.actions`` holds them; ``end_ns`` is the simulated time the run had reached.
    """

    path: Path
    manifest: dict
    scenario_text: str
    scenario: Scenario
    seed: int
    actions: list[tuple[int, dict[str, Any]]]
    trace: Trace
    end_ns: int
    fingerprint: str
    created: str = ""
    made_by: str = ""
    run_info: dict = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.scenario.title


# ================================================================================ values
def to_data(value: Any, depth: int = 0) -> Any:
    """``value`` (None, bool, int, float, str, bytes, tuple, list, dict) as JSON data that
    :func:`from_data` turns back into an equal value of the same types: tuples, bytes and dicts
    (with keys of any of these types) become one-key objects tagged ``$t``, ``$b``, ``$d``;
    non-finite floats ``$f``. Raises TypeError for anything else (only data is stored)."""
    t = type(value)
    if value is None or t is bool or t is int or t is str:
        return value
    if t is float:
        return value if math.isfinite(value) else {"$f": repr(value)}
    if depth >= MAX_DEPTH:
        raise TypeError(f"value nested more than {MAX_DEPTH} deep")
    if t is tuple:
        return {"$t": [to_data(v, depth + 1) for v in value]}
    if t is list:
        return [to_data(v, depth + 1) for v in value]
    if t is bytes or t is bytearray:
        return {"$b": base64.b64encode(bytes(value)).decode("ascii")}
    if t is dict:
        return {"$d": [[to_data(k, depth + 1), to_data(v, depth + 1)] for k, v in value.items()]}
    raise TypeError(f"cannot store a value of type {t.__name__}: {value!r:.60}")


_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def from_data(data: Any, depth: int = 0) -> Any:
    """The value :func:`to_data` encoded as ``data``; raises _Bad for anything else."""
    t = type(data)
    if data is None or t is bool or t is int or t is str or t is float:
        return data
    if depth >= MAX_DEPTH:
        raise _Bad(f"a value is nested more than {MAX_DEPTH} deep")
    if t is list:
        return [from_data(v, depth + 1) for v in data]
    if t is dict and len(data) == 1:
        (tag, body), = data.items()
        if tag == "$t" and type(body) is list:
            return tuple(from_data(v, depth + 1) for v in body)
        if tag == "$b" and type(body) is str:
            try:
                return base64.b64decode(body.encode("ascii"), validate=True)
            except (ValueError, UnicodeEncodeError):
                raise _Bad("bad base64 in a $b value") from None
        if tag == "$d" and type(body) is list:
            out = {}
            for pair in body:
                if type(pair) is not list or len(pair) != 2:
                    raise _Bad("a $d entry is not a [key, value] pair")
                key = from_data(pair[0], depth + 1)
                try:
                    out[key] = from_data(pair[1], depth + 1)
                except TypeError:
                    raise _Bad(f"unusable dictionary key {key!r:.40}") from None
            return out
        if tag == "$f" and body in _FLOATS:
            return _FLOATS[body]
    raise _Bad(f"a value is not in the stored form: {json.dumps(data)[:60]}")


# ================================================================================ writing
def save_session(path: str | Path, scenario_text: str, run, *, created: datetime | None = None) -> Path:
    """Write ``run`` (a :class:`~tcplab.scenario.runner.Run`, or a loaded :class:`Session`) and
    the scenario text it ran from to the session file ``path``; returns the path.

    ``scenario_text`` must be a valid scenario (the file text, or ``ScenarioDocument.to_toml()``
    of what was run). The file is written to a temporary file in the same folder and renamed
    over ``path``: a failure leaves an existing file as it was. Raises SessionError when the
    run cannot be recorded, OSError when the file cannot be written."""
    from tcplab.session.export import write_atomic
    path = Path(path)
    created = (created or datetime.now(timezone.utc)).astimezone(timezone.utc)
    members = _members(scenario_text, run, created.isoformat(timespec="seconds"))
    stamp = (max(created.year, 1980), created.month, created.day, created.hour, created.minute,
             created.second)

    def fill(f) -> None:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for name in MEMBERS:
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, members[name], compresslevel=6)

    write_atomic(path, fill)
    return path


def _members(scenario_text: str, run, created: str) -> dict[str, bytes]:
    """Every member's bytes, the manifest last (it describes the others)."""
    trace: Trace = run.trace
    scenario = run.scenario
    try:
        loads(scenario_text, "the scenario text", name=scenario.name)
    except ScenarioError as e:
        raise SessionError(f"cannot record the run: {e}") from None
    n = len(trace)
    if n > MAX_EVENTS or len(trace.packets) > MAX_PACKETS:
        raise SessionError(f"cannot record the run: {n} events and {len(trace.packets)} packets "
                           f"exceed the format's limits ({MAX_EVENTS} and {MAX_PACKETS})")
    end_ns = getattr(run, "end_ns", None)
    if end_ns is None:
        end_ns = run.now
    actions = [[int(t), dict(action)] for t, action in run.actions]
    members: dict[str, bytes] = {}
    members[SCENARIO] = scenario_text.encode("utf-8")
    members[RUN] = _json({
        "scenario_name": scenario.name,
        "seed": int(run.seed),
        "duration_ns": int(scenario.duration),
        "end_ns": int(end_ns),
        "events": n,
        "fingerprint": trace.fingerprint(),
        "actions": actions,
    })
    members[INFO] = _json({
        "nodes": list(trace.nodes),
        "node_kinds": list(trace.node_kinds),
        "links": [{"id": l.id, "name": l.name, "a": l.a, "b": l.b} for l in trace.links],
        "conns": [{"id": c.id, "node": c.node, "local_ip": c.local_ip, "local_port": c.local_port,
                   "remote_ip": c.remote_ip, "remote_port": c.remote_port, "app": c.app,
                   "role": c.role, "iss": c.iss, "irs": c.irs, "peer": c.peer}
                  for c in trace.conns],
        "meta": _stored(trace.meta, "trace meta"),
    })
    members[EVENTS] = _npy(np.asfortranarray(trace.matrix()))
    members[PACKETS], members[PACKET_BYTES] = _packets(trace.packets)
    members[EXTRA] = _json({"rows": [[i, _stored(v, f"row {i}'s extra")]
                                     for i, v in sorted(trace.extra.items())]})
    members[MANIFEST] = _json({
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "tcplab": __version__,
        "created": created,
        "counts": {"events": n, "packets": len(trace.packets), "extras": len(trace.extra),
                   "actions": len(actions), "nodes": len(trace.nodes),
                   "links": len(trace.links), "conns": len(trace.conns)},
        "members": {name: {"size": len(members[name]),
                           "sha256": hashlib.sha256(members[name]).hexdigest()}
                    for name in MEMBERS[1:]},
    })
    return members


def _stored(value: Any, what: str) -> Any:
    """``to_data(value)``, refusing values that would not read back exactly as they are (the
    trace fingerprint compares their ``repr``)."""
    try:
        data = to_data(value)
        back = from_data(json.loads(json.dumps(data)))
    except (TypeError, ValueError, _Bad) as e:
        raise SessionError(f"cannot record the run: {what}: {e}") from None
    if repr(back) != repr(value):
        raise SessionError(f"cannot record the run: {what} would not read back as it is: "
                           f"{value!r:.60}")
    return data


def _json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr, dtype="<i8"), allow_pickle=False)
    return buf.getvalue()


def _packets(packets) -> tuple[bytes, bytes]:
    """(packets.npy, packets.bin): per packet its datagram as sent, then its damaged bytes if
    it travels damaged; the table gives both lengths (-1: none) and ``dup_of``."""
    table = np.empty((len(packets), len(PACKET_COLUMNS)), dtype="<i8")
    parts = []
    for uid, pkt in enumerate(packets):
        if pkt.uid != uid:
            raise SessionError(f"cannot record the run: packet {uid} has uid {pkt.uid}")
        wire = pkt.wire
        if wire is not None:            # encode the fields, not the damaged bytes
            pkt = pkt.with_ttl(pkt.ttl)
            pkt.wire = None
        data = encode_packet(pkt)
        parts.append(data)
        if wire is not None:
            parts.append(wire)
        table[uid] = (len(data), -1 if wire is None else len(wire), pkt.dup_of)
    return _npy(table), b"".join(parts)


# ================================================================================ reading
def load_session(path: str | Path) -> Session:
    """Read the session file ``path``. Raises :class:`SessionError` ("FILE: problem") when it is
    missing, unreadable, not a session, made by a newer tcplab, truncated, damaged or over a
    size limit; never anything else for any content of the file."""
    path = Path(path)
    try:
        return _Reader(path).load()
    except SessionError:
        raise
    except MemoryError:
        raise SessionError(f"{path}: too large to open with the memory available") from None
    except RecursionError:
        raise SessionError(f"{path}: damaged: nested too deeply") from None
    except Exception as e:      # a case the checks above missed: still one clear line
        raise SessionError(f"{path}: damaged (unexpected {type(e).__name__}: {e})") from e


def _size(n: int) -> str:
    if n >= GB:
        return f"{n / GB:.3g} GB"
    if n >= MB:
        return f"{n / MB:.3g} MB"
    return f"{n} bytes"


_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error,
               NotImplementedError, RuntimeError, IndexError, KeyError, OverflowError)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, why: str) -> SessionError:
        return SessionError(f"{self.path}: {why}")

    def load(self) -> Session:
        path = self.path
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise self.fail("no such file") from None
        except IsADirectoryError:
            raise self.fail("is a directory, not a session file") from None
        except OSError as e:
            raise self.fail(f"cannot read: {e.strerror or e}") from None
        with f:
            try:
                head = f.read(4)
                f.seek(0)
            except OSError as e:
                raise self.fail(f"cannot read: {e.strerror or e}") from None
            if not head:
                raise self.fail("empty file, not a tcplab session")
            try:
                zf = zipfile.ZipFile(f)
            except zipfile.BadZipFile:
                if head == ZIP_LOCAL_MAGIC:
                    raise self.fail("truncated (the zip directory at its end is missing)") from None
                raise self.fail("not a tcplab session (not a zip file)") from None
            except _ZIP_ERRORS + (UnicodeDecodeError,) as e:
                raise self.fail(f"damaged: unreadable zip directory ({e})") from None
            with zf:
                self.zf = zf
                return self._load()

    # -- members ---------------------------------------------------------------------------
    def _info(self, name: str) -> zipfile.ZipInfo:
        try:
            info = self.zf.getinfo(name)
        except KeyError:
            raise self.fail(f"damaged: member {name} is missing") from None
        limit = LIMITS[name]
        if info.file_size > limit:
            raise self.fail(f"member {name} is {_size(info.file_size)} uncompressed, more than "
                            f"the {_size(limit)} limit")
        return info

    def _read(self, name: str, expect: dict | None) -> bytes:
        info = self._info(name)
        if expect is not None and info.file_size != expect["size"]:
            raise self.fail(f"damaged: {name} is {info.file_size} bytes, the manifest says "
                            f"{expect['size']}")
        try:
            with self.zf.open(info) as f:
                data = f.read(LIMITS[name] + 1)
        except _ZIP_ERRORS as e:
            raise self.fail(f"damaged: {name}: {e}") from None
        if len(data) > LIMITS[name]:        # the zip's size fields lied
            raise self.fail(f"member {name} is more than the {_size(LIMITS[name])} limit")
        if expect is not None and hashlib.sha256(data).hexdigest() != expect["sha256"]:
            raise self.fail(f"damaged: {name} checksum mismatch")
        return data

    def _json(self, name: str, data: bytes) -> Any:
        try:
            return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
        except (ValueError, RecursionError) as e:
            raise self.fail(f"damaged: {name} is not valid JSON ({e})") from None

    # -- the whole file --------------------------------------------------------------------
    def _load(self) -> Session:
        if MANIFEST not in self.zf.NameToInfo:
            raise self.fail("not a tcplab session (no manifest)")
        manifest = self._json(MANIFEST, self._read(MANIFEST, None))
        if type(manifest) is not dict or manifest.get("format") != FORMAT_NAME:
            raise self.fail("not a tcplab session (its manifest does not name the format "
                            f"{FORMAT_NAME!r})")
        version = manifest.get("version")
        if type(version) is not int or version < 1:
            raise self.fail(f"damaged: manifest version {version!r:.40} is not a format version")
        if version > FORMAT_VERSION:
            made = manifest.get("tcplab")
            by = f"tcplab {made}" if type(made) is str and len(made) < 40 else "a newer tcplab"
            raise self.fail(f"made by a newer tcplab ({by}, format {version}; this version "
                            f"reads up to {FORMAT_VERSION}): update tcplab to open it")
        expect = self._manifest_members(manifest)
        counts = self._counts(manifest)
        raw = {name: self._read(name, expect[name]) for name in MEMBERS[1:]}
        try:
            return self._build(manifest, counts, raw)
        except _Bad as e:
            raise self.fail(f"damaged: {e}") from None

    def _manifest_members(self, manifest: dict) -> dict[str, dict]:
        table = manifest.get("members")
        if type(table) is not dict:
            raise self.fail("damaged: the manifest has no member table")
        out = {}
        for name in MEMBERS[1:]:
            entry = table.get(name)
            if (type(entry) is not dict or type(entry.get("size")) is not int
                    or type(entry.get("sha256")) is not str):
                raise self.fail(f"damaged: the manifest does not describe {name}")
            if entry["size"] > LIMITS[name]:
                raise self.fail(f"member {name} is {_size(entry['size'])} uncompressed, more "
                                f"than the {_size(LIMITS[name])} limit")
            self._info(name)
            out[name] = entry
        return out

    def _counts(self, manifest: dict) -> dict[str, int]:
        counts = manifest.get("counts")
        limits = {"events": MAX_EVENTS, "packets": MAX_PACKETS, "extras": MAX_EVENTS,
                  "actions": MAX_ACTIONS, "nodes": MAX_NODES, "links": MAX_LINKS,
                  "conns": MAX_CONNS}
        if type(counts) is not dict:
            raise self.fail("damaged: the manifest has no counts")
        for key, top in limits.items():
            n = counts.get(key)
            if type(n) is not int or n < 0:
                raise self.fail(f"damaged: the manifest's count of {key} is {n!r:.40}")
            if n > top:
                raise self.fail(f"refused: {n} {key} is more than the limit of {top}")
        return counts

    def _build(self, manifest: dict, counts: dict, raw: dict[str, bytes]) -> Session:
        try:
            text = raw[SCENARIO].decode("utf-8")
        except UnicodeDecodeError:
            raise _Bad(f"{SCENARIO} is not UTF-8 text") from None
        run = _obj(self._json(RUN, raw[RUN]), RUN, {
            "scenario_name": str, "seed": int, "duration_ns": int, "end_ns": int, "events": int,
            "fingerprint": str, "actions": list})
        info = _obj(self._json(INFO, raw[INFO]), INFO, {
            "nodes": list, "node_kinds": list, "links": list, "conns": list, "meta": object})
        extra_doc = _obj(self._json(EXTRA, raw[EXTRA]), EXTRA, {"rows": list})
        events = _npy_array(raw[EVENTS], EVENTS, NCOL)
        table = _npy_array(raw[PACKETS], PACKETS, len(PACKET_COLUMNS))
        n = len(events)
        for key, have in (("events", n), ("packets", len(table)),
                          ("extras", len(extra_doc["rows"])), ("actions", len(run["actions"])),
                          ("nodes", len(info["nodes"])), ("links", len(info["links"])),
                          ("conns", len(info["conns"]))):
            if counts[key] != have:
                raise _Bad(f"the manifest counts {counts[key]} {key}, the file holds {have}")
        if run["events"] != n:
            raise _Bad(f"{RUN} counts {run['events']} events, {EVENTS} holds {n}")
        if run["seed"] < 0 or run["end_ns"] < 0 or run["duration_ns"] <= 0:
            raise _Bad(f"{RUN}: seed, duration or end time out of range")
        try:
            scenario = loads(text, f"{self.path.name}:{SCENARIO}", name=run["scenario_name"])
        except ScenarioError as e:
            raise self.fail(f"the scenario in it is not valid: {e}") from None
        trace = Trace(meta=_meta(info["meta"]))
        _topology(trace, info)
        trace.packets = _decode_packets(table, raw[PACKET_BYTES])
        trace.extra = _extras(extra_doc["rows"], n)
        _check_rows(events, trace)
        rows = array("q")
        rows.frombytes(memoryview(np.ascontiguousarray(events, dtype="=i8")).cast("B"))
        trace.push(rows)
        if trace.fingerprint() != run["fingerprint"]:
            raise _Bad("the trace does not match its recorded fingerprint")
        actions = _actions(run["actions"], run["end_ns"])
        return Session(path=self.path, manifest=manifest, scenario_text=text, scenario=scenario,
                       seed=run["seed"], actions=actions, trace=trace, end_ns=run["end_ns"],
                       fingerprint=run["fingerprint"], created=str(manifest.get("created", "")),
                       made_by=str(manifest.get("tcplab", "")), run_info=run)


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _obj(doc: Any, where: str, schema: dict[str, type]) -> dict:
    """``doc`` checked to be an object with these keys of these types (``object``: any)."""
    if type(doc) is not dict:
        raise _Bad(f"{where} is not a JSON object")
    for key, t in schema.items():
        if key not in doc:
            raise _Bad(f"{where} has no {key!r}")
        if t is not object and type(doc[key]) is not t:
            raise _Bad(f"{where}: {key} is not {'an' if t is int else 'a'} {t.__name__}")
    return doc


def _int_in(value: Any, lo: int, hi: int, what: str) -> int:
    if type(value) is not int or not lo <= value < hi:
        raise _Bad(f"{what} is {value!r:.40}, not an integer in [{lo}, {hi})")
    return value


def _npy_array(data: bytes, name: str, ncols: int) -> np.ndarray:
    """The (n, ncols) int64 array of a ``.npy`` member, parsed without numpy's reader (which
    allocates what the header claims before reading): header checked against the data size."""
    buf = io.BytesIO(data)
    try:
        major, minor = np.lib.format.read_magic(buf)
        if (major, minor) == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(buf, NPY_HEADER_MAX)
        elif (major, minor) == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(buf, NPY_HEADER_MAX)
        else:
            raise ValueError(f"npy version {major}.{minor}")
    except Exception as e:      # numpy's header parser: whatever it raises, it is not .npy
        raise _Bad(f"{name} is not a .npy array ({type(e).__name__}: {e})") from None
    if dtype != np.dtype("<i8") or len(shape) != 2 or shape[1] != ncols:
        raise _Bad(f"{name} holds {dtype} {shape}, not int64 rows of {ncols} columns")
    offset = buf.tell()
    if shape[0] * ncols * 8 != len(data) - offset:
        raise _Bad(f"{name}: {shape[0]} rows do not fit its {len(data) - offset} data bytes")
    flat = np.frombuffer(data, dtype="<i8", offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C")


def _meta(doc: Any) -> dict:
    meta = from_data(doc)
    if type(meta) is not dict:
        raise _Bad(f"{INFO}: meta is not a dictionary")
    return meta


def _topology(trace: Trace, info: dict) -> None:
    nodes, kinds = info["nodes"], info["node_kinds"]
    if len(kinds) != len(nodes) or not all(type(s) is str for s in nodes + kinds):
        raise _Bad(f"{INFO}: nodes and node_kinds are not two lists of names of one length")
    trace.nodes, trace.node_kinds = list(nodes), list(kinds)
    nn = len(nodes)
    for i, l in enumerate(info["links"]):
        l = _obj(l, f"{INFO}: links[{i}]", {"id": int, "name": str, "a": int, "b": int})
        _int_in(l["id"], i, i + 1, f"{INFO}: links[{i}].id")
        trace.links.append(LinkInfo(i, l["name"], _int_in(l["a"], 0, nn, f"links[{i}].a"),
                                    _int_in(l["b"], 0, nn, f"links[{i}].b")))
    conns = info["conns"]
    for i, c in enumerate(conns):
        where = f"{INFO}: conns[{i}]"
        c = _obj(c, where, {"id": int, "node": int, "local_ip": int, "local_port": int,
                            "remote_ip": int, "remote_port": int, "app": str, "role": str,
                            "iss": object, "irs": object, "peer": int})
        for key in ("iss", "irs"):
            if c[key] is not None:
                _int_in(c[key], 0, 1 << 32, f"{where}.{key}")
        for key in ("local_ip", "remote_ip"):
            _int_in(c[key], 0, 1 << 32, f"{where}.{key}")
        for key in ("local_port", "remote_port"):
            _int_in(c[key], 0, 1 << 16, f"{where}.{key}")
        trace.conns.append(ConnInfo(
            _int_in(c["id"], i, i + 1, f"{where}.id"), _int_in(c["node"], 0, nn, f"{where}.node"),
            c["local_ip"], c["local_port"], c["remote_ip"], c["remote_port"], c["app"], c["role"],
            c["iss"], c["irs"], _int_in(c["peer"], -1, len(conns), f"{where}.peer")))


def _decode_packets(table: np.ndarray, blob: bytes) -> list:
    n = len(table)
    if n == 0:
        if blob:
            raise _Bad(f"{PACKET_BYTES} holds bytes but {PACKETS} lists no packet")
        return []
    length, wire_len, dup_of = (table[:, k] for k in range(3))
    if (length < 20).any() or (length > 0xFFFF).any() or (wire_len < -1).any() \
            or (wire_len > 0xFFFF).any() or (dup_of < -1).any() or (dup_of >= n).any():
        raise _Bad(f"{PACKETS} has a length or dup_of out of range")
    sizes = length + np.maximum(wire_len, 0)
    if int(sizes.sum()) != len(blob):
        raise _Bad(f"{PACKETS} lists {int(sizes.sum())} bytes, {PACKET_BYTES} holds {len(blob)}")
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).tolist()
    view = memoryview(blob)
    packets = []
    for uid, (start, size, wl, dup) in enumerate(zip(starts, length.tolist(), wire_len.tolist(),
                                                      dup_of.tolist())):
        try:
            pkt = decode_packet(view[start:start + size], uid)
        except WireError as e:
            raise _Bad(f"{PACKET_BYTES}: packet {uid}: {e}") from None
        if wl >= 0:
            pkt.wire = blob[start + size:start + size + wl]
        pkt.dup_of = dup
        packets.append(pkt)
    return packets


def _extras(rows: list, n: int) -> dict[int, Any]:
    extra: dict[int, Any] = {}
    last = -1
    for entry in rows:
        if type(entry) is not list or len(entry) != 2:
            raise _Bad(f"{EXTRA}: an entry is not a [row, value] pair")
        i = _int_in(entry[0], last + 1, n, f"{EXTRA}: a row number")
        extra[i] = from_data(entry[1])
        last = i
    return extra


#: Enumerated fields per kind: column index, shift, the enumeration.
_CODES = {
    EventKind.SEG_SENT: ((8, 16, SendReason),),
    EventKind.SEG_RECV: ((8, 16, RecvOutcome),),
    EventKind.DROP: ((5, 0, DropReason),),
    EventKind.STATE: ((5, 0, TcpState), (6, 0, TcpState)),
    EventKind.TIMER_ARM: ((5, 0, TimerKind),),
    EventKind.TIMER_CANCEL: ((5, 0, TimerKind),),
    EventKind.TIMER_EXPIRE: ((5, 0, TimerKind),),
    EventKind.VAR: ((5, 0, Var),),
    EventKind.DETECT: ((5, 0, Detection),),
    EventKind.USER: ((5, 0, UserOp),),
}
#: Kinds whose field holds a link id: column index, whether -1 (none) is allowed.
_LINK_FIELDS = {EventKind.HOP: (5, False), EventKind.ARRIVE: (5, False),
                EventKind.ALTER: (5, False), EventKind.QUEUE: (5, False),
                EventKind.LINK_SET: (5, False), EventKind.DROP: (6, True),
                EventKind.USER: (6, True)}
_COL = {name: k for k, name in enumerate(COLUMNS)}


def _check_rows(m: np.ndarray, trace: Trace) -> None:
    """Every row points at things that exist and uses known codes, so that every reader of the
    trace can take it (the writer only ever stores such rows; this guards against crafted
    files whose checksums were made to match)."""
    n = len(m)
    if n == 0:
        return
    t, kind = m[:, 0], m[:, 1]
    if (t < 0).any() or (np.diff(t) < 0).any():
        raise _Bad(f"{EVENTS}: times are negative or out of order")
    known = np.array(sorted(int(k) for k in EventKind))
    if not np.isin(kind, known).all():
        raise _Bad(f"{EVENTS}: unknown event kind {int(kind[~np.isin(kind, known)][0])}")
    for col, top in (("node", len(trace.nodes)), ("conn", len(trace.conns)),
                     ("pkt", len(trace.packets))):
        v = m[:, _COL[col]]
        if (v < -1).any() or (v >= top).any():
            raise _Bad(f"{EVENTS}: a row's {col} is not -1 or one of the {top} in the file")
    for k in known.tolist():
        sel = kind == k
        if not sel.any():
            continue
        sub = m[sel]
        for col, shift, enum in _CODES.get(k, ()):
            values = sub[:, col] >> shift
            if not np.isin(values, [int(e) for e in enum]).all():
                raise _Bad(f"{EVENTS}: a {EventKind(k).name} row has an unknown {enum.__name__}")
        link = _LINK_FIELDS.get(k)
        if link is not None:
            v = sub[:, link[0]]
            lo = -1 if link[1] else 0
            if (v < lo).any() or (v >= len(trace.links)).any():
                raise _Bad(f"{EVENTS}: a {EventKind(k).name} row names a link not in the file")
    _check_extras(m, trace.extra)


def _check_extras(m: np.ndarray, extra: dict[int, Any]) -> None:
    """Rows whose readers need their extra value have one of the right shape."""
    kind, c = m[:, 1], m[:, 7]

    def pairs(v, first=int) -> bool:
        return type(v) is tuple and all(type(p) is tuple and len(p) == 2 and type(p[0]) is first
                                        for p in v)

    checks = (
        (kind == EventKind.LINK_SET, lambda v: type(v) is tuple and len(v) == 3 and type(v[0]) is str, True),
        ((kind == EventKind.ALTER) & (c == 1), lambda v: type(v) is bytes, True),
        ((kind == EventKind.ALTER) & (c == 2), lambda v: type(v) is int, True),
        (kind == EventKind.USER, lambda v: type(v) is dict, False),
        (kind == EventKind.OOO, pairs, False),
        (kind == EventKind.SACKED, pairs, False),
        (kind == EventKind.CC_STATE, lambda v: pairs(v, str), False),
    )
    for sel, ok, required in checks:
        for i in np.flatnonzero(sel).tolist():
            if i in extra:
                if not ok(extra[i]):
                    raise _Bad(f"{EXTRA}: row {i} ({EventKind(int(kind[i])).name}) has an "
                               f"extra value of the wrong shape")
            elif required:
                raise _Bad(f"{EXTRA}: row {i} ({EventKind(int(kind[i])).name}) has no extra value")


def _actions(entries: list, end_ns: int) -> list[tuple[int, dict[str, Any]]]:
    actions = []
    last = 0
    for entry in entries:
        if type(entry) is not list or len(entry) != 2 or type(entry[1]) is not dict:
            raise _Bad(f"{RUN}: an action is not a [time, object] pair")
        t = _int_in(entry[0], last, end_ns + 1, f"{RUN}: an action's time")
        action = entry[1]
        for key, value in action.items():
            if value is not None and type(value) not in (bool, int, float, str):
                raise _Bad(f"{RUN}: action value {key!r:.40} is not a number, string or null")
        actions.append((t, action))
        last = t
    return actions
