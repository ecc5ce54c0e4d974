"""pcapng writing: read-back, determinism, header contents, and Wireshark's own opinion."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from pcapng import FileScanner, blocks

from tcplab.net.packet import ACK, OPT_MSS, PSH, SYN, Packet, Segment, TcpOption, ip_from_str
from tcplab.net.wire import corrupt, encode_packet
from tcplab.trace.pcapng import LINKTYPE_RAW, SNAPLEN, PcapngWriter, read_pcapng

INTERFACES = [("h1:l1", "link l1 to r1"), ("h1:l2", "link l2 to r2")]


def _datagrams() -> list[bytes]:
    a, b = ip_from_str("10.0.0.1"), ip_from_str("10.0.1.2")
    syn = Segment(49152, 80, 100, 0, SYN, 65535, options=(TcpOption(OPT_MSS, 1460),))
    syn_ack = Segment(80, 49152, 7000, 101, SYN | ACK, 65535, options=(TcpOption(OPT_MSS, 1400),))
    data = Segment(49152, 80, 101, 7001, ACK | PSH, 65535, b"GET / HTTP/1.0\r\n\r\n")
    return [encode_packet(Packet(1, a, b, syn)), encode_packet(Packet(2, b, a, syn_ack, ttl=62)),
            encode_packet(Packet(3, a, b, data, ident=1))]


# (interface, time ns, comment): the second time is past 2**32 ns to use the high word.
CALLS = [(0, 1_234_567_891, "first"), (1, 5_000_000_000_123, None), (0, 5_000_000_000_124, None)]


def _capture() -> bytes:
    out = io.BytesIO()
    writer = PcapngWriter(out, INTERFACES)
    for (iface, t_ns, comment), data in zip(CALLS, _datagrams()):
        writer.write(iface, t_ns, data, comment)
    writer.close()
    return out.getvalue()


def test_read_back():
    expected = [(iface, t_ns, data) for (iface, t_ns, _), data in zip(CALLS, _datagrams())]
    assert read_pcapng(io.BytesIO(_capture())) == expected


def test_same_calls_same_bytes():
    assert _capture() == _capture()


@pytest.mark.filterwarnings("ignore:Field type should not be:DeprecationWarning")   # if_tsresol
def test_header_blocks_carry_only_what_we_set():
    found = list(FileScanner(io.BytesIO(_capture())))
    shb = found[0]
    assert isinstance(shb, blocks.SectionHeader)
    assert dict(shb.options.iter_all_items()) == {"shb_userappl": ["tcplab"]}
    idbs = [b for b in found if isinstance(b, blocks.InterfaceDescription)]
    assert [(i.options["if_name"], i.options["if_description"]) for i in idbs] == INTERFACES
    for idb in idbs:
        assert idb.link_type == LINKTYPE_RAW and idb.snaplen == SNAPLEN
        assert idb.options.get_raw("if_tsresol") == b"\x09"
    comments = [b.options.get("opt_comment") for b in found if isinstance(b, blocks.EnhancedPacket)]
    assert comments == ["first", None, None]


def test_empty_capture_has_just_the_headers():
    out = io.BytesIO()
    PcapngWriter(out, INTERFACES, application="lab test").close()
    assert read_pcapng(io.BytesIO(out.getvalue())) == []
    assert b"lab test" in out.getvalue()


def test_bad_writes_are_refused():
    writer = PcapngWriter(io.BytesIO(), INTERFACES)
    with pytest.raises(ValueError, match="interface 2"):
        writer.write(2, 0, b"")
    with pytest.raises(ValueError, match="64-bit"):
        writer.write(0, 1 << 64, b"")
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write(0, 0, b"")


# -- Wireshark --------------------------------------------------------------------------------

TSHARK = shutil.which("tshark")


def _tshark_fields(path, *fields: str) -> list[list[str]]:
    cmd = [TSHARK, "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
           "-T", "fields"]
    for field in fields:
        cmd += ["-e", field]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60)
    return [line.split("\t") for line in result.stdout.splitlines()]


@pytest.mark.tshark
@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
def test_tshark_decodes_the_capture(tmp_path):
    path = tmp_path / "capture.pcapng"
    path.write_bytes(_capture())
    rows = _tshark_fields(path, "frame.time_epoch", "ip.src", "tcp.seq_raw", "tcp.checksum.status",
                          "ip.checksum.status", "_ws.malformed", "frame.interface_name",
                          "frame.comment", "tcp.options.mss_val")
    # Wireshark's checksum status values: 0 bad, 1 good, 2 unverified.
    assert rows == [
        ["1.234567891", "10.0.0.1", "100", "1", "1", "", "h1:l1", "first", "1460"],
        ["5000.000000123", "10.0.1.2", "7000", "1", "1", "", "h1:l2", "", "1400"],
        ["5000.000000124", "10.0.0.1", "101", "1", "1", "", "h1:l1", "", ""],
    ]


@pytest.mark.tshark
@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
def test_tshark_sees_a_corrupted_payload_as_bad(tmp_path):
    data = _datagrams()[2]
    path = tmp_path / "damaged.pcapng"
    with open(path, "wb") as f:
        writer = PcapngWriter(f, INTERFACES[:1])
        writer.write(0, 1, corrupt(data, len(data) * 8 - 1))
        writer.close()
    assert _tshark_fields(path, "ip.checksum.status", "tcp.checksum.status") == [["1", "0"]]
