"""Session files (``tcplab.session``): what is saved comes back whole, replays to the same
trace, exports as the live run does, and a bad file is refused in one clear line."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tcplab.cli import main
from tcplab.scenario import builtin_scenarios, load
from tcplab.scenario.document import ScenarioDocument
from tcplab.scenario.runner import Run
from tcplab.session import (FORMAT_VERSION, LIMITS, ReplayError, SessionError, first_difference,
                            load_session, replay, save_session)
from tcplab.session import format as fmt
from tcplab.session.export import EVENT_COLUMNS, seconds_text, write_atomic
from tcplab.sim.clock import MS
from tcplab.trace.capture import write_pcapng
from tcplab.trace.events import EventKind
from tcplab.trace.ladder import Ladder
from tcplab.trace.narrate import Narrator
from tcplab.trace.pcapng import read_pcapng

from test_actions import data_in_flight, scripted

TSHARK = shutil.which("tshark")

#: Scenarios with their overrides: the lessons, losses, SACK, several connections, and a
#: network that corrupts and duplicates (packets that travel as damaged bytes).
CASES = {
    "handshake": [], "transfer": [], "loss": [], "reorder": [], "close": [], "abort": [],
    "fast-retransmit": [], "sack": [], "zero-window": [], "timestamps": [], "nagle-delack": [],
    "congestion": ["apps.upload.bytes=300000"],
    "bulk": ["apps.bulk.bytes=200000", "links.client-r1.corrupt=0.3", "links.r1-r2.dup=0.3",
             "links.r1-r2.reorder=0.05", "links.r1-r2.reorder_delay=0.003"],
}


def scenario_text(name: str, overrides: list[str]) -> str:
    if not overrides:
        return builtin_scenarios()[name].read_text()
    return ScenarioDocument(load(name, overrides).raw).to_toml()


def recorded(tmp_path: Path, name: str, overrides=(), act=None, seed=None) -> tuple[Run, Path]:
    run = Run(load(name, list(overrides)), seed=seed)
    if act is None:
        run.run()
    else:
        act(run)
    path = save_session(tmp_path / f"{name}.tcplab", scenario_text(name, list(overrides)), run)
    return run, path


def pcap(trace, node: int) -> bytes:
    out = io.BytesIO()
    write_pcapng(trace, node, out)
    return out.getvalue()


def packet_fields(p) -> tuple:
    s = p.segment
    return (p.uid, p.src, p.dst, p.ttl, p.ident, p.tos, p.df, p.wire, p.dup_of, p.total_length,
            s.src_port, s.dst_port, s.seq, s.ack, s.flags, s.window, s.urg_ptr, repr(s.options),
            s.payload)


# -- round trip ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_gives_the_same_trace_to_every_reader(tmp_path, name):
    run, path = recorded(tmp_path, name, CASES[name])
    session = load_session(path)
    a, b = run.trace, session.trace
    assert len(b) == len(a) and b.fingerprint() == a.fingerprint() == session.fingerprint
    assert b.nodes == a.nodes and b.node_kinds == a.node_kinds and b.meta == a.meta
    assert b.links == a.links and b.conns == a.conns
    assert [packet_fields(p) for p in b.packets] == [packet_fields(p) for p in a.packets]
    na, nb = Narrator(a), Narrator(b)
    assert [nb.explain(i) for i in range(len(b))] == [na.explain(i) for i in range(len(a))]
    assert list(Ladder(b, verbose=True).lines()) == list(Ladder(a, verbose=True).lines())
    for node in range(len(a.nodes)):
        assert pcap(b, node) == pcap(a, node)
    assert session.seed == run.seed and session.end_ns == run.now and session.actions == []
    assert session.scenario.title == run.scenario.title
    assert session.manifest["version"] == FORMAT_VERSION
    if name == "bulk":
        assert any(p.wire is not None for p in a.packets)     # damaged copies were kept too


def test_a_loaded_session_saves_again_as_it_was(tmp_path):
    run, path = recorded(tmp_path, "transfer", (), scripted)
    first = load_session(path)
    again = load_session(save_session(tmp_path / "again.tcplab", first.scenario_text, first))
    assert again.trace.fingerprint() == run.trace.fingerprint()
    assert (again.seed, again.actions, again.end_ns, again.scenario_text) == \
        (first.seed, first.actions, first.end_ns, first.scenario_text)


def test_the_scenario_text_is_kept_as_it_was(tmp_path):
    run, path = recorded(tmp_path, "handshake")
    session = load_session(path)
    assert session.scenario_text == builtin_scenarios()["handshake"].read_text()
    assert session.scenario.name == "handshake"


def test_the_file_is_a_documented_zip_of_data(tmp_path):
    run, path = recorded(tmp_path, "transfer")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert names[0] == "manifest.json"
        assert set(names) == set(fmt.MEMBERS)
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())
        manifest = json.loads(zf.read("manifest.json"))
        events = np.load(io.BytesIO(zf.read("trace/events.npy")), allow_pickle=False)
        for name in fmt.MEMBERS[1:]:
            data = zf.read(name)
            assert manifest["members"][name] == {"size": len(data),
                                                 "sha256": hashlib.sha256(data).hexdigest()}
    assert manifest["format"] == "tcplab-session" and manifest["version"] == 1
    assert manifest["counts"]["events"] == len(run.trace)
    assert events.shape == (len(run.trace), 9) and events.dtype == np.int64
    assert (events == run.trace.matrix()).all()
    doc = Path(__file__).resolve().parents[1] / "docs" / "session-format.md"
    for name in fmt.MEMBERS:
        assert f"`{name}`" in doc.read_text()


def test_the_same_run_saved_twice_gives_the_same_bytes(tmp_path):
    from datetime import datetime, timezone
    run = Run(load("sack"))
    run.run()
    when = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    a = save_session(tmp_path / "a.tcplab", scenario_text("sack", []), run, created=when)
    b = save_session(tmp_path / "b.tcplab", scenario_text("sack", []), run, created=when)
    assert a.read_bytes() == b.read_bytes()


def test_saving_is_atomic_and_leaves_no_temporary_file(tmp_path):
    run, path = recorded(tmp_path, "handshake")
    before = path.read_bytes()
    run.trace.extra[0] = object()          # not data: cannot be recorded
    with pytest.raises(SessionError, match="cannot store a value of type object"):
        save_session(path, scenario_text("handshake", []), run)
    assert path.read_bytes() == before
    del run.trace.extra[0]

    def fail(f):
        f.write(b"half a file")
        raise OSError(28, "No space left on device")
    with pytest.raises(OSError):
        write_atomic(path, fail)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_scenario_text_that_does_not_validate_is_not_recorded(tmp_path):
    run = Run(load("handshake"))
    run.run()
    with pytest.raises(SessionError, match="cannot record the run"):
        save_session(tmp_path / "x.tcplab", "[hosts.a]\n", run)
    assert not (tmp_path / "x.tcplab").exists()


def test_values_round_trip_with_their_types():
    values = [None, True, 0, -5, 2**70, 1.5, float("inf"), "x", b"\x00\xff", (1, (2, 3)), [1, (2,)],
              {"op": "set_link", "value": 0.5, "direction": None}, {1: "a", (2, 3): b"b"}, ()]
    for v in values:
        back = fmt.from_data(json.loads(json.dumps(fmt.to_data(v))))
        assert repr(back) == repr(v)
    nan = fmt.from_data(json.loads(json.dumps(fmt.to_data(float("nan")))))
    assert nan != nan


# -- replay ---------------------------------------------------------------------------------------
def bulk_actions(run: Run) -> None:
    """Knob changes, a targeted drop and actions on packets in flight, on a lossy bulk run."""
    run.run(until=50 * MS)
    run.apply({"op": "set_link", "link": "r1-r2", "param": "loss", "value": 0.05,
               "direction": None})
    run.apply({"op": "drop_next", "link": "r2-server", "from": "r2"})
    uid = data_in_flight(run, "r1-r2")[0]
    run.apply({"op": "packet", "uid": uid, "what": "duplicate"})
    uid = data_in_flight(run, "r2-server", skip=1)[0]
    run.apply({"op": "packet", "uid": uid, "what": "delay", "delay": "3ms"})
    uid = data_in_flight(run, "client-r1")[0]
    run.apply({"op": "packet", "uid": uid, "what": "drop"})
    run.run(until=run.now + 20 * MS)
    run.apply({"op": "set_link", "link": "r2-r1", "param": "delay", "value": "12ms",
               "direction": 0})
    run.apply({"op": "set_link", "link": "r1-r2", "param": "bandwidth", "value": "5Mbps",
               "direction": None})
    run.run()


@pytest.mark.parametrize("name, overrides, act", [
    ("transfer", [], scripted),
    ("bulk", ["apps.bulk.bytes=300000"], bulk_actions),
    ("sack", [], lambda run: (run.apply({"op": "drop_next", "link": "router-server"}), run.run())),
])
def test_replay_reproduces_the_recorded_run_with_its_actions(tmp_path, name, overrides, act):
    run, path = recorded(tmp_path, name, overrides, act)
    assert run.actions
    plain = Run(load(name, overrides))
    plain.run()
    assert plain.trace.fingerprint() != run.trace.fingerprint()   # the actions changed the run
    session = load_session(path)
    assert session.actions == run.actions
    again = replay(session)
    assert again.trace.fingerprint() == run.trace.fingerprint() == session.trace.fingerprint()
    assert again.actions == run.actions


def test_replay_with_another_seed_is_caught(tmp_path):
    run, path = recorded(tmp_path, "bulk", ["apps.bulk.bytes=100000"])
    session = load_session(path)
    session.seed += 1
    with pytest.raises(ReplayError, match="differs from the recording: row"):
        replay(session)
    assert replay(session, check=False).seed == session.seed


def test_a_run_saved_in_the_middle_of_an_instant_replays(tmp_path):
    run = Run(load("sack"))
    while run.run(max_events=1):        # stop between two events of one instant
        if run.next_time() == run.now and run.now > 0:
            break
    assert run.next_time() == run.now
    path = save_session(tmp_path / "mid.tcplab", scenario_text("sack", []), run)
    session = load_session(path)
    again = replay(session)
    assert len(again.trace) > len(session.trace)
    assert first_difference(session.trace, again.trace, session.end_ns) is None
    assert first_difference(session.trace, again.trace, session.end_ns - 1) is not None


# -- command line ---------------------------------------------------------------------------------
def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_record_then_export_everything(tmp_path, capsys):
    session = tmp_path / "loss.tcplab"
    live = tmp_path / "live.pcapng"
    code, out, err = cli(capsys, "run", "loss", "--seed", "7", "--set", "tcp.cc=reno",
                         "--pcap", str(live), "--record", str(session))
    assert code == 0, err
    assert f"written to {session}" in out
    s = load_session(session)
    assert s.seed == 7 and s.scenario.tcp.cc == "reno"
    assert replay(s).trace.fingerprint() == s.trace.fingerprint()
    n = len(s.trace)
    csv_out, json_out, pcap_out = tmp_path / "e.csv", tmp_path / "e.json", tmp_path / "e.pcapng"
    code, out, err = cli(capsys, "export", str(session), "--csv", str(csv_out), "--json",
                         str(json_out), "--pcap", str(pcap_out))
    assert code == 0, err
    assert f"{n} events written to {csv_out}" in out and "packets written to" in out
    assert pcap_out.read_bytes() == live.read_bytes()      # the same capture as the live run
    import csv
    with open(csv_out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(EVENT_COLUMNS) and len(rows) == n + 1
    narrator = Narrator(s.trace)
    assert [r[-1] for r in rows[1:6]] == [narrator.explain(i) for i in range(5)]
    assert all(r[2] == seconds_text(int(r[1])) for r in rows[1:])
    doc = json.loads(json_out.read_text())
    assert (doc["format"], doc["scenario"], doc["seed"], doc["events_count"]) == \
        ("tcplab-events", "loss", 7, n)
    assert len(doc["events"]) == n
    assert [e["kind"] for e in doc["events"]] == [r[3] for r in rows[1:]]
    assert {e["kind"] for e in doc["events"] if "extra" in e} <= {k.name for k in EventKind}
    frames = read_pcapng(io.BytesIO(pcap_out.read_bytes()))
    assert len(frames) == int(out.split(" packets written")[0].split()[-1])
    if TSHARK:
        proc = subprocess.run([TSHARK, "-n", "-r", str(pcap_out)], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert len(proc.stdout.strip().splitlines()) == len(frames)
        assert "Malformed" not in proc.stdout


def test_export_capture_at_another_node(tmp_path, capsys):
    session = tmp_path / "t.tcplab"
    assert cli(capsys, "run", "transfer", "--summary", "--record", str(session))[0] == 0
    out_file = tmp_path / "r.pcapng"
    code, out, err = cli(capsys, "export", str(session), "--pcap", str(out_file),
                         "--capture", "router")
    assert code == 0, err
    assert out.startswith("capture at router:")
    s = load_session(session)
    assert out_file.read_bytes() == pcap(s.trace, s.trace.node_id("router"))


def test_summary_output_stays_one_json_object_when_recording(tmp_path, capsys):
    code, out, _ = cli(capsys, "run", "handshake", "--summary", "--record", str(tmp_path / "h.tcplab"))
    assert code == 0 and json.loads(out)["scenario"] == "handshake"


@pytest.mark.parametrize("argv, fragment", [
    (["export", "{s}"], "export needs at least one output"),
    (["export", "{s}", "--capture", "client", "--csv", "{d}/x.csv"], "--capture needs --pcap"),
    (["export", "{s}", "--pcap", "{d}/x.pcapng", "--capture", "mars"], "--capture mars: unknown node"),
    (["export", "{d}/missing.tcplab", "--csv", "{d}/x.csv"], "missing.tcplab: no such file"),
    (["export", "{d}/scenario.toml", "--csv", "{d}/x.csv"], "not a tcplab session (not a zip file)"),
    (["export", "{s}", "--csv", "/nonexistent-dir/x.csv"], "does not exist"),
    (["export", "{s}", "--json", "{d}"], "is a directory"),
    (["export", "{s}", "--csv", "{s}"], "name the same file"),
    (["export", "{s}", "--csv", "{d}/x", "--json", "{d}/x"], "--csv and --json name the same file"),
    (["run", "handshake", "--record", "/nonexistent-dir/x.tcplab"], "does not exist"),
    (["run", "handshake", "--record", "{d}/x", "--pcap", "{d}/x"], "name the same file"),
])
def test_export_errors_are_one_clear_line(tmp_path, capsys, argv, fragment):
    s = tmp_path / "h.tcplab"
    (tmp_path / "scenario.toml").write_text(builtin_scenarios()["handshake"].read_text())
    assert cli(capsys, "run", "handshake", "--summary", "--record", str(s))[0] == 0
    argv = [a.format(s=s, d=tmp_path) for a in argv]
    code, out, err = cli(capsys, *argv)
    assert code != 0
    assert fragment in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x").exists()


# -- bad files ----------------------------------------------------------------------------------
def rewrite(path: Path, change, out: Path | None = None, manifest_change=None) -> Path:
    """Rewrite session ``path`` with ``change(members)`` applied to its members' bytes and the
    manifest brought up to date (a file whose checksums match whatever was changed)."""
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    change(members)
    manifest = json.loads(members["manifest.json"])
    for name in fmt.MEMBERS[1:]:
        if name in members:
            manifest["members"][name] = {"size": len(members[name]),
                                         "sha256": hashlib.sha256(members[name]).hexdigest()}
    if manifest_change:
        manifest_change(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    out = out or path
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out


@pytest.fixture
def saved(tmp_path) -> Path:
    return recorded(tmp_path, "transfer", (), scripted)[1]


def refused(path: Path, fragment: str) -> str:
    with pytest.raises(SessionError) as info:
        load_session(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert fragment in message
    assert "\n" not in message and "unexpected" not in message
    return message


def test_not_a_zip(tmp_path):
    f = tmp_path / "x.tcplab"
    f.write_text("hello")
    refused(f, "not a tcplab session (not a zip file)")
    f.write_bytes(b"")
    refused(f, "empty file")
    refused(tmp_path / "nothing.tcplab", "no such file")
    refused(tmp_path, "is a directory")


def test_a_zip_without_manifest(tmp_path):
    f = tmp_path / "x.tcplab"
    with zipfile.ZipFile(f, "w") as zf:
        zf.writestr("hello.txt", "hi")
    refused(f, "not a tcplab session (no manifest)")


def test_another_format(saved):
    rewrite(saved, lambda m: None, manifest_change=lambda man: man.update(format="other"))
    refused(saved, "not a tcplab session")


def test_made_by_a_newer_version(saved):
    def newer(manifest):
        manifest.update(version=3, tcplab="9.0")
        del manifest["counts"]      # whatever else changed: the version is what is reported
    rewrite(saved, lambda m: None, manifest_change=newer)
    refused(saved, "made by a newer tcplab (tcplab 9.0, format 3; this version reads up to 1)")


def test_checksum_mismatch(saved):
    with zipfile.ZipFile(saved) as zf:
        manifest = zf.read("manifest.json")

    def tamper(members):
        data = bytearray(members["trace/events.npy"])
        data[-1] ^= 1
        members["trace/events.npy"] = bytes(data)
    rewrite(saved, tamper, manifest_change=lambda man: man.update(json.loads(manifest)))
    refused(saved, "damaged: trace/events.npy checksum mismatch")


def test_a_changed_member_size(saved):
    with zipfile.ZipFile(saved) as zf:
        manifest = zf.read("manifest.json")
    rewrite(saved, lambda m: m.update({"run.json": m["run.json"] + b" "}),
            manifest_change=lambda man: man.update(json.loads(manifest)))
    refused(saved, "damaged: run.json is")


def test_a_member_missing(saved):
    rewrite(saved, lambda m: m.pop("trace/extra.json"))
    refused(saved, "damaged: member trace/extra.json is missing")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated(saved, keep):
    data = saved.read_bytes()
    saved.write_bytes(data[:int(len(data) * keep)])
    refused(saved, "truncated")


def test_damaged_compressed_data(saved):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("trace/events.npy")
    data[info.header_offset + 30 + len(info.filename) + 20] ^= 0xFF
    saved.write_bytes(bytes(data))
    refused(saved, "damaged: trace/events.npy")


def test_a_member_bigger_than_its_limit_is_not_read(saved):
    """The central directory claims 4 GB for the events: refused before decompressing."""
    data = bytearray(saved.read_bytes())
    name = b"trace/events.npy"
    at = data.index(b"PK\x01\x02")     # the first central directory entry
    while data[at + 46:at + 46 + len(name)] != name:
        at = data.index(b"PK\x01\x02", at + 4)
    struct.pack_into("<I", data, at + 24, 0xFFFFFFF0)     # uncompressed size
    saved.write_bytes(bytes(data))
    refused(saved, "member trace/events.npy is 4 GB uncompressed, more than the 2 GB limit")


def test_decompression_is_capped_at_the_limit(saved, monkeypatch):
    monkeypatch.setitem(LIMITS, "trace/packets.bin", 1000)
    refused(saved, "member trace/packets.bin is")


def test_absurd_counts(saved):
    rewrite(saved, lambda m: None,
            manifest_change=lambda man: man["counts"].update(events=10**12))
    refused(saved, "refused: 1000000000000 events is more than the limit")


def first_extra(member: bytes, value) -> bytes:
    doc = json.loads(member)
    doc["rows"][0][1] = value
    return json.dumps(doc).encode()


def json_change(member: bytes, change) -> bytes:
    doc = json.loads(member)
    change(doc)
    return json.dumps(doc).encode()


def nested(depth: int):
    return {"$t": [nested(depth - 1)]} if depth else 0


@pytest.mark.parametrize("member, change, fragment", [
    ("run.json", lambda b: b"[1, 2", "run.json is not valid JSON"),
    ("run.json", lambda b: b"[" * 100_000 + b"]" * 100_000, "run.json is not valid JSON"),
    ("run.json", lambda b: b.replace(b'"seed":', b'"seed":1.5,"x":'), "seed is not an int"),
    ("trace/extra.json", lambda b: first_extra(b, {"$x": 1}), "not in the stored form"),
    ("trace/extra.json", lambda b: first_extra(b, nested(40)), "nested more than"),
    ("trace/extra.json", lambda b: first_extra(b, {"$t": [1, 2]}), "wrong shape"),
    ("trace/info.json", lambda b: json_change(b, lambda d: d["nodes"].__setitem__(0, 7)),
     "nodes and node_kinds"),
    ("trace/info.json", lambda b: json_change(b, lambda d: d["conns"][0].update(node=-3)),
     "conns[0].node is -3"),
    ("trace/events.npy", lambda b: b[:-72], "rows do not fit"),
    ("trace/events.npy", lambda b: b"\x93NUMPY\x01\x00" + b[8:].replace(b"<i8", b"|O8", 1),
     "not int64 rows"),
    ("trace/events.npy", lambda b: b.replace(b"(", b"(99999999999999, 9), 'x': (", 1), "not a .npy"),
    ("trace/packets.bin", lambda b: b"\x55" + b[1:], "packet 0: not IPv4"),
    ("scenario.toml", lambda b: b"[hosts.a]\n", "the scenario in it is not valid"),
    ("scenario.toml", lambda b: b"\xff\xfe", "scenario.toml is not UTF-8"),
])
def test_crafted_contents_with_matching_checksums(saved, member, change, fragment):
    rewrite(saved, lambda m: m.update({member: change(m[member])}))
    refused(saved, fragment)


def event_change(column: str, value: int, kind: EventKind | None = None):
    def change(members):
        arr = np.load(io.BytesIO(members["trace/events.npy"]), allow_pickle=False).copy()
        rows = np.flatnonzero(arr[:, 1] == int(kind)) if kind is not None else [0]
        arr[rows[0], fmt.COLUMNS.index(column)] = value
        members["trace/events.npy"] = fmt._npy(arr)
    return change


@pytest.mark.parametrize("change, fragment", [
    (event_change("kind", 99), "unknown event kind 99"),
    (event_change("node", 50), "a row's node is not -1"),
    (event_change("pkt", 10**6), "a row's pkt is not -1"),
    (event_change("t", -1), "times are negative or out of order"),
    (event_change("a", 77, EventKind.DROP), "DROP row has an unknown DropReason"),
    (event_change("a", 9, EventKind.HOP), "HOP row names a link not in the file"),
    (event_change("d", 99 << 16, EventKind.SEG_SENT), "unknown SendReason"),
    (event_change("c", 12345, EventKind.VAR), "does not match its recorded fingerprint"),
])
def test_rows_that_point_nowhere_are_refused(saved, change, fragment):
    rewrite(saved, change)
    refused(saved, fragment)


def test_a_good_file_after_all_that_still_loads(saved):
    rewrite(saved, lambda m: None)          # rewritten by another zip writer: still fine
    assert load_session(saved).trace.fingerprint() == load_session(saved).fingerprint


def test_no_temporary_files_are_left_by_the_cli(tmp_path, capsys):
    assert cli(capsys, "run", "handshake", "--summary", "--record", str(tmp_path / "h.tcplab"))[0] == 0
    assert cli(capsys, "export", str(tmp_path / "h.tcplab"), "--csv", str(tmp_path / "h.csv"))[0] == 0
    assert sorted(os.listdir(tmp_path)) == ["h.csv", "h.tcplab"]
