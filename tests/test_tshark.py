"""tshark (Wireshark's dissector) as an independent oracle for the engine.

1. Every capture the engine can write -- for every built-in scenario, at every node, routers
   included -- decodes without a malformed packet or an error, with good IP and TCP checksums,
   and tshark reads in each frame exactly the packet the trace recorded there (addresses, TTL,
   IP id, ports, raw SEQ/ACK, flags, length, window, MSS option, interface, time to the ns).
2. Wireshark's TCP analysis counts the same retransmissions and duplicate ACKs as the engine's
   ``Run.summary()``, each at the capture point where the count is observable:

   * retransmissions, at the capture of the host that sends them: every segment a host sends
     starts onto its own link, so its capture holds all of them. Elsewhere the count is not
     comparable: a capture downstream misses retransmissions lost on the way, sees one whose
     original was lost as a first transmission (``loss``), and may take a late, reordered
     segment for a retransmission (``reorder``).
   * duplicate ACKs received (``dup_acks_received``), at the capture of the host that receives
     them. A duplicate ACK lost on the way is in its sender's capture only. Wireshark's rule
     does not ask whether the host has data outstanding, RFC 5681's does: tshark's count there
     is the engine's plus the repeated ACKs that arrive when everything sent was acknowledged.

Wireshark's rules (epan/dissectors/packet-tcp.c, ``tcp_analyze_sequence_number``): a *duplicate
ACK* carries no data and no SYN/FIN/RST, and repeats the previous segment of its direction: the
same ACK number, the same non-zero window, SEQ equal to the next expected. A segment with data
(or SYN/FIN) starting below the highest sequence number seen is *spurious* when all its data was
already acknowledged, a *fast retransmission* when at least two duplicate ACKs asked for its
sequence number and it follows the last ACK within 20 ms, *out-of-order* when it comes within
the connection's initial RTT of the highest segment, and otherwise a *retransmission*. tshark
marks fast and spurious retransmissions with ``tcp.analysis.retransmission`` as well.
RFC 5681 section 2, which the engine implements (``Connection._is_dup_ack``), defines a duplicate
ACK from the receiving sender's point of view: outstanding data, no data, no SYN/FIN, ACK equal
to the greatest received, same window as the last ACK.
"""

from __future__ import annotations

import bisect
import io
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tcplab import cli
from tcplab.net.packet import (ACK, FIN, OPT_MSS, OPT_SACK, OPT_SACK_PERM, OPT_TIMESTAMP, OPT_WSCALE,
                               RST, SYN, ip_str)
from tcplab.scenario import builtin_scenarios, load, loads
from tcplab.scenario.runner import Run
from tcplab.trace.capture import capture_records, write_pcapng
from tcplab.trace.events import DropReason, EventKind, RecvOutcome, SendReason, Var

TSHARK = shutil.which("tshark")
if TSHARK is None:
    pytest.skip("tshark is not installed", allow_module_level=True)

pytestmark = pytest.mark.tshark

MASK = 0xFFFFFFFF
HALF = 0x80000000
#: Wireshark's expert severities (epan/proto.h): chat 0x200000, note 0x400000, warn 0x600000,
#: error 0x800000. Notes and warnings ("previous segment not captured") are analysis findings;
#: an error means the dissector found something wrong with the packet.
PI_ERROR = 0x00800000
RETX_FLAGS = ("tcp.analysis.retransmission", "tcp.analysis.fast_retransmission",
              "tcp.analysis.spurious_retransmission")
#: Every reason under which the engine counts a retransmission (``_count_retx``).
RETX_REASONS = frozenset({SendReason.RTO_RETX, SendReason.GO_BACK_N, SendReason.FAST_RETX, SendReason.PARTIAL_ACK_RETX,
                          SendReason.SACK_RETX,
                          SendReason.FIN_RETX, SendReason.SYN_RETRY})
#: Why a receiver sends an ACK that repeats its acknowledgment (the window may have moved).
REPEAT_ACK_REASONS = frozenset({SendReason.DUP_ACK, SendReason.TIME_WAIT_ACK,
                                SendReason.CHALLENGE_ACK})
BULK_BYTES = "apps.bulk.bytes=1500000"      # 1.5 MB instead of the scenario's 10 MB

FIELDS = (
    "frame.number", "frame.interface_id", "frame.time_epoch", "frame.len",
    "ip.src", "ip.dst", "ip.ttl", "ip.id", "ip.checksum.status",
    "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.len",
    "tcp.window_size_value", "tcp.checksum.status", "tcp.options.mss_val",
    "_ws.malformed", "_ws.expert.severity",
    "tcp.analysis.retransmission", "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission", "tcp.analysis.out_of_order",
    "tcp.analysis.duplicate_ack",
    "tcp.options.sack_le", "tcp.options.sack_re", "tcp.options.sack_perm",
    "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr", "tcp.options.wscale.shift",
    "tcp.window_size", "tcp.analysis.zero_window", "tcp.analysis.window_update",
    "tcp.analysis.keep_alive", "tcp.analysis.zero_window_probe",
)


# -- sequence numbers and tshark's text ----------------------------------------------------

