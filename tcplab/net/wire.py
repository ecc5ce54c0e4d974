"""Exact on-the-wire bytes of the lab's packets: IPv4 (RFC 791) carrying TCP (RFC 9293 3.1).

The engine passes :class:`~tcplab.net.packet.Packet` objects around; this module produces the
bytes a real stack would transmit for them (for captures, the packet inspector and the link
corruption impairment) and parses such bytes back.

Conventions:

* Addresses are ints (``0x0A000001`` is 10.0.0.1); all multi-byte fields are big-endian
  ("network order", RFC 791 Appendix B).
* ``Segment.flags`` is the whole 12-bit field that follows the TCP data offset: bits 0-7 are the
  control bits CWR..FIN of RFC 9293 3.1 (ECE/CWR from RFC 3168), and bits 8-11 carry the four
  bits RFC 9293 marks "Rsrvd". The engine never sets the reserved bits, but keeping them means
  ``encode(decode(b)) == b`` for any segment that decodes.
* Only what :class:`Packet` can represent is decoded: IPv4 without IP options or fragmentation,
  carrying TCP. Anything else raises :class:`WireError` rather than being silently altered.
* Checksums are never enforced by the decoder; :func:`verify` checks them separately, the way a
  receiving stack does before it looks at the contents.
"""

from __future__ import annotations

import struct

from tcplab.net.packet import (IP_HEADER_LEN, IPPROTO_TCP, OPT_EOL, OPT_MSS, OPT_NOP, OPT_SACK,
                               OPT_SACK_PERM, OPT_TIMESTAMP, OPT_WSCALE, TCP_HEADER_LEN, Packet,
                               Segment, TcpOption)

# RFC 791 3.1: version/IHL, type of service, total length, identification, flags/fragment
# offset, time to live, protocol, header checksum, source address, destination address.
_IP = struct.Struct("!BBHHHBBHII")
# RFC 9293 3.1: source port, destination port, sequence number, acknowledgment number,
# data offset/reserved, control bits, window, checksum, urgent pointer.
_TCP = struct.Struct("!HHIIBBHHH")

