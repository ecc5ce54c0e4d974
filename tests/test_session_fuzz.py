"""Fuzzing session files: whatever the bytes, ``load_session`` either gives back the recorded
trace or raises SessionError, with one line saying why; never any other exception.

Two kinds of damage: bytes changed anywhere in the file (flipped, cut off, inserted, deleted,
overwritten), which the zip's CRCs and the manifest's checksums must catch; and contents
changed inside one member with the checksums made to match (a crafted file), which the parsers
and the cross-checks must catch before any reader of the trace sees it. A crafted file that
loads must be usable: narration, ladder and captures of every row and node work on it.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tcplab.scenario import builtin_scenarios, load
from tcplab.scenario.runner import Run
from tcplab.session import SessionError, load_session, save_session
from tcplab.session import format as fmt
from tcplab.trace.capture import write_pcapng
from tcplab.trace.ladder import Ladder
from tcplab.trace.narrate import Narrator

from test_actions import data_in_flight

FUZZ = dict(deadline=None, derandomize=True, database=None, print_blob=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@functools.cache
def original() -> tuple[bytes, str]:
    """A small session with user actions (so USER rows and their dict extras are in it)."""
    run = Run(load("transfer"))
    run.apply({"op": "set_link", "link": "client-router", "param": "delay", "value": "7ms",
               "direction": 1})
    uid = data_in_flight(run, "router-server")[0]
    run.apply({"op": "packet", "uid": uid, "what": "duplicate"})
    run.apply({"op": "drop_next", "link": "router-server", "from": "router"})
    run.run()
    with tempfile.TemporaryDirectory() as tmp:
        path = save_session(Path(tmp) / "s.tcplab", builtin_scenarios()["transfer"].read_text(),
                            run)
        return path.read_bytes(), run.trace.fingerprint()


def load_bytes(data: bytes):
    """``load_session`` on a file holding ``data``: the Session, or the SessionError message."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.tcplab"
        path.write_bytes(data)
        try:
            session = load_session(path)
        except SessionError as e:
            message = str(e)
            assert message.startswith(f"{path}: ") and "\n" not in message
            assert "unexpected" not in message, message     # every case has its own check
            event(" ".join(message[len(str(path)) + 2:].split(":")[0].split()[:3]))
            return message
        event("loaded")
        return session


@st.composite
def damaged(draw) -> bytes:
    data = bytearray(original()[0])
    n = len(data)
    how = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "overwrite"]))
    pos = draw(st.integers(0, n - 1))
    if how == "flip":
        for at, mask in draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, 255)),
                                      min_size=1, max_size=6)):
            data[at] ^= mask
    elif how == "truncate":
        del data[pos:]
    elif how == "insert":
        data[pos:pos] = draw(st.binary(min_size=1, max_size=24))
    elif how == "delete":
        del data[pos:pos + draw(st.integers(1, 64))]
    else:
        chunk = draw(st.binary(min_size=1, max_size=32))
        data[pos:pos + len(chunk)] = chunk
    return bytes(data)


@settings(max_examples=1500, **FUZZ)
@given(damaged())
def test_damaged_bytes_are_refused_or_harmless(data):
    result = load_bytes(data)
    if not isinstance(result, str):
        assert result.trace.fingerprint() == original()[1]


def members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def repack(members: dict[str, bytes], checksums: bool = True) -> bytes:
    if checksums:
        manifest = json.loads(members["manifest.json"])
        for name in fmt.MEMBERS[1:]:
            manifest["members"][name] = {"size": len(members[name]),
                                         "sha256": hashlib.sha256(members[name]).hexdigest()}
        members = {**members, "manifest.json": json.dumps(manifest).encode()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return out.getvalue()


@st.composite
def crafted(draw) -> bytes:
    """One member's bytes changed (a few bytes, or a JSON value replaced), checksums redone."""
    members = members_of(original()[0])
    name = draw(st.sampled_from(fmt.MEMBERS))
    body = bytearray(members[name])
    if name.endswith(".json") and draw(st.booleans()):
        doc = json.loads(body)
        replace_value(doc, draw)
        body = bytearray(json.dumps(doc).encode())
    else:
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, max(0, len(body) - 1)))
            body[at:at + 1] = draw(st.binary(min_size=0, max_size=3))
    members[name] = bytes(body)
    return repack(members, checksums=name != fmt.MANIFEST)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=8) | st.sampled_from([-1, 0, 1, 2, 65536, 2**32, "$t", "$b", "$d"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["$t", "$b", "$d", "$f", "id", "node", "a"]), inner, max_size=2),
    max_leaves=6)


def replace_value(doc, draw) -> None:
    """Replace one value somewhere in a JSON document (walking down from the top)."""
    node = doc
    for _ in range(draw(st.integers(1, 5))):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
        elif isinstance(node, list) and node:
            key = draw(st.integers(0, len(node) - 1))
        else:
            return
        child = node[key]
        if not isinstance(child, (dict, list)) or not child or draw(st.booleans()):
            node[key] = draw(JSON_VALUES)
            return
        node = child


@settings(max_examples=1000, **FUZZ)
@given(crafted())
def test_crafted_contents_are_refused_or_usable(data):
    result = load_bytes(data)
    if isinstance(result, str):
        return
    trace = result.trace
    narrator = Narrator(trace)
    for i in range(len(trace)):
        narrator.explain(i)
    for _ in Ladder(trace, verbose=True).lines():
        pass
    for node in range(len(trace.nodes)):
        write_pcapng(trace, node, io.BytesIO())