def seq_lt(a: int, b: int) -> bool:
    return ((a - b) & MASK) >= HALF


def seq_le(a: int, b: int) -> bool:
    return a == b or seq_lt(a, b)


def seconds_to_ns(text: str) -> int:
    """tshark's ``S.NNNNNNNNN`` (frame.time_epoch, relative times) as integer ns, exactly."""
    whole, _, frac = text.partition(".")
    return int(whole) * 1_000_000_000 + int(frac.ljust(9, "0"))


def _int(text: str, base: int = 10):
    try:
        return int(text, base)
    except ValueError:
        return text             # shown as is in a mismatch report


# -- runs, the engine's record, captures -----------------------------------------------------

_runs: dict[tuple, Run] = {}


def run_of(name: str, seed: int | None = None, overrides: tuple[str, ...] = ()) -> Run:
    key = (name, seed, overrides)
    if key not in _runs:
        run = Run(load(name, list(overrides)), seed=seed)
        run.run()
        _runs[key] = run
    return _runs[key]


def overrides_for(name: str) -> tuple[str, ...]:
    return (BULK_BYTES,) if name == "bulk" else ()


class EngineRecord:
    """What the trace says about each packet uid."""

    def __init__(self, run: Run) -> None:
        tr = run.trace
        cols = tr.columns()
        self.cols = cols
        kind, node, pkt, conn = cols["kind"], cols["node"], cols["pkt"], cols["conn"]
        a, c, d = cols["a"], cols["c"], cols["d"]
        b = cols["b"]
        self.sent: dict[int, tuple[int, SendReason]] = {}      # uid -> (conn, reason)
        self.sent_event: dict[int, tuple[int, int, int, int]] = {}   # uid -> (seq, ack, len, flags)
        for i in np.flatnonzero(kind == EventKind.SEG_SENT):
            self.sent[int(pkt[i])] = (int(conn[i]), SendReason(int(d[i]) >> 16))
            self.sent_event[int(pkt[i])] = (int(a[i]), int(b[i]), int(c[i]), int(d[i]) & 0xFFFF)
        self.recv: dict[int, tuple[int, RecvOutcome]] = {}     # uid -> (conn, outcome)
        for i in np.flatnonzero(kind == EventKind.SEG_RECV):
            self.recv[int(pkt[i])] = (int(conn[i]), RecvOutcome(int(d[i]) >> 16))
        self.arrived = {(int(node[i]), int(pkt[i])) for i in np.flatnonzero(kind == EventKind.ARRIVE)}
        self.dropped = {int(pkt[i]): DropReason(int(a[i])) for i in np.flatnonzero(kind == EventKind.DROP)}
        alters = np.flatnonzero(kind == EventKind.ALTER)
        self.held_back = {int(pkt[i]) for i in alters if c[i] == 2}
        self.corrupted = {int(pkt[i]) for i in alters if c[i] == 1}
        self.conns = {conn_.id: conn_ for conn_ in run.net.conns}

    def snd_una_timeline(self, conn_id: int) -> tuple[list[int], list[int]]:
        """(trace rows, new values) of every change of SND.UNA of a connection."""
        cols = self.cols
        rows = np.flatnonzero((cols["kind"] == EventKind.VAR) & (cols["conn"] == conn_id)
                              & (cols["a"] == int(Var.SND_UNA)))
        return [int(r) for r in rows], [int(v) for v in cols["c"][rows]]


_records: dict[int, EngineRecord] = {}


def record_of(run: Run) -> EngineRecord:
    if id(run) not in _records:
        _records[id(run)] = EngineRecord(run)
    return _records[id(run)]


@dataclass
class Frame:
    """One frame of a capture, as the engine knows it."""

    number: int         # tshark's frame.number (1-based)
    row: int            # trace row of the HOP or ARRIVE event
    uid: int
    outgoing: bool      # HOP: leaving the node; ARRIVE: arriving at it
    iface: int
    t: int
    ttl: int
    data: bytes


@dataclass
class Capture:
    run: Run
    node: int
    name: str
    written: int
    frames: list[Frame]
    rows: list[dict[str, str]]

    def pairs(self):
        return zip(self.frames, self.rows)


def engine_frames(run: Run, node: int) -> list[Frame]:
    """The capture records of ``node`` with the trace row each comes from (the same selection
    as ``capture_records``: HOP and ARRIVE events at the node, in trace order)."""
    cols = run.trace.columns()
    kind = cols["kind"]
    rows = np.flatnonzero((cols["node"] == node)
                          & ((kind == EventKind.HOP) | (kind == EventKind.ARRIVE)))
    records = list(capture_records(run.trace, node))
    assert len(records) == len(rows)
    frames = []
    for number, (i, (iface, t, data)) in enumerate(zip(rows, records), 1):
        out = bool(kind[i] == EventKind.HOP)
        assert t == cols["t"][i]
        ttl = cols["c"][i] if out else cols["b"][i]
        frames.append(Frame(number, int(i), int(cols["pkt"][i]), out, iface, int(t), int(ttl), data))
    return frames