_VERSION_IHL = (4 << 4) | (IP_HEADER_LEN // 4)     # 0x45: IPv4, 20-byte header
_IP_DF = 0x4000                 # "don't fragment" in the flags/fragment-offset word (RFC 791 3.1)
_IP_MF = 0x2000                 # "more fragments"
_IP_RESERVED = 0x8000           # flag bit 0, which RFC 791 requires to be zero
_IP_FRAG_OFFSET = 0x1FFF
MAX_OPTIONS_LEN = 40            # data offset is 4 bits: at most 15 words = 60 header bytes

_OPTION_NAMES = {OPT_EOL: "EOL", OPT_NOP: "NOP", OPT_MSS: "MSS", OPT_WSCALE: "WSCALE",
                 OPT_SACK_PERM: "SACK_PERM", OPT_SACK: "SACK", OPT_TIMESTAMP: "TIMESTAMP"}
# Total option length (kind and length bytes included) of the fixed-size options.
_FIXED_LENGTH = {OPT_MSS: 4, OPT_WSCALE: 3, OPT_SACK_PERM: 2, OPT_TIMESTAMP: 10}
# Complete encodings of the options that carry no value.
_VALUELESS = {OPT_EOL: b"\x00", OPT_NOP: b"\x01", OPT_SACK_PERM: b"\x04\x02"}
_NOP = TcpOption(OPT_NOP)
_SACK_PERM = TcpOption(OPT_SACK_PERM)


class WireError(ValueError):
    """Bytes that are not a datagram this module can decode, or fields that cannot be encoded."""


# -- checksum ---------------------------------------------------------------------------------

def internet_checksum(data: bytes, initial: int = 0) -> int:
    """The Internet checksum of ``data`` (RFC 1071): the ones' complement of the ones'
    complement sum of its 16-bit big-endian words, an odd trailing byte padded with a zero.

    ``initial`` is a partial sum (any non-negative int, e.g. the words of a pseudo-header simply
    added up) folded into the sum. Over data that already holds a correct checksum the result
    is 0, which is how a receiver verifies.

    Since 2**16 = 1 (mod 0xFFFF), the whole buffer read as one big integer is congruent to the
    sum of its words, so one ``int.from_bytes`` and one ``%`` replace the word loop (several times
    faster than summing an ``array('H')``). The remainder 0 stands for the ones' complement sum
    0xFFFF ("negative zero"), which an end-around-carry sum produces for any non-zero input; only
    all-zero input sums to 0x0000 and so has the checksum 0xFFFF.
    """
    total = int.from_bytes(data, "big")
    if len(data) & 1:
        total <<= 8
    total += initial
    if not total:
        return 0xFFFF
    return 0xFFFF - (total % 0xFFFF or 0xFFFF)


def _pseudo_header_sum(src_ip: int, dst_ip: int, tcp_length: int) -> int:
    """Sum of the words of the TCP pseudo-header (RFC 9293 3.1): addresses, zero+PTCL, length."""
    return ((src_ip >> 16) + (src_ip & 0xFFFF) + (dst_ip >> 16) + (dst_ip & 0xFFFF)
            + IPPROTO_TCP + tcp_length)


# -- TCP options ------------------------------------------------------------------------------

def _option_name(kind: int) -> str:
    return _OPTION_NAMES.get(kind, f"kind {kind}")


def _encode_option(kind: int, value) -> bytes:
    """One option's bytes. A value of the wrong shape or range surfaces as whatever struct or
    unpacking raises; :func:`encode_options` turns that into a :class:`WireError`."""
    valueless = _VALUELESS.get(kind)
    if valueless is not None:
        if value is not None:
            raise WireError(f"{_option_name(kind)} option takes no value, got {value!r}")
        return valueless
    if kind == OPT_MSS:
        return struct.pack("!BBH", OPT_MSS, 4, value)
    if kind == OPT_WSCALE:
        return struct.pack("!BBB", OPT_WSCALE, 3, value)
    if kind == OPT_TIMESTAMP:
        tsval, tsecr = value
        return struct.pack("!BBII", OPT_TIMESTAMP, 10, tsval, tsecr)
    if kind == OPT_SACK:
        blocks = tuple(value)
        if not blocks:
            raise WireError("SACK option with no blocks (RFC 2018 3 needs at least one)")
        out = struct.pack("!BB", OPT_SACK, 2 + 8 * len(blocks))
        return out + b"".join(struct.pack("!II", left, right) for left, right in blocks)
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise WireError(f"option kind {kind}: value must be the raw data bytes, got {value!r}")
    return struct.pack("!BB", kind, 2 + len(value)) + bytes(value)


def encode_options(options: tuple[TcpOption, ...]) -> bytes:
    """The options area of a TCP header (RFC 9293 3.1, 3.2): the options in the given order,
    then zero (EOL) bytes up to a multiple of 4. The result is ``options_len(options)`` long.

    An explicit EOL option is written as its single zero byte wherever it stands; anything after
    it is still encoded, although a receiver ignores it (see :func:`decode_options`).
    Raises :class:`WireError` for a value out of range or options longer than 40 bytes.
    """
    parts = []
    for kind, value in options:
        try:
            parts.append(_encode_option(kind, value))
        except WireError:
            raise
        except (struct.error, TypeError, ValueError):
            raise WireError(f"{_option_name(kind)} option value {value!r} cannot be encoded") from None
    out = b"".join(parts)
    if len(out) > MAX_OPTIONS_LEN:
        raise WireError(f"options take {len(out)} bytes; a TCP header has room for {MAX_OPTIONS_LEN}")
    return out + bytes(-len(out) % 4)


def decode_options(data: bytes) -> tuple[TcpOption, ...]:
    """Parse a TCP options area (RFC 9293 3.1, 3.2) into options in wire order.

    Parsing stops at the first EOL, which is not returned; the bytes after it are padding and
    are ignored. So for any options tuple without EOL, ``decode_options(encode_options(t)) == t``,
    and for any area that decodes and has only zero bytes after its EOL,
    ``encode_options(decode_options(b)) == b``.

    Values follow :class:`~tcplab.net.packet.TcpOption`; unknown kinds keep their data bytes.
    Raises :class:`WireError` naming the option and offset for a missing or too-small length
    byte, an option running past the end, a wrong length for MSS/WSCALE/SACK_PERM/TIMESTAMP,
    or a SACK length other than 2 + 8n with n >= 1 (RFC 2018 3).
    """
    options = []
    n = len(data)
    i = 0
    while i < n:
        kind = data[i]
        if kind == OPT_EOL:
            break
        if kind == OPT_NOP:
            options.append(_NOP)
            i += 1
            continue
        name = _option_name(kind)
        if i + 1 >= n:
            raise WireError(f"{name} option at offset {i} has no length byte")
        length = data[i + 1]
        if length < 2:
            raise WireError(f"{name} option at offset {i} has length {length}; the minimum is 2")
        end = i + length
        if end > n:
            raise WireError(f"{name} option at offset {i} has length {length}, "
                            f"past the end of the {n}-byte options area")
        fixed = _FIXED_LENGTH.get(kind)
        if fixed is not None and length != fixed:
            raise WireError(f"{name} option at offset {i} has length {length}; it must be {fixed}")
        if kind == OPT_MSS:
            options.append(TcpOption(OPT_MSS, (data[i + 2] << 8) | data[i + 3]))
        elif kind == OPT_WSCALE:
            options.append(TcpOption(OPT_WSCALE, data[i + 2]))
        elif kind == OPT_SACK_PERM:
            options.append(_SACK_PERM)
        elif kind == OPT_TIMESTAMP:
            options.append(TcpOption(OPT_TIMESTAMP, struct.unpack_from("!II", data, i + 2)))
        elif kind == OPT_SACK:
            if length == 2 or (length - 2) % 8:
                raise WireError(f"SACK option at offset {i} has length {length}; "
                                f"it must be 2 + 8n for n >= 1 blocks")
            edges = struct.unpack_from(f"!{(length - 2) // 4}I", data, i + 2)
            options.append(TcpOption(OPT_SACK, tuple(zip(edges[0::2], edges[1::2]))))
        else:
            options.append(TcpOption(kind, bytes(data[i + 2:end])))
        i = end
    return tuple(options)


# -- segments and datagrams -------------------------------------------------------------------

def _segment_field_problem(seg: Segment) -> str:
    """Which header field of ``seg`` is out of range (for the error message)."""
    limits = (("src_port", 0xFFFF), ("dst_port", 0xFFFF), ("seq", 0xFFFFFFFF),
              ("ack", 0xFFFFFFFF), ("flags", 0xFFF), ("window", 0xFFFF), ("urg_ptr", 0xFFFF))
    for field, top in limits:
        value = getattr(seg, field)
        if not isinstance(value, int) or not 0 <= value <= top:
            return f"segment {field} {value!r} is not in 0..{top}"
    return "segment header fields cannot be encoded"


def encode_segment(seg: Segment, src_ip: int, dst_ip: int) -> bytes:
    """TCP header, options and payload (RFC 9293 3.1), the checksum computed over the IPv4
    pseudo-header of ``src_ip``, ``dst_ip``, protocol 6 and the segment length.

    Raises :class:`WireError` when a field is out of range for its wire width.
    """
    options = encode_options(seg.options) if seg.options else b""
    header_len = TCP_HEADER_LEN + len(options)
    flags = seg.flags
    if not 0 <= flags <= 0xFFF:
        raise WireError(_segment_field_problem(seg))
    offset_byte = (header_len << 2) | (flags >> 8)      # data offset in words, high nibble
    try:
        header = _TCP.pack(seg.src_port, seg.dst_port, seg.seq, seg.ack, offset_byte,
                           flags & 0xFF, seg.window, 0, seg.urg_ptr)
    except struct.error:
        raise WireError(_segment_field_problem(seg)) from None
    payload = seg.payload
    length = header_len + len(payload)
    if length > 0xFFFF:
        raise WireError(f"segment of {length} bytes does not fit the pseudo-header's 16-bit length")
    if not (0 <= src_ip <= 0xFFFFFFFF and 0 <= dst_ip <= 0xFFFFFFFF):
        raise WireError(f"address out of range: src {src_ip!r}, dst {dst_ip!r}")
    body = header + options + payload
    checksum = internet_checksum(body, _pseudo_header_sum(src_ip, dst_ip, length))
    return body[:16] + checksum.to_bytes(2, "big") + body[18:]


def encode_packet(pkt: Packet) -> bytes:
    """The IPv4 datagram (RFC 791 3.1) carrying ``pkt``: a 20-byte header (no IP options, DF
    as ``pkt.df``, never fragmented, protocol 6, header checksum) followed by the TCP segment.

    A packet damaged in transit carries its damaged bytes in ``pkt.wire``; those are returned
    as they are. Raises :class:`WireError` when a field is out of range for its wire width.
    """
    if pkt.wire is not None:
        return pkt.wire
    segment = encode_segment(pkt.segment, pkt.src, pkt.dst)
    total = IP_HEADER_LEN + len(segment)
    if total > 0xFFFF:
        raise WireError(f"datagram of {total} bytes exceeds the IPv4 maximum of 65535")
    frag = _IP_DF if pkt.df else 0
    try:
        header = _IP.pack(_VERSION_IHL, pkt.tos, total, pkt.ident, frag, pkt.ttl, IPPROTO_TCP,
                          0, pkt.src, pkt.dst)
    except struct.error:
        raise WireError(f"IP header field out of range: tos {pkt.tos!r}, ident {pkt.ident!r}, "
                        f"ttl {pkt.ttl!r}") from None
    checksum = internet_checksum(header)
    return header[:10] + checksum.to_bytes(2, "big") + header[12:] + segment


def decode_packet(data: bytes, uid: int = -1) -> Packet:
    """Parse an IPv4 datagram carrying TCP into a :class:`Packet` with the given ``uid``.

    Checksums are not checked (see :func:`verify`). Raises :class:`WireError` with the reason
    when the bytes are too short, not IPv4, have an IHL below 5 or IP options, a total length
    that differs from ``len(data)``, the reserved IP flag, fragmentation, a protocol other than
    TCP, a TCP data offset below 5 or past the end, or malformed TCP options.
    """
    n = len(data)
    if n < IP_HEADER_LEN:
        raise WireError(f"datagram too short for an IPv4 header: {n} bytes, need {IP_HEADER_LEN}")
    version_ihl, tos, total, ident, frag, ttl, proto, _, src, dst = _IP.unpack_from(data)
    version, ihl = version_ihl >> 4, version_ihl & 0x0F
    if version != 4:
        raise WireError(f"not IPv4: version field is {version}")
    if ihl < 5:
        raise WireError(f"IHL is {ihl}; the minimum is 5 (a 20-byte header)")
    if ihl > 5:
        raise WireError(f"IP options are not supported (IHL {ihl}, a {ihl * 4}-byte header)")
    if total != n:
        raise WireError(f"total length field is {total} but the datagram has {n} bytes")
    if frag & _IP_RESERVED:
        raise WireError("reserved IP flag bit is set (RFC 791 requires zero)")
    if frag & (_IP_MF | _IP_FRAG_OFFSET):
        raise WireError(f"fragments are not supported (MF={int(bool(frag & _IP_MF))}, "
                        f"offset={frag & _IP_FRAG_OFFSET})")
    if proto != IPPROTO_TCP:
        raise WireError(f"protocol {proto} is not TCP ({IPPROTO_TCP})")
    seg_len = n - IP_HEADER_LEN
    if seg_len < TCP_HEADER_LEN:
        raise WireError(f"TCP header truncated: {seg_len} bytes after the IP header, "
                        f"need {TCP_HEADER_LEN}")
    src_port, dst_port, seq, ack, offset_byte, control, window, _, urg_ptr = \
        _TCP.unpack_from(data, IP_HEADER_LEN)
    offset = offset_byte >> 4
    if offset < 5:
        raise WireError(f"TCP data offset is {offset}; the minimum is 5 (a 20-byte header)")
    header_end = IP_HEADER_LEN + offset * 4
    if header_end > n:
        raise WireError(f"TCP data offset {offset} ({offset * 4}-byte header) runs past the "
                        f"end of the {seg_len}-byte segment")
    options_start = IP_HEADER_LEN + TCP_HEADER_LEN
    try:
        options = decode_options(data[options_start:header_end]) if header_end > options_start else ()
    except WireError as e:
        raise WireError(f"bad TCP options: {e}") from None
    flags = ((offset_byte & 0x0F) << 8) | control
    segment = Segment(src_port, dst_port, seq, ack, flags, window, bytes(data[header_end:]),
                      options, urg_ptr)
    return Packet(uid, src, dst, segment, ttl, ident, tos, bool(frag & _IP_DF))


def verify(data: bytes) -> tuple[bool, bool]:
    """(IP header checksum correct, TCP checksum correct) for a datagram, as a receiver would
    check them (RFC 791 3.1, RFC 9293 3.1).

    The IP header length comes from IHL and the segment extent from the total length field.
    A checksum that cannot be checked because those fields point past the data (or leave less
    than a TCP header) counts as wrong. Never raises, whatever the bytes.
    """
    n = len(data)
    if n < IP_HEADER_LEN:
        return False, False
    ihl = (data[0] & 0x0F) * 4
    if ihl < IP_HEADER_LEN or ihl > n:
        return False, False
    ip_ok = internet_checksum(data[:ihl]) == 0
    total = (data[2] << 8) | data[3]
    if total > n or total - ihl < TCP_HEADER_LEN:
        return ip_ok, False
    src, dst = struct.unpack_from("!II", data, 12)
    pseudo = _pseudo_header_sum(src, dst, total - ihl)
    return ip_ok, internet_checksum(data[ihl:total], pseudo) == 0


# -- alterations on the wire ------------------------------------------------------------------

def corrupt(data: bytes, bit: int) -> bytes:
    """A copy of ``data`` with bit number ``bit`` inverted; bit 0 is the most significant bit
    of byte 0 (network bit order, RFC 791 Appendix B)."""
    if not 0 <= bit < len(data) * 8:
        raise WireError(f"bit {bit} is outside the {len(data)}-byte datagram")
    out = bytearray(data)
    out[bit >> 3] ^= 0x80 >> (bit & 7)
    return bytes(out)


def set_ttl(data: bytes, ttl: int) -> bytes:
    """A copy of the datagram with its TTL set to ``ttl`` and the IP header checksum updated,
    as a router forwarding it would (RFC 791 3.2; RFC 1812 5.3.1).

    The checksum is adjusted incrementally for the changed word (RFC 1624 eqn. 3), so a header
    that was already damaged stays detectably damaged; for an intact header the result equals a
    full recomputation. The TCP checksum does not cover the TTL and is left alone.
    """
    if len(data) < IP_HEADER_LEN:
        raise WireError(f"datagram too short for an IPv4 header: {len(data)} bytes")
    if not 0 <= ttl <= 255:
        raise WireError(f"TTL {ttl!r} is not in 0..255")
    old_word = (data[8] << 8) | data[9]              # TTL and protocol share a 16-bit word
    new_word = (ttl << 8) | data[9]
    old_checksum = (data[10] << 8) | data[11]
    s = (~old_checksum & 0xFFFF) + (~old_word & 0xFFFF) + new_word
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    out = bytearray(data)
    out[8] = ttl
    out[10:12] = (~s & 0xFFFF).to_bytes(2, "big")
    return bytes(out)
