"""Wire format of IPv4 + TCP: round trips, a hand-computed SYN, checksums, damage, bad input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.net.packet import (ACK, FIN, OPT_EOL, OPT_MSS, OPT_NOP, OPT_SACK, OPT_SACK_PERM,
                               OPT_TIMESTAMP, OPT_WSCALE, PSH, SYN, Packet, Segment, TcpOption,
                               ip_from_str, options_len)
from tcplab.net.wire import (WireError, corrupt, decode_options, decode_packet, encode_options,
                             encode_packet, encode_segment, internet_checksum, set_ttl, verify)

U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)


def reference_checksum(data: bytes, initial: int = 0) -> int:
    """RFC 1071 done the slow, obvious way: add 16-bit words, fold carries, complement."""
    if len(data) % 2:
        data += b"\x00"
    total = initial
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        while total > 0xFFFF:
            total = (total & 0xFFFF) + (total >> 16)
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


# -- strategies -------------------------------------------------------------------------------

single_option = st.one_of(
    st.builds(lambda v: TcpOption(OPT_MSS, v), U16),
    st.builds(lambda v: TcpOption(OPT_WSCALE, v), st.integers(0, 255)),
    st.just(TcpOption(OPT_SACK_PERM)),
    st.builds(lambda blocks: TcpOption(OPT_SACK, tuple(blocks)),
              st.lists(st.tuples(U32, U32), min_size=1, max_size=4)),
    st.builds(lambda a, b: TcpOption(OPT_TIMESTAMP, (a, b)), U32, U32),
    st.just(TcpOption(OPT_NOP)),
    st.builds(TcpOption, st.sampled_from([6, 7]) | st.integers(9, 255), st.binary(max_size=12)),
)


def _raw_len(opt: TcpOption) -> int:
    """Bytes of one option before padding."""
    fixed = {OPT_NOP: 1, OPT_SACK_PERM: 2, OPT_WSCALE: 3, OPT_MSS: 4, OPT_TIMESTAMP: 10}
    if opt.kind in fixed:
        return fixed[opt.kind]
    return 2 + (8 * len(opt.value) if opt.kind == OPT_SACK else len(opt.value))


def _fit(options: list[TcpOption]) -> tuple[TcpOption, ...]:
    """The longest prefix whose encoding fits the 40 bytes of option space."""
    kept, used = [], 0
    for opt in options:
        if used + _raw_len(opt) > 40:
            break
        kept.append(opt)
        used += _raw_len(opt)
    return tuple(kept)


option_lists = st.lists(single_option, max_size=10).map(_fit)

segments = st.builds(Segment, src_port=U16, dst_port=U16, seq=U32, ack=U32,
                     flags=st.integers(0, 0xFFF), window=U16,
                     payload=st.binary(max_size=1500), options=option_lists, urg_ptr=U16)


def packets():
    return st.builds(Packet, uid=st.integers(0, 10**6), src=U32, dst=U32, segment=segments,
                     ttl=st.integers(0, 255), ident=U16, tos=st.integers(0, 255),
                     df=st.booleans())


def syn_packet() -> Packet:
    seg = Segment(49152, 80, 100, 0, SYN, 65535, b"", (TcpOption(OPT_MSS, 1460),))
    return Packet(7, ip_from_str("10.0.0.1"), ip_from_str("10.0.0.2"), seg, ttl=64, ident=1)


def data_packet(payload: bytes = b"hello, wire") -> Packet:
    seg = Segment(80, 49152, 5000, 101, ACK | PSH, 1000, payload)
    return Packet(8, ip_from_str("10.0.0.2"), ip_from_str("10.0.0.1"), seg)


# -- round trips ------------------------------------------------------------------------------

@settings(max_examples=300)
@given(packets())
def test_packet_round_trip(pkt):
    data = encode_packet(pkt)
    assert len(data) == pkt.total_length
    assert verify(data) == (True, True)
    back = decode_packet(data, pkt.uid)
    for field in ("uid", "src", "dst", "ttl", "ident", "tos", "df", "wire", "dup_of"):
        assert getattr(back, field) == getattr(pkt, field), field
    assert back.segment == pkt.segment
    assert encode_packet(back) == data


@given(option_lists)
def test_options_round_trip_and_length(options):
    data = encode_options(options)
    assert len(data) == options_len(options)
    assert len(data) % 4 == 0
    assert decode_options(data) == options


def test_encode_packet_returns_damaged_bytes_unchanged():
    pkt = syn_packet()
    pkt.wire = b"\x00" * 44
    assert encode_packet(pkt) is pkt.wire


def test_reserved_header_bits_travel_in_the_high_flag_bits():
    pkt = syn_packet()
    pkt.segment.flags = 0xA00 | SYN
    data = encode_packet(pkt)
    assert data[32] == 0x6A         # data offset 6 words, reserved nibble 0b1010
    assert decode_packet(data).segment.flags == 0xA02


def test_explicit_eol_is_encoded_and_ends_decoding():
    assert encode_options((TcpOption(OPT_NOP), TcpOption(OPT_EOL))) == b"\x01\x00\x00\x00"
    assert decode_options(b"\x01\x00\x00\x00") == (TcpOption(OPT_NOP),)
    # Options after an EOL are written, but a receiver stops reading at the EOL.
    data = encode_options((TcpOption(OPT_EOL), TcpOption(OPT_MSS, 1460)))
    assert data == b"\x00\x02\x04\x05\xb4\x00\x00\x00"
    assert decode_options(data) == ()


# -- known answer -----------------------------------------------------------------------------

def test_syn_known_answer():
    """A SYN 10.0.0.1:49152 -> 10.0.0.2:80, seq 100, window 65535, MSS 1460, TTL 64, ident 1, DF.

    IP header checksum by hand: 4500 + 002c + 0001 + 4000 + 4006 + 0a00 + 0001 + 0a00 + 0002
    = d936 (no carries), complemented: 26c9.
    TCP checksum by hand: pseudo-header 0a00 + 0001 + 0a00 + 0002 + 0006 + 0018 (length 24)
    = 1421; header words c000 + 0050 + 0000 + 0064 + 0000 + 0000 + 6002 + ffff + 0000 + 0000
    + 0204 + 05b4 = 2286d; together 23c8e, folded 3c8e + 2 = 3c90, complemented: c36f.
    """
    expected_ip = bytes([
        0x45, 0x00, 0x00, 0x2C,     # version 4, IHL 5; TOS 0; total length 44
        0x00, 0x01, 0x40, 0x00,     # identification 1; flags DF, fragment offset 0
        0x40, 0x06, 0x26, 0xC9,     # TTL 64; protocol 6 (TCP); header checksum
        0x0A, 0x00, 0x00, 0x01,     # source 10.0.0.1
        0x0A, 0x00, 0x00, 0x02,     # destination 10.0.0.2
    ])
    expected_tcp = bytes([
        0xC0, 0x00, 0x00, 0x50,     # source port 49152; destination port 80
        0x00, 0x00, 0x00, 0x64,     # sequence number 100
        0x00, 0x00, 0x00, 0x00,     # acknowledgment number 0
        0x60, 0x02, 0xFF, 0xFF,     # data offset 6 (24 bytes); SYN; window 65535
        0xC3, 0x6F, 0x00, 0x00,     # checksum; urgent pointer 0
        0x02, 0x04, 0x05, 0xB4,     # MSS option: kind 2, length 4, 1460
    ])
    pkt = syn_packet()
    assert encode_packet(pkt) == expected_ip + expected_tcp
    assert encode_segment(pkt.segment, pkt.src, pkt.dst) == expected_tcp
    assert reference_checksum(expected_ip) == 0


# -- checksum ---------------------------------------------------------------------------------

@settings(max_examples=500)
@given(st.binary(max_size=3001), st.integers(0, 2**34))
def test_checksum_matches_reference(data, initial):
    assert internet_checksum(data, initial) == reference_checksum(data, initial)


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00" * 40, b"\xff", b"\xff\xff", b"\xff" * 1500,
                                  b"\xff" * 1501, b"\x00\x01\xf2\x03\xf4\xf5\xf6\xf7", b"\xab"])
def test_checksum_corner_cases(data):
    assert internet_checksum(data) == reference_checksum(data)


def test_checksum_zero_versus_ffff():
    # All-zero data sums to +0, checksum 0xFFFF; a non-zero sum of 0xFFFF ("-0") gives 0.
    assert internet_checksum(b"\x00\x00") == 0xFFFF
    assert internet_checksum(b"\xff\xff") == 0
    assert internet_checksum(b"\x80\x00\x7f\xff") == 0
    assert internet_checksum(b"\x00\x01\xf2\x03\xf4\xf5\xf6\xf7") == 0x220D   # RFC 1071 3 sum ddf2


# -- damage -----------------------------------------------------------------------------------

def test_flipped_payload_bit_fails_tcp_checksum():
    data = encode_packet(data_packet())
    damaged = corrupt(data, (len(data) - 3) * 8 + 5)
    assert damaged[:-3] == data[:-3] and damaged[-3] == data[-3] ^ 0x04
    assert verify(damaged) == (True, False)


def test_flipped_ip_header_bit_fails_ip_checksum():
    data = encode_packet(data_packet())
    assert verify(corrupt(data, 8 * 8))[0] is False        # TTL byte
    assert verify(corrupt(data, 13 * 8 + 7)) == (False, False)  # source address: pseudo-header too


def test_corrupt_bit_numbering():
    assert corrupt(b"\x00\x00", 0) == b"\x80\x00"
    assert corrupt(b"\x00\x00", 15) == b"\x00\x01"
    with pytest.raises(WireError, match="outside"):
        corrupt(b"\x00\x00", 16)


@settings(max_examples=300)
@given(packets(), st.data())
def test_every_single_bit_flip_is_detected(pkt, data):
    wire = encode_packet(pkt)
    bit = data.draw(st.integers(0, len(wire) * 8 - 1))
    damaged = corrupt(wire, bit)
    assert verify(damaged) != (True, True)
    try:
        decode_packet(damaged)
    except WireError:
        pass


@given(packets(), st.integers(0, 255))
def test_set_ttl_matches_full_encoding(pkt, ttl):
    data = encode_packet(pkt)
    pkt.ttl = ttl
    assert set_ttl(data, ttl) == encode_packet(pkt)


def test_set_ttl_keeps_a_damaged_header_damaged():
    damaged = corrupt(encode_packet(data_packet()), 4 * 8 + 1)      # identification field
    assert verify(set_ttl(damaged, 10)) == (False, True)


# -- malformed input --------------------------------------------------------------------------

def _patched(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new):]


def _malformed_cases():
    syn = encode_packet(syn_packet())
    yield b"\x45" * 10, "too short"
    yield _patched(syn, 0, b"\x65"), "not IPv4: version field is 6"
    yield _patched(syn, 0, b"\x44"), "IHL is 4"
    yield _patched(syn, 0, b"\x46"), "IP options are not supported"
    yield syn + b"\x00", "total length field is 44 but the datagram has 45 bytes"
    yield _patched(syn, 6, b"\x80\x00"), "reserved IP flag"
    yield _patched(syn, 6, b"\x20\x00"), "fragments are not supported"
    yield _patched(syn, 6, b"\x00\x10"), "offset=16"
    yield _patched(syn, 9, b"\x11"), "protocol 17 is not TCP"
    yield _patched(syn[:30], 2, b"\x00\x1e"), "TCP header truncated"
    yield _patched(syn, 32, b"\x40"), "TCP data offset is 4"
    yield _patched(syn, 32, b"\xf0"), "runs past the end"
    yield _patched(syn, 41, b"\x03"), "bad TCP options: MSS option at offset 0 has length 3"


@pytest.mark.parametrize("data, message", list(_malformed_cases()))
def test_malformed_datagrams(data, message):
    with pytest.raises(WireError, match=message):
        decode_packet(data)


@pytest.mark.parametrize("data, message", [
    (b"\x02", "MSS option at offset 0 has no length byte"),
    (b"\x01\x1e\x01", "kind 30 option at offset 1 has length 1; the minimum is 2"),
    (b"\x08\x0a\x00\x00", "TIMESTAMP option at offset 0 has length 10, past the end"),
    (b"\x03\x04\x00\x00", "WSCALE option at offset 0 has length 4; it must be 3"),
    (b"\x04\x03\x00\x00", "SACK_PERM option at offset 0 has length 3; it must be 2"),
    (b"\x05\x0b" + bytes(9), "SACK option at offset 0 has length 11; it must be 2 \\+ 8n"),
    (b"\x05\x02\x00\x00", "SACK option at offset 0 has length 2"),
])
def test_malformed_options(data, message):
    with pytest.raises(WireError, match=message):
        decode_options(data)


@pytest.mark.parametrize("options, message", [
    ((TcpOption(OPT_MSS, 70000),), "MSS option value 70000"),
    ((TcpOption(OPT_WSCALE, 256),), "WSCALE option value 256"),
    ((TcpOption(OPT_TIMESTAMP, (2**32, 0)),), "TIMESTAMP option value"),
    ((TcpOption(OPT_TIMESTAMP, (1, 2, 3)),), "TIMESTAMP option value"),
    ((TcpOption(OPT_SACK, ()),), "SACK option with no blocks"),
    ((TcpOption(OPT_SACK, ((1, 2),) * 5),), "options take 42 bytes"),
    ((TcpOption(OPT_TIMESTAMP, (1, 2)),) * 5, "options take 50 bytes"),
    ((TcpOption(OPT_SACK_PERM, True),), "SACK_PERM option takes no value"),
    ((TcpOption(30, 5),), "kind 30: value must be the raw data bytes"),
    ((TcpOption(30, bytes(254)),), "kind 30 option value"),
])
def test_unencodable_options(options, message):
    with pytest.raises(WireError, match=message):
        encode_options(options)


@pytest.mark.parametrize("field, value", [("src_port", 70000), ("seq", 2**32), ("ack", -1),
                                          ("flags", 0x1000), ("window", 65536), ("urg_ptr", -5)])
def test_unencodable_segment_fields(field, value):
    pkt = data_packet()
    setattr(pkt.segment, field, value)
    with pytest.raises(WireError, match=f"segment {field} {value}"):
        encode_packet(pkt)


@pytest.mark.parametrize("field, value", [("ttl", 256), ("tos", -1), ("ident", 65536)])
def test_unencodable_ip_fields(field, value):
    pkt = data_packet()
    setattr(pkt, field, value)
    with pytest.raises(WireError, match="IP header field out of range"):
        encode_packet(pkt)


def test_oversized_datagram():
    with pytest.raises(WireError, match="pseudo-header"):
        encode_packet(data_packet(bytes(65516)))
    with pytest.raises(WireError, match="exceeds the IPv4 maximum"):
        encode_packet(data_packet(bytes(65500)))


@st.composite
def plausible_datagrams(draw):
    """Random bytes with a believable IPv4/TCP start, so the TCP and option parsers get a go."""
    data = bytearray(draw(st.binary(min_size=20, max_size=100)))
    data[0] = 0x45
    data[2:4] = struct.pack("!H", len(data))
    data[6] &= 0x40
    data[7] = 0
    data[9] = 6
    return bytes(data)


@settings(max_examples=500)
@given(st.binary(max_size=100) | plausible_datagrams())
def test_random_bytes_raise_only_wire_error(data):
    assert isinstance(verify(data), tuple)
    try:
        pkt = decode_packet(data)
    except WireError:
        return
    # Whatever decodes encodes again, with the same ports, sequence and acknowledgment numbers.
    assert encode_packet(pkt)[20:32] == data[20:32]


@given(st.binary(max_size=40))
def test_random_options_raise_only_wire_error(data):
    try:
        decode_options(data)
    except WireError:
        pass


def test_fin_packet_fields():
    pkt = data_packet(b"")
    pkt.segment.flags = FIN | ACK
    back = decode_packet(encode_packet(pkt), 3)
    assert back.uid == 3 and back.segment.flags == FIN | ACK and back.segment.payload == b""