def tshark_rows(path: Path) -> list[dict[str, str]]:
    cmd = [TSHARK, "-n", "-r", str(path),
           "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
           "-o", "tcp.analyze_sequence_numbers:TRUE", "-o", "tcp.relative_sequence_numbers:FALSE",
           "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
    for field in FIELDS:
        cmd += ["-e", field]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [dict(zip(FIELDS, line.split("\t"))) for line in result.stdout.splitlines()]


_captures: dict[tuple, Capture] = {}


@pytest.fixture(scope="module")
def capdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("captures")


def capture(capdir: Path, run: Run, node_name: str) -> Capture:
    key = (id(run), node_name)
    if key not in _captures:
        trace = run.trace
        node = trace.nodes.index(node_name)
        path = capdir / f"{trace.meta['scenario']}-{run.seed}-{len(_captures)}-{node_name}.pcapng"
        with open(path, "wb") as f:
            written = write_pcapng(trace, node, f)
        _captures[key] = Capture(run, node, node_name, written, engine_frames(run, node),
                                 tshark_rows(path))
    return _captures[key]


def retransmitted(row: dict[str, str]) -> bool:
    """Whether tshark marks a frame *the capturing host sent* as a retransmission. Wireshark
    calls a segment below the highest sequence seen "out-of-order" instead when it follows the
    highest one by less than its RTT estimate (e.g. NewReno's retransmission on a partial ACK,
    sent right after new data); at the sender's own capture such a segment can only be a
    retransmission, since a sender never sends new data below its highest sequence number."""
    return any(row[f] for f in RETX_FLAGS) or bool(row["tcp.analysis.out_of_order"])


def conn_summary(run: Run, host: str) -> dict:
    conns = [c for c in run.summary()["connections"] if c["host"] == host]
    assert len(conns) == 1, f"expected one connection on {host}, found {len(conns)}"
    return conns[0]


# -- 1. every capture decodes cleanly and shows what the trace recorded -----------------------

def engine_fields(run: Run, f: Frame) -> dict:
    pkt = run.trace.packets[f.uid]
    seg = pkt.segment
    return {
        "interface": f.iface, "time_ns": f.t, "frame.len": pkt.total_length,
        "ip.src": ip_str(pkt.src), "ip.dst": ip_str(pkt.dst), "ip.ttl": f.ttl, "ip.id": pkt.ident,
        "tcp.srcport": seg.src_port, "tcp.dstport": seg.dst_port, "seq": seg.seq, "ack": seg.ack,
        "flags": seg.flags, "tcp.len": len(seg.payload), "window": seg.window,
        "mss": seg.option(OPT_MSS),
        "sack": tuple(seg.option(OPT_SACK) or ()), "sack_perm": bool(seg.option(OPT_SACK_PERM)),
        "ts": seg.option(OPT_TIMESTAMP), "wscale": seg.option(OPT_WSCALE),
    }


def tshark_fields(row: dict[str, str]) -> dict:
    return {
        "interface": _int(row["frame.interface_id"]), "time_ns": seconds_to_ns(row["frame.time_epoch"]),
        "frame.len": _int(row["frame.len"]), "ip.src": row["ip.src"], "ip.dst": row["ip.dst"],
        "ip.ttl": _int(row["ip.ttl"]), "ip.id": _int(row["ip.id"], 16),
        "tcp.srcport": _int(row["tcp.srcport"]), "tcp.dstport": _int(row["tcp.dstport"]),
        "seq": _int(row["tcp.seq_raw"]), "ack": _int(row["tcp.ack_raw"]),
        "flags": _int(row["tcp.flags"], 16), "tcp.len": _int(row["tcp.len"]),
        "window": _int(row["tcp.window_size_value"]),
        "mss": _int(row["tcp.options.mss_val"]) if row["tcp.options.mss_val"] else None,
        "sack": tuple(zip(_ints(row["tcp.options.sack_le"]), _ints(row["tcp.options.sack_re"]))),
        "sack_perm": bool(row["tcp.options.sack_perm"]),
        "ts": ((_int(row["tcp.options.timestamp.tsval"]), _int(row["tcp.options.timestamp.tsecr"]))
               if row["tcp.options.timestamp.tsval"] else None),
        "wscale": _int(row["tcp.options.wscale.shift"]) if row["tcp.options.wscale.shift"] else None,
    }


def _ints(text: str) -> list:
    return [_int(x) for x in text.split(",") if x]


@pytest.mark.parametrize("name", sorted(builtin_scenarios()))
def test_every_capture_point_decodes_cleanly_and_matches_the_trace(name, capdir):
    run = run_of(name, None, overrides_for(name))
    trace = run.trace
    rec = record_of(run)
    assert not rec.corrupted, "a built-in scenario corrupts packets: bad checksums are expected there"
    default = cli._capture_node(run, None)
    assert trace.node_kinds[default] == "host"
    problems: list[str] = []
    for node_name in trace.nodes:          # the default capture node and every other, routers too
        cap = capture(capdir, run, node_name)
        assert cap.written == len(cap.frames) == len(cap.rows) > 0, node_name
        for f, row in cap.pairs():
            where = f"{name} at {node_name}, frame {f.number} (packet #{f.uid})"
            assert _int(row["frame.number"]) == f.number
            if row["_ws.malformed"]:
                problems.append(f"{where}: malformed")
            severities = [int(s) for s in row["_ws.expert.severity"].split(",") if s]
            if any(s >= PI_ERROR for s in severities):
                problems.append(f"{where}: expert severity {severities}")
            if row["ip.checksum.status"] != "1":
                problems.append(f"{where}: ip.checksum.status {row['ip.checksum.status']!r} (1 = good)")
            if row["tcp.checksum.status"] != "1":
                problems.append(f"{where}: tcp.checksum.status {row['tcp.checksum.status']!r} (1 = good)")
            if len(f.data) != _int(row["frame.len"]):
                problems.append(f"{where}: {len(f.data)} bytes written, tshark read {row['frame.len']}")
            expected, got = engine_fields(run, f), tshark_fields(row)
            for key, value in expected.items():
                if got[key] != value:
                    problems.append(f"{where}: {key}: engine {value!r}, tshark {got[key]!r}")
            event = rec.sent_event.get(f.uid)     # the SEG_SENT event of the segment
            if event is not None and event != (got["seq"], got["ack"], got["tcp.len"], got["flags"]):
                problems.append(f"{where}: SEG_SENT says (seq, ack, len, flags) {event}, tshark "
                                f"{(got['seq'], got['ack'], got['tcp.len'], got['flags'])}")
            seg = trace.packets[f.uid].segment
            sender = rec.conns.get(rec.sent.get(f.uid, (-1,))[0])
            if sender is not None and not seg.flags & (SYN | RST):
                # tshark scales the window with the shift it saw on the sender's SYN.
                want = seg.window << sender.rcv_wscale
                if _int(row["tcp.window_size"]) != want:
                    problems.append(f"{where}: scaled window: engine {want}, tshark "
                                    f"{row['tcp.window_size']!r}")
            zero = seg.window == 0 and not seg.flags & (SYN | FIN | RST)
            if zero != bool(row["tcp.analysis.zero_window"]):
                problems.append(f"{where}: zero window: engine {zero}, tshark "
                                f"{row['tcp.analysis.zero_window']!r}")
            if seg.flags & SYN:
                cfg = rec.conns[rec.sent[f.uid][0]].cfg
                if got["mss"] != cfg.mss:
                    problems.append(f"{where}: MSS option {got['mss']!r}, the sender announces {cfg.mss}")
    assert not problems, "\n".join(problems[:30])


@pytest.mark.parametrize("name", sorted(builtin_scenarios()))
def test_the_cli_capture_is_the_decoded_capture_at_the_default_node(name, tmp_path, capsys):
    """``tcplab run NAME --pcap`` writes, byte for byte, the capture checked above at the
    default node (the client host)."""
    out = tmp_path / "cli.pcapng"
    args = ["run", name, "--pcap", str(out), "--summary"]
    for o in overrides_for(name):
        args += ["--set", o]
    assert cli.main(args) == 0
    capsys.readouterr()
    run = run_of(name, None, overrides_for(name))
    buf = io.BytesIO()
    write_pcapng(run.trace, cli._capture_node(run, None), buf)
    assert out.read_bytes() == buf.getvalue()


def test_mss_option_and_nanosecond_timestamps(capdir):
    """The MSS each end announces, and times that need all nine decimals and the upper 32 bits
    of the pcapng timestamp (past 2**32 ns = 4.294967296 s)."""
    run = run_of("handshake", None, ("links.client-router.delay=5000123ns",
                                     "apps.connect.start=4.294967301", "scenario.duration=6",
                                     "apps.connect.client_tcp.mss=1234",
                                     "apps.connect.server_tcp.mss=987"))
    rec = record_of(run)
    announced = {run.trace.conns[cid].role: conn.cfg.mss for cid, conn in rec.conns.items()}
    assert announced == {"client": 1234, "server": 987}
    for node_name in run.trace.nodes:
        cap = capture(capdir, run, node_name)
        syns = 0
        for f, row in cap.pairs():
            seg = run.trace.packets[f.uid].segment
            if seg.flags & SYN:
                syns += 1
                cfg = rec.conns[rec.sent[f.uid][0]].cfg
                assert seg.option(OPT_MSS) == cfg.mss
                assert _int(row["tcp.options.mss_val"]) == cfg.mss, (node_name, f.number)
            else:
                assert row["tcp.options.mss_val"] == "", (node_name, f.number)
            whole, _, frac = row["frame.time_epoch"].partition(".")
            assert len(frac) == 9, row["frame.time_epoch"]
            assert seconds_to_ns(row["frame.time_epoch"]) == f.t, (node_name, f.number)
        assert syns == (4 if node_name == "router" else 2)
        times = [f.t for f in cap.frames]
        assert min(times) >= 1 << 32
        assert any(t % 1000 for t in times), "no time with digits below the microsecond"


# -- 2. retransmissions and duplicate ACKs versus the engine's summary --------------------------

@dataclass(frozen=True)
class Case:
    name: str
    seed: int | None
    overrides: tuple[str, ...]
    sender: str             # the host that sends the data
    receiver: str
    #: The case is here for repeated ACKs that reach the sender when all it sent is acknowledged:
    #: duplicate ACKs to Wireshark, not to RFC 5681.
    acks_with_nothing_outstanding: bool = False

    def run(self) -> Run:
        return run_of(self.name, self.seed, self.overrides)


CASES = [
    # loss and reorder: the client sends a 40-byte request, the server the response.
    Case("loss", None, (), "server", "client"),
    Case("reorder", None, (), "server", "client"),
    # bulk: the client sends. Seed 3 has retransmissions after a timeout (go-back-N), one of them
    # of data the server already had, and duplicate ACKs lost on the way back; 3% loss more so.
    Case("bulk", None, (BULK_BYTES,), "client", "server"),
    Case("bulk", 3, (BULK_BYTES,), "client", "server"),
    Case("bulk", 2, ("apps.bulk.bytes=1000000", "links.r1-r2.loss=0.03"), "client", "server"),
    # Seed 1 at 3% loss ends with a timeout retransmission of data the server already had,
    # arriving after the client's FIN: the server repeats its ACK (Wireshark: duplicate ACK), but
    # the client's data and FIN are all acknowledged, so by RFC 5681 it is no duplicate ACK.
    Case("bulk", 1, ("apps.bulk.bytes=1000000", "links.r1-r2.loss=0.03"), "client", "server", True),
    # A server application reading 300 kB/s: its window moves, so some of its repeated ACKs
    # carry a new window -- window updates, not duplicate ACKs (RFC 5681 section 2 (e)).
    Case("bulk", None, ("apps.bulk.bytes=1000000", "apps.bulk.read_rate=300000"), "client", "server"),
]
CASE_IDS = ["loss", "reorder", "bulk-1.5MB", "bulk-1.5MB-seed3", "bulk-1MB-3%loss-seed2",
            "bulk-1MB-3%loss-seed1", "bulk-1MB-slow-reader"]
BULK_CASES = [c for c in CASES if c.name == "bulk"]
BULK_IDS = [i for c, i in zip(CASES, CASE_IDS) if c.name == "bulk"]


def _sent_frames(cap: Capture, rec: EngineRecord, conn_id: int):
    return [(f, row) for f, row in cap.pairs()
            if f.outgoing and rec.sent.get(f.uid, (None,))[0] == conn_id]


def _received_frames(cap: Capture, rec: EngineRecord, conn_id: int):
    return [(f, row) for f, row in cap.pairs()
            if not f.outgoing and rec.recv.get(f.uid, (None,))[0] == conn_id]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_retransmissions_at_the_capture_of_their_sender(case, capdir):
    run = case.run()
    rec = record_of(run)
    for host in (case.sender, case.receiver):
        c = conn_summary(run, host)
        cap = capture(capdir, run, host)
        sent = _sent_frames(cap, rec, c["id"])
        # What makes this the right place: all the connection sent started onto the host's link.
        assert {f.uid for f, _ in sent} == {u for u, (cid, _) in rec.sent.items() if cid == c["id"]}
        by_cause = c["retransmissions"]["by_cause"]
        assert set(by_cause) <= {r.name for r in RETX_REASONS}, (
            f"retransmission causes {sorted(by_cause)}: add new ones to RETX_REASONS")
        tshark_retx = [f.number for f, row in sent if retransmitted(row)]
        engine_retx = [f.number for f, _ in sent if rec.sent[f.uid][1] in RETX_REASONS]
        where = f"{case.name} seed {run.seed}, capture at {host}"
        assert len(tshark_retx) == c["retransmissions"]["total"], (where, tshark_retx, c["retransmissions"])
        assert tshark_retx == engine_retx, where
        tshark_fast = [f.number for f, row in sent if row["tcp.analysis.fast_retransmission"]]
        engine_fast = [f.number for f, _ in sent if rec.sent[f.uid][1] == SendReason.FAST_RETX]
        # Wireshark's fast retransmission: at least two duplicate ACKs for its SEQ, within 20 ms
        # of the last; a retransmission after a partial ACK (RFC 6582) is a plain one to it.
        # In SACK recovery (RFC 6675) the hole at SND.UNA is often resent after further
        # duplicate ACKs have made it "lost" (IsLost); Wireshark calls that fast too.
        sack_fast = [n for n in tshark_fast if n not in engine_fast]
        assert all(rec.sent[cap.frames[n - 1].uid][1] == SendReason.SACK_RETX
                   for n in sack_fast), (where, sack_fast)
        # And RFC 6675 5 (b) enters recovery as soon as the SACKed data makes SND.UNA's
        # segment lost, which can be before the second duplicate ACK Wireshark waits for.
        early = [n for n in engine_fast if n not in tshark_fast]
        for n in early:
            seq = run.trace.packets[cap.frames[n - 1].uid].segment.seq
            dups = [f.number for f, row in cap.pairs() if not f.outgoing and f.number < n
                    and row["tcp.analysis.duplicate_ack"]
                    and run.trace.packets[f.uid].segment.ack == seq]
            assert len(dups) < 2, (where, n, dups)
        assert [n for n in tshark_fast if n not in sack_fast] == [
            n for n in engine_fast if n not in early], where
        assert len(engine_fast) == by_cause.get("FAST_RETX", 0), where
        # Spurious at the sender: data already acknowledged (SND.UNA at or past its end) when the
        # segment started onto the link, e.g. after waiting in the link's queue.
        rows, una = rec.snd_una_timeline(c["id"])
        engine_spurious = []
        for f, _ in sent:
            seg = run.trace.packets[f.uid].segment
            if rec.sent[f.uid][1] in RETX_REASONS and seg.payload:
                k = bisect.bisect_left(rows, f.row) - 1
                if k >= 0 and seq_le((seg.seq + len(seg.payload)) & MASK, una[k]):
                    engine_spurious.append(f.number)
        tshark_spurious = [f.number for f, row in sent if row["tcp.analysis.spurious_retransmission"]]
        assert tshark_spurious == engine_spurious, where


def outstanding_data(cap: Capture) -> dict[int, bool]:
    """For each frame arriving at ``cap``'s host: had the host sent sequence space (data, SYN or
    FIN) beyond the frame's ACK number? Read from the capture alone (tshark's fields)."""
    highest_end = None
    out = {}
    for f, row in cap.pairs():
        if f.outgoing:
            flags = int(row["tcp.flags"], 16)
            end = (int(row["tcp.seq_raw"]) + int(row["tcp.len"]) + (1 if flags & SYN else 0)
                   + (1 if flags & FIN else 0)) & MASK
            if highest_end is None or seq_lt(highest_end, end):
                highest_end = end
        else:
            out[f.number] = highest_end is not None and seq_lt(int(row["tcp.ack_raw"]), highest_end)
    return out


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_dup_acks_at_the_capture_of_the_host_that_receives_them(case, capdir):
    """tshark's duplicate ACKs arriving at a host, restricted to those that find the host with
    outstanding data (RFC 5681 section 2 (a); Wireshark's rule does not ask), are exactly the
    ones the engine counted."""
    run = case.run()
    rec = record_of(run)
    for host in (case.sender, case.receiver):
        c = conn_summary(run, host)
        cap = capture(capdir, run, host)
        received = _received_frames(cap, rec, c["id"])
        # Everything the connection processed passed the host's capture on the way in.
        assert {f.uid for f, _ in received} == {u for u, (cid, _) in rec.recv.items() if cid == c["id"]}
        outstanding = outstanding_data(cap)
        tshark_dups = [f.number for f, row in received if row["tcp.analysis.duplicate_ack"]]
        rfc_dups = [n for n in tshark_dups if outstanding[n]]
        engine_dups = [f.number for f, _ in received if rec.recv[f.uid][1] == RecvOutcome.DUP_ACK]
        where = f"{case.name} seed {run.seed}, capture at {host}"
        assert len(rfc_dups) == c["dup_acks_received"], (where, rfc_dups, c["dup_acks_received"])
        assert rfc_dups == engine_dups, where
        if case.acks_with_nothing_outstanding and host == case.sender:
            assert len(tshark_dups) > len(rfc_dups), (
                f"{where}: no repeated ACK arrives with nothing outstanding any more; "
                f"choose another seed for this case")


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_dup_acks_at_the_capture_of_the_host_that_sends_them(case, capdir):
    """At the data receiver's capture tshark sees every duplicate ACK it sent: those the data
    sender counted, plus those lost on the way, plus those that were no duplicates any more when
    they arrived: an ACK before them had been lost, so they did not repeat the ACK number and
    window of the last one that arrived (RFC 5681 section 2 (d), (e)), or everything the sender
    had sent was acknowledged already (RFC 5681 section 2 (a))."""
    run = case.run()
    rec = record_of(run)
    x, y = conn_summary(run, case.sender), conn_summary(run, case.receiver)
    x_node = run.trace.nodes.index(case.sender)
    cap_y = capture(capdir, run, case.receiver)
    sent = _sent_frames(cap_y, rec, y["id"])
    where = f"{case.name} seed {run.seed}, capture at {case.receiver}"
    flagged = [f for f, row in sent if row["tcp.analysis.duplicate_ack"]]
    # Wireshark's reading agrees with why the engine sent each of them: to repeat its ACK
    # (for out-of-order or old data, a FIN again in TIME-WAIT, a challenge) -- unless reading
    # by the application had changed the window since the last segment, which makes the repeat
    # a window update, no duplicate (RFC 5681 section 2 (e)).
    repeats, previous = [], None
    for f, _ in sent:
        seg = run.trace.packets[f.uid].segment
        if (rec.sent[f.uid][1] in REPEAT_ACK_REASONS and previous is not None
                and (previous.ack, previous.window) == (seg.ack, seg.window)):
            repeats.append(f)
        previous = seg
    assert [f.number for f in flagged] == [f.number for f in repeats], where
    flagged_uids = {f.uid for f in flagged}
    counted = {u for u, (cid, o) in rec.recv.items() if cid == x["id"] and o == RecvOutcome.DUP_ACK}
    assert counted <= flagged_uids, where
    lost = {u for u in flagged_uids if (x_node, u) not in rec.arrived}
    assert all(u in rec.dropped for u in lost), where
    no_longer = flagged_uids - lost - counted
    if no_longer:
        cap_x = capture(capdir, run, case.sender)
        outstanding = outstanding_data(cap_x)
        last = None
        for f, _ in _received_frames(cap_x, rec, x["id"]):
            seg = run.trace.packets[f.uid].segment
            if f.uid in no_longer:
                repeats_last = last is not None and (last.ack, last.window) == (seg.ack, seg.window)
                assert not repeats_last or not outstanding[f.number], (where, f.number)
            last = seg
    assert len(flagged) == x["dup_acks_received"] + len(lost) + len(no_longer), where


def test_loss_the_receiver_capture_sees_the_retransmission_as_a_first_transmission(capdir):
    run = run_of("loss")
    rec = record_of(run)
    srv = conn_summary(run, "server")
    assert srv["retransmissions"] == {"total": 1, "by_cause": {"RTO_RETX": 1}}
    [retx] = [u for u, (cid, r) in rec.sent.items() if cid == srv["id"] and r == SendReason.RTO_RETX]
    seq = run.trace.packets[retx].segment.seq
    [original] = [u for u, (cid, r) in rec.sent.items()
                  if cid == srv["id"] and r == SendReason.NEW_DATA
                  and run.trace.packets[u].segment.seq == seq]
    assert rec.dropped[original] == DropReason.FAULT
    client = capture(capdir, run, "client")
    assert original not in {f.uid for f in client.frames}
    [(f, row)] = [(f, row) for f, row in client.pairs() if f.uid == retx]
    assert not retransmitted(row)
    assert not any(retransmitted(row) for _, row in client.pairs())


def reorder_run(hold: str) -> Run:
    """The ``reorder`` scenario with the server's second segment held back ``hold``."""
    key = ("reorder", "hold", hold)
    if key not in _runs:
        path = builtin_scenarios()["reorder"]
        text = path.read_text(encoding="utf-8")
        changed = text.replace('delay = "30ms"', f'delay = "{hold}"')
        assert changed != text
        run = Run(loads(changed, str(path), name="reorder"))
        run.run()
        _runs[key] = run
    return _runs[key]


@pytest.mark.parametrize("hold, verdict", [
    ("30ms", ["tcp.analysis.retransmission"]),
    ("10ms", ["tcp.analysis.retransmission", "tcp.analysis.fast_retransmission"]),
    ("600us", ["tcp.analysis.out_of_order"]),
])
def test_reorder_the_receiver_capture_judges_a_late_segment_by_its_timing(hold, verdict, capdir):
    """The server sends every segment once; the link holds the second one back by ``hold``
    (the built-in scenario: 30 ms). At the client tshark judges the late segment by timing alone:
    a fast retransmission if two duplicate ACKs asked for it and it follows the last within
    20 ms, out-of-order if it comes within the connection's initial RTT (at this capture: SYN to
    the handshake's ACK) of the highest segment, a retransmission otherwise. None of these is a
    retransmission by the engine, which is why retransmissions are counted at their sender."""
    run = run_of("reorder") if hold == "30ms" else reorder_run(hold)
    rec = record_of(run)
    assert conn_summary(run, "server")["retransmissions"]["total"] == 0
    client = capture(capdir, run, "client")
    judged = ("tcp.analysis.out_of_order", *RETX_FLAGS)
    flagged = [(f, row) for f, row in client.pairs() if any(row[k] for k in judged)]
    assert [f.uid for f, _ in flagged] == sorted(rec.held_back)
    [(late, row)] = flagged
    assert [k for k in FIELDS if k in judged and row[k]] == verdict
    assert rec.sent[late.uid][1] == SendReason.NEW_DATA
    assert rec.recv[late.uid][1] == RecvOutcome.FILLED_HOLE
    syn_t = ack_t = highest_end = highest_t = None
    dup_ack_times = []
    for f, r in client.pairs():
        seg = run.trace.packets[f.uid].segment
        if f.number == late.number:
            break
        if seg.flags & SYN and not seg.flags & ACK:
            syn_t = f.t
        elif syn_t is not None and ack_t is None and f.outgoing and seg.flags & ACK:
            ack_t = f.t
        if r["tcp.analysis.duplicate_ack"]:
            dup_ack_times.append(f.t)
        if not f.outgoing and seg.payload:
            end = (seg.seq + len(seg.payload)) & MASK
            if highest_end is None or seq_lt(highest_end, end):
                highest_end, highest_t = end, f.t
    assert seq_lt(run.trace.packets[late.uid].segment.seq, highest_end)
    fast = len(dup_ack_times) >= 2 and late.t - dup_ack_times[-1] < 20_000_000
    out_of_order = late.t - highest_t < ack_t - syn_t
    assert (fast, out_of_order) == {"30ms": (False, False), "10ms": (True, True),
                                    "600us": (False, True)}[hold]


@pytest.mark.parametrize("case", BULK_CASES, ids=BULK_IDS)
def test_bulk_the_receiver_capture_sees_a_subset_of_the_retransmissions(case, capdir):
    """On FIFO links nothing new looks old, so what tshark flags at the receiver is among the
    engine's retransmissions; it misses those whose original was lost along with all that
    followed it, and calls spurious those that brought only data the receiver already had."""
    run = case.run()
    rec = record_of(run)
    x = conn_summary(run, case.sender)
    cap = capture(capdir, run, case.receiver)
    where = f"{case.name} seed {run.seed}, capture at {case.receiver}"
    highest_end = None
    acked = None                  # the highest ACK the receiver has sent so far
    flagged, missed, spurious, old_data = [], [], [], []
    for f, row in cap.pairs():
        if f.outgoing:
            seg = run.trace.packets[f.uid].segment
            if seg.flags & ACK and (acked is None or seq_lt(acked, seg.ack)):
                acked = seg.ack
            continue
        if rec.sent.get(f.uid, (None,))[0] != x["id"]:
            continue
        seg = run.trace.packets[f.uid].segment
        end = (seg.seq + len(seg.payload) + (1 if seg.flags & (SYN | FIN) else 0)) & MASK
        is_retx = rec.sent[f.uid][1] in RETX_REASONS
        if retransmitted(row):
            assert is_retx, (where, f.number)
            flagged.append(f.number)
        elif is_retx:
            assert highest_end is None or not seq_lt(seg.seq, highest_end), (where, f.number)
            missed.append(f.number)
        if row["tcp.analysis.spurious_retransmission"]:
            spurious.append(f.number)
        if (seg.payload and rec.recv[f.uid][1] in (RecvOutcome.DUPLICATE, RecvOutcome.OUT_OF_WINDOW)
                and acked is not None and seq_le(end, acked)):
            # Data the receiver already had *and had acknowledged* (a delayed ACK may still
            # be owed for the rest, and Wireshark judges by the ACKs it saw).
            old_data.append(f.number)
        if highest_end is None or seq_lt(highest_end, end):
            highest_end = end
    assert spurious == old_data, where
    arrived = [u for u, (cid, r) in rec.sent.items()
               if cid == x["id"] and r in RETX_REASONS and (cap.node, u) in rec.arrived]
    assert len(flagged) + len(missed) == len(arrived) <= x["retransmissions"]["total"], where


# -- 3. flow control and keep-alive as Wireshark names them -----------------------------------

def _reasons_at(cap: Capture, rec: EngineRecord, outgoing: bool = True) -> dict[int, SendReason]:
    return {f.number: rec.sent[f.uid][1] for f, _ in cap.pairs()
            if f.outgoing == outgoing and f.uid in rec.sent}


def test_zero_window_probes_and_window_updates_are_where_the_engine_sent_them(capdir):
    run = run_of("zero-window")
    rec = record_of(run)
    for host in ("client", "server"):
        cap = capture(capdir, run, host)
        reasons = _reasons_at(cap, rec)
        probes = [n for n, r in reasons.items() if r == SendReason.WINDOW_PROBE]
        updates = [n for n, r in reasons.items() if r == SendReason.WINDOW_UPDATE]
        sent = {f.number: row for f, row in cap.pairs() if f.outgoing}
        assert [n for n, row in sent.items() if row["tcp.analysis.zero_window_probe"]] == probes
        assert [n for n, row in sent.items() if row["tcp.analysis.window_update"]] == updates
        # Data resuming after the window reopened starts with the refused probe byte: new
        # data for the engine (AFTER_PROBE) and for Wireshark (the probe does not move its
        # next expected SEQ), never a retransmission.
        resumed = [n for n, r in reasons.items() if r == SendReason.AFTER_PROBE]
        assert not [n for n in resumed if any(sent[n][f] for f in RETX_FLAGS)]
        if host == "client":
            assert len(probes) >= 4 and len(resumed) >= 4
        else:
            assert len(updates) >= 3


KEEPALIVE_SCENARIO = """
[scenario]
title = "keep-alive"
duration = 60.0
[hosts.a]
[hosts.b]
[links.a-b]
delay = "5ms"
[apps.ssh]
type = "typing"
client = "a"
server = "b"
port = 22
chunk = 1
count = 2
interval = 30.0
client_tcp = { keepalive = true, keepalive_time = 10.0, keepalive_interval = 5.0 }
"""


def test_keepalive_probes_are_the_ones_wireshark_flags(capdir, tmp_path):
    from tcplab.scenario import loads
    run = Run(loads(KEEPALIVE_SCENARIO, "<keepalive>"), seed=1)
    run.run()
    rec = record_of(run)
    cap = capture(capdir, run, "a")
    reasons = _reasons_at(cap, rec)
    engine = [n for n, r in reasons.items() if r == SendReason.KEEPALIVE]
    sent = {f.number: row for f, row in cap.pairs() if f.outgoing}
    assert len(engine) >= 2
    assert [n for n, row in sent.items() if row["tcp.analysis.keep_alive"]] == engine
