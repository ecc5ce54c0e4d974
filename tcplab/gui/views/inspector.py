"""The packet inspector: every bit of the selected packet, and its life in the run.

For the selected packet (``context.selection.packet``) the dock shows

* a tree of the IPv4 header (RFC 791 3.1), the TCP header (RFC 9293 3.1) and each TCP option
  (RFC 9293 3.2, RFC 7323, RFC 2018), with relative sequence numbers, the window as scaled,
  and both checksums verified the way a receiver verifies them;
* a hex dump of the exact datagram: selecting a field in the tree highlights its bytes, and
  clicking a byte selects the field it belongs to;
* the packet's life from the trace: who sent it and why, each queue, hop, alteration, arrival
  and drop with its time, and what the receiver made of it.

The bytes come from :func:`tcplab.net.wire.encode_packet`. A packet changes on its way: each
router decrements the TTL (and so rewrites the IP checksum, RFC 791 3.2), and a link may flip a
bit (the damaged datagram is in ``Trace.extra`` of the ALTER row). The inspector rebuilds every
version the trace implies and lets the user pick one; a damaged version is shown first, because
that is what the receiver's checksum check saw.

Everything here reads the trace only (``trace.packets``, rows, ``trace.conns``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QFontMetrics, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel,
                               QPlainTextEdit, QSplitter, QStackedWidget, QTableWidget,
                               QTableWidgetItem, QTextEdit, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from tcplab.gui.theme import LIGHT, Theme
from tcplab.net.packet import (ACK, IPPROTO_TCP, OPT_EOL, OPT_MSS, OPT_NOP, OPT_SACK,
                               OPT_SACK_PERM, OPT_TIMESTAMP, OPT_WSCALE, SYN, URG, flags_str,
                               ip_str)
from tcplab.net.wire import encode_packet, internet_checksum, set_ttl, verify
from tcplab.sim.clock import fmt_time
from tcplab.trace.events import DropReason, EventKind, RecvOutcome, SendReason, TcpState
from tcplab.trace.narrate import Narrator

MASK = 0xFFFFFFFF
#: RFC 7323 2.3: a shift count above 14 is used as 14.
MAX_WSCALE = 14

#: The control bits of the TCP header, most significant first (RFC 9293 3.1; CWR and ECE from
#: RFC 3168 6.1), with what each one asks for.
TCP_FLAG_BITS = (
    (0x80, "CWR", "congestion window reduced (RFC 3168)"),
    (0x40, "ECE", "ECN echo (RFC 3168)"),
    (0x20, "URG", "urgent pointer field is significant"),
    (0x10, "ACK", "acknowledgment field is significant"),
    (0x08, "PSH", "push: deliver to the application promptly"),
    (0x04, "RST", "reset the connection"),
    (0x02, "SYN", "synchronize sequence numbers"),
    (0x01, "FIN", "no more data from the sender"),
)


# -- the dissection ----------------------------------------------------------------------------

@dataclass
class Field:
    """One line of the tree: a header field (or a group of them) and where it lies.

    ``start``/``end`` are byte offsets into the datagram, ``end`` exclusive: the bytes the hex
    dump highlights. ``status`` is ``"ok"`` or ``"bad"`` for verified values (checksums).
    """

    key: str
    name: str
    value: str
    start: int
    end: int
    note: str = ""
    status: str = ""
    children: list["Field"] = field(default_factory=list)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class SeqBases:
    """What turns absolute numbers into relative ones for the packet's sender.

    ``seq_base`` is the sender's ISS, ``ack_base`` the ISS of the other end (the sender's IRS),
    both None when unknown (RFC 9293 3.4.1). ``shift`` is the window scale the sender announced
    when both SYNs carried WSCALE (RFC 7323 2.2), else None.
    """

    seq_base: int | None = None
    ack_base: int | None = None
    shift: int | None = None


def _u16(data: bytes, i: int) -> int:
    return (data[i] << 8) | data[i + 1]


def _rel(value: int, base: int | None) -> str:
    return "" if base is None else f" (relative {(value - base) & MASK})"


def expected_ip_checksum(data: bytes, ihl_len: int) -> int:
    """The IP header checksum the header's other fields call for (RFC 791 3.1)."""
    header = bytearray(data[:ihl_len])
    header[10:12] = b"\0\0"
    return internet_checksum(bytes(header))


def expected_tcp_checksum(data: bytes, ihl_len: int, end: int) -> int:
    """The TCP checksum over the pseudo-header and segment ``data[ihl_len:end]`` with the
    checksum field taken as zero (RFC 9293 3.1)."""
    seg = bytearray(data[ihl_len:end])
    seg[16:18] = b"\0\0"
    src, dst = struct.unpack_from("!II", data, 12)
    pseudo = (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + IPPROTO_TCP + len(seg)
    return internet_checksum(bytes(seg), pseudo)


def payload_preview(payload: bytes, limit: int | None = None) -> str:
    """The payload as text: printable ASCII as itself, every other byte as a dot."""
    chunk = payload if limit is None else payload[:limit]
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
    return text + ("…" if limit is not None and len(payload) > limit else "")


def dissect(data: bytes, bases: SeqBases = SeqBases()) -> list[Field]:
    """The field tree of an IPv4 datagram carrying TCP, as bytes on the wire.

    Tolerant of damage (a link may have flipped any bit): a length field that points past the
    data is reported and the data's own length used instead, so every byte still lands in a
    field. Checksums are recomputed and compared, as a receiver does (RFC 791 3.1, RFC 9293 3.1).
    """
    n = len(data)
    if n < 20:
        return [Field("ip", "Truncated datagram", f"{n} bytes; an IPv4 header needs 20", 0, n)]
    ip_ok, tcp_ok = verify(data)
    version, ihl = data[0] >> 4, data[0] & 0x0F
    ihl_len = ihl * 4 if 20 <= ihl * 4 <= n else 20
    total = _u16(data, 2)
    end = total if ihl_len + 20 <= total <= n else n
    frag = _u16(data, 6)
    proto = data[9]
    src, dst = struct.unpack_from("!II", data, 12)

    ip = Field("ip", "IPv4 header", f"{ip_str(src)} → {ip_str(dst)}", 0, ihl_len,
               "The IPv4 header (RFC 791 3.1): how routers carry the datagram to its destination.")
    add = ip.children.append
    add(Field("ip.version", "Version", f"{version}" + ("" if version == 4 else " (not IPv4!)"),
              0, 1, "High nibble of byte 0: 4 for IPv4."))
    add(Field("ip.ihl", "Header length (IHL)", f"{ihl} words = {ihl * 4} bytes", 0, 1,
              "Low nibble of byte 0: header length in 32-bit words; 5 when there are no IP options."))
    add(Field("ip.tos", "Type of service", f"0x{data[1]:02x}", 1, 2,
              "Precedence and service hints (today DSCP and ECN, RFC 2474, RFC 3168)."))
    total_note = "" if total == n else f" (but the datagram has {n})"
    add(Field("ip.len", "Total length", f"{total} bytes{total_note}", 2, 4,
              "Header plus data, in bytes (RFC 791 3.1).", "" if total == n else "bad"))
    add(Field("ip.id", "Identification", f"0x{_u16(data, 4):04x} ({_u16(data, 4)})", 4, 6,
              "Numbers the sender's datagrams, to reassemble fragments (RFC 791 3.1)."))
    bits = []
    if frag & 0x8000:
        bits.append("reserved bit set!")
    if frag & 0x4000:
        bits.append("Don't fragment")
    if frag & 0x2000:
        bits.append("More fragments")
    flags = Field("ip.flags", "Flags", f"0x{frag >> 13:x}" + (f": {', '.join(bits)}" if bits else ""),
                  6, 7, "Three bits at the top of bytes 6-7 (RFC 791 3.1).")
    flags.children += [
        Field("ip.flags.rb", "Reserved", "1 (must be zero!)" if frag & 0x8000 else "0", 6, 7,
              "Must be zero (RFC 791 3.1).", "bad" if frag & 0x8000 else ""),
        Field("ip.flags.df", "Don't fragment (DF)", "1: set" if frag & 0x4000 else "0: not set",
              6, 7, "Set: a router must drop the datagram rather than fragment it (RFC 791 3.1; "
              "used by path MTU discovery, RFC 1191)."),
        Field("ip.flags.mf", "More fragments (MF)", "1: set" if frag & 0x2000 else "0: not set",
              6, 7, "Set on every fragment but the last (RFC 791 3.2)."),
    ]
    add(flags)
    add(Field("ip.frag", "Fragment offset", f"{frag & 0x1FFF}", 6, 8,
              "Where this fragment's data belongs, in 8-byte units; 0 when not fragmented."))
    add(Field("ip.ttl", "Time to live", f"{data[8]}", 8, 9,
              "Each router decrements it and drops the datagram at 0, so it cannot loop forever "
              "(RFC 791 3.2, RFC 1812 5.3.1)."))
    add(Field("ip.proto", "Protocol", f"{proto}" + (" (TCP)" if proto == IPPROTO_TCP else " (not TCP!)"),
              9, 10, "Which protocol the data belongs to: 6 is TCP."))
    got = _u16(data, 10)
    if ip_ok:
        ip_check = f"0x{got:04x} · correct"
    else:
        ip_check = f"0x{got:04x} · wrong (should be 0x{expected_ip_checksum(data, ihl_len):04x})"
    add(Field("ip.checksum", "Header checksum", ip_check, 10, 12,
              "Internet checksum of the header only (RFC 791 3.1, RFC 1071); routers recompute it "
              "after changing the TTL and drop a datagram whose header fails it.",
              "ok" if ip_ok else "bad"))
    add(Field("ip.src", "Source address", ip_str(src), 12, 16))
    add(Field("ip.dst", "Destination address", ip_str(dst), 16, 20))
    fields = [ip]
    if ihl_len > 20:
        ip.children.append(Field("ip.options", "IP options", f"{ihl_len - 20} bytes", 20, ihl_len))
    if n < ihl_len + 20:
        fields.append(Field("tcp", "Truncated TCP header", f"{n - ihl_len} bytes; it needs 20",
                            ihl_len, n))
        return fields

    o = ihl_len
    sport, dport, seq, ack, off_byte, control, window, checksum, urg = \
        struct.unpack_from("!HHIIBBHHH", data, o)
    flag_word = ((off_byte & 0x0F) << 8) | control
    doff = off_byte >> 4
    hdr_len = doff * 4
    hdr_ok = 20 <= hdr_len <= end - o
    hdr_end = o + hdr_len if hdr_ok else o + 20
    payload = data[hdr_end:end]
    summary = f"{sport} → {dport} {flags_str(control)} seq={seq}"
    if control & ACK:
        summary += f" ack={ack}"
    if payload:
        summary += f" len={len(payload)}"
    tcp = Field("tcp", "TCP segment", summary, o, end,
                "The TCP header (RFC 9293 3.1) and the data it carries.")
    add = tcp.children.append
    add(Field("tcp.sport", "Source port", f"{sport}", o, o + 2))
    add(Field("tcp.dport", "Destination port", f"{dport}", o + 2, o + 4))
    add(Field("tcp.seq", "Sequence number", f"{seq}{_rel(seq, bases.seq_base)}", o + 4, o + 8,
              "The number of the first data byte (or of the SYN itself); relative to the "
              "sender's initial sequence number, so the SYN is 0 and the first data byte 1 "
              "(RFC 9293 3.4)."))
    if control & ACK:
        ack_text = f"{ack}{_rel(ack, bases.ack_base)}"
    else:
        ack_text = f"{ack} (ACK flag clear: not used)"
    add(Field("tcp.ack", "Acknowledgment number", ack_text, o + 8, o + 12,
              "The next sequence number the sender expects from the other end: everything "
              "before it arrived (cumulative, RFC 9293 3.4)."))
    add(Field("tcp.doff", "Data offset",
              f"{doff} words = {hdr_len} bytes" + ("" if hdr_ok else " (invalid!)"), o + 12, o + 13,
              "Header length in 32-bit words, options included (RFC 9293 3.1).",
              "" if hdr_ok else "bad"))
    add(Field("tcp.reserved", "Reserved", f"{flag_word >> 8:x}", o + 12, o + 13,
              "Four bits reserved for future use; senders set them to zero (RFC 9293 3.1)."))
    names = [name for bit, name, _ in TCP_FLAG_BITS if control & bit]
    flags = Field("tcp.flags", "Flags", f"0x{flag_word:03x}: {' '.join(names) or 'none'}",
                  o + 13, o + 14, "The control bits (RFC 9293 3.1).")
    for bit, name, meaning in TCP_FLAG_BITS:
        flags.children.append(Field(f"tcp.flags.{name.lower()}", f"{name} ({meaning})",
                                    "1: set" if control & bit else "0: not set", o + 13, o + 14))
    add(flags)
    if control & SYN:
        win_text = f"{window} bytes (a SYN's window is never scaled, RFC 7323 2.2)"
    elif bases.shift:
        win_text = (f"{window} × 2^{bases.shift} = {window << bases.shift} bytes (shift "
                    f"{bases.shift} agreed in both SYNs, RFC 7323 2.2)")
    elif bases.shift == 0:
        win_text = f"{window} bytes (scaling agreed with shift 0)"
    else:
        win_text = f"{window} bytes (no window scaling agreed)"
    add(Field("tcp.window", "Window", win_text, o + 14, o + 16,
              "How many bytes, from the acknowledgment number on, the sender can still receive "
              "(RFC 9293 3.8.6); scaled by the agreed shift outside SYNs (RFC 7323 2.2)."))
    if tcp_ok:
        tcp_check = f"0x{checksum:04x} · correct"
    else:
        tcp_check = f"0x{checksum:04x} · wrong (should be 0x{expected_tcp_checksum(data, o, end):04x})"
    add(Field("tcp.checksum", "Checksum", tcp_check, o + 16, o + 18,
              "Internet checksum over a pseudo-header (addresses, protocol, length), the TCP "
              "header and the data (RFC 9293 3.1); a receiver drops a segment that fails it.",
              "ok" if tcp_ok else "bad"))
    add(Field("tcp.urg", "Urgent pointer",
              f"{urg}" + ("" if control & URG else " (URG clear: not used)"), o + 18, o + 20,
              "With URG: where urgent data ends (RFC 9293 3.8.5)."))
    if hdr_end > o + 20:
        add(_options(data, o + 20, hdr_end, bases))
    if payload:
        tcp.children.append(Field("tcp.payload", f"Data ({len(payload)} bytes)",
                                  payload_preview(payload, 48), hdr_end, end,
                                  payload_preview(payload, 512)))
    fields.append(tcp)
    if end < n:
        fields.append(Field("trailer", "Bytes past the total length", f"{n - end} bytes", end, n,
                            "", "bad"))
    return fields


def _options(data: bytes, start: int, end: int, bases: SeqBases) -> Field:
    """The TCP options area ``data[start:end]`` (RFC 9293 3.2), each option a child with its
    bytes. Malformed options end the parse with a field covering the rest."""
    group = Field("tcp.options", "Options", f"{end - start} bytes", start, end,
                  "Options follow the fixed 20-byte header, padded to a multiple of 4 bytes "
                  "(RFC 9293 3.2).")
    add = group.children.append
    names = []
    i, k = start, 0
    while i < end:
        kind = data[i]
        key = f"tcp.opt{k}"
        k += 1
        if kind == OPT_EOL:
            add(Field(key, "End of option list", "", i, i + 1, "Kind 0: no options follow."))
            if i + 1 < end:
                add(Field(f"tcp.opt{k}", "Padding", f"{end - i - 1} bytes", i + 1, end,
                          "Zero bytes up to the header length (RFC 9293 3.2)."))
            break
        if kind == OPT_NOP:
            add(Field(key, "No-operation (NOP)", "", i, i + 1,
                      "Kind 1: a filler that aligns the next option on a word boundary "
                      "(RFC 9293 3.2)."))
            i += 1
            continue
        if i + 1 >= end or data[i + 1] < 2 or i + data[i + 1] > end:
            add(Field(key, f"Malformed option (kind {kind})", f"{end - i} bytes", i, end,
                      "Its length byte is missing or points past the header.", "bad"))
            break
        length = data[i + 1]
        body = data[i + 2:i + length]
        if kind == OPT_MSS and length == 4:
            mss = _u16(data, i + 2)
            add(Field(key, "Maximum segment size (MSS)", f"{mss} bytes", i, i + 4,
                      "The largest segment the sender of this SYN is willing to receive "
                      "(RFC 9293 3.7.1)."))
            names.append(f"MSS {mss}")
        elif kind == OPT_WSCALE and length == 3:
            shift = data[i + 2]
            capped = f" (used as {MAX_WSCALE}, RFC 7323 2.3)" if shift > MAX_WSCALE else ""
            add(Field(key, "Window scale", f"shift {shift}: windows × {1 << min(shift, MAX_WSCALE)}"
                      f"{capped}", i, i + 3,
                      "The sender will shift its window field left by this count once both "
                      "SYNs carried the option (RFC 7323 2.2)."))
            names.append(f"WS {shift}")
        elif kind == OPT_SACK_PERM and length == 2:
            add(Field(key, "SACK permitted", "selective acknowledgments offered", i, i + 2,
                      "The sender can receive SACK options (RFC 2018 2)."))
            names.append("SACK_PERM")
        elif kind == OPT_TIMESTAMP and length == 10:
            tsval, tsecr = struct.unpack_from("!II", data, i + 2)
            ts = Field(key, "Timestamps", f"TSval {tsval}, TSecr {tsecr}", i, i + 10,
                       "For RTT measurement and protection against wrapped sequence numbers "
                       "(RFC 7323 3, 4, 5).")
            ts.children += [
                Field(key + ".tsval", "TSval", f"{tsval}", i + 2, i + 6,
                      "The sender's timestamp clock when it sent this segment."),
                Field(key + ".tsecr", "TSecr", f"{tsecr}", i + 6, i + 10,
                      "Echo of the latest TSval received from the other end (RFC 7323 3.2)."),
            ]
            add(ts)
            names.append("TS")
        elif kind == OPT_SACK and length >= 10 and (length - 2) % 8 == 0:
            count = (length - 2) // 8
            sack = Field(key, "SACK", f"{count} block{'s' if count > 1 else ''}", i, i + length,
                         "Blocks of data received beyond the acknowledgment number, each from "
                         "its left edge to just before its right edge (RFC 2018 3).")
            for b in range(count):
                p = i + 2 + 8 * b
                left, right = struct.unpack_from("!II", data, p)
                rel = ""
                if bases.ack_base is not None:
                    rel = f" (relative {(left - bases.ack_base) & MASK}-{(right - bases.ack_base) & MASK})"
                block = Field(f"{key}.b{b}", f"Block {b + 1}", f"{left}-{right}{rel}", p, p + 8,
                              f"{(right - left) & MASK} bytes the sender holds.")
                block.children += [
                    Field(f"{key}.b{b}.left", "Left edge", f"{left}{_rel(left, bases.ack_base)}", p, p + 4,
                          "First sequence number of the block."),
                    Field(f"{key}.b{b}.right", "Right edge", f"{right}{_rel(right, bases.ack_base)}",
                          p + 4, p + 8, "The sequence number just after the block."),
                ]
                sack.children.append(block)
            add(sack)
            names.append(f"SACK×{count}")
        else:
            add(Field(key, f"Option kind {kind}", f"{length} bytes: {bytes(body).hex()}", i, i + length,
                      "An option this lab does not know; receivers ignore unknown options "
                      "(RFC 9293 3.2).", "bad" if kind in (OPT_MSS, OPT_WSCALE, OPT_SACK_PERM,
                                                           OPT_TIMESTAMP, OPT_SACK) else ""))
            names.append(f"kind {kind}")
        i += length
    if names:
        group.value = f"{end - start} bytes: {', '.join(names)}"
    return group


# -- hex dump ----------------------------------------------------------------------------------

def hex_columns(j: int) -> int:
    """Character column of byte ``j`` of a line in the hex area (two spaces after the 4-digit
    offset; an extra space after the eighth byte)."""
    return 6 + 3 * j + (1 if j >= 8 else 0)


def hex_dump(data: bytes, per_line: int = 16) -> str:
    """Offsets, bytes in hex and the same bytes as ASCII (dots for the rest), ``per_line``
    bytes to a line."""
    lines = []
    ascii_col = hex_columns(per_line - 1) + 4
    for off in range(0, len(data), per_line):
        chunk = data[off:off + per_line]
        line = f"{off:04x}  "
        for j, b in enumerate(chunk):
            if j == 8:
                line += " "
            line += f"{b:02x} "
        line = line.ljust(ascii_col) + payload_preview(chunk)
        lines.append(line)
    return "\n".join(lines)


# -- what the trace knows about a packet -------------------------------------------------------

def _sent_row(trace, m: np.ndarray, uid: int) -> int | None:
    """Index of the SEG_SENT row of packet ``uid`` (for a link's duplicate, of its original)."""
    seen = set()
    while uid >= 0 and uid not in seen:
        seen.add(uid)
        rows = np.flatnonzero((m[:, 4] == uid) & (m[:, 1] == int(EventKind.SEG_SENT)))
        if len(rows):
            return int(rows[0])
        uid = getattr(trace.packets[uid], "dup_of", -1)
    return None


def seq_bases(trace, uid: int, m: np.ndarray | None = None) -> SeqBases:
    """Relative-number bases and the agreed window shift for packet ``uid``'s sender.

    The shift: ConnInfo does not record it, so it comes from the two SYN segments of the same
    address/port pair. Both carry WSCALE when scaling was agreed; the sender's own count then
    applies to the windows it sends (RFC 7323 2.2, 2.3).
    """
    m = trace.matrix() if m is None else m
    pkt = trace.packets[uid]
    seg = pkt.segment
    row = _sent_row(trace, m, uid)
    seq_base = ack_base = None
    if row is not None and m[row, 3] >= 0:
        info = trace.conns[int(m[row, 3])]
        seq_base, ack_base = info.iss, info.irs
    mine = (pkt.src, seg.src_port, pkt.dst, seg.dst_port)
    theirs = (pkt.dst, seg.dst_port, pkt.src, seg.src_port)
    own_shift = peer_shift = None
    sent = m[(m[:, 1] == int(EventKind.SEG_SENT)) & ((m[:, 8] & SYN) != 0)]
    for r in sent:
        p = trace.packets[int(r[4])]
        key = (p.src, p.segment.src_port, p.dst, p.segment.dst_port)
        ws = p.segment.option(OPT_WSCALE)
        if key == mine and own_shift is None:
            own_shift = ws
        elif key == theirs and peer_shift is None:
            peer_shift = ws
            if seq_base is not None and ack_base is None:
                ack_base = p.segment.seq
    shift = None
    if own_shift is not None and peer_shift is not None:
        shift = min(int(own_shift), MAX_WSCALE)
    return SeqBases(seq_base, ack_base, shift)


def packet_versions(trace, uid: int, m: np.ndarray | None = None) -> list[tuple[str, bytes]]:
    """The datagram as it was on each stretch of its way, deduplicated, in order.

    Starts with the bytes as sent; a HOP row with a lower TTL is the copy a router forwarded
    (TTL and IP checksum rewritten, RFC 1812 5.3.1), and an ALTER row that corrupted the packet
    holds the damaged bytes in ``Trace.extra``.
    """
    m = trace.matrix() if m is None else m
    nodes, links = trace.nodes, trace.links
    pkt = trace.packets[uid]
    current = encode_packet(pkt)
    row = _sent_row(trace, m, uid)
    if getattr(pkt, "dup_of", -1) >= 0:
        made = np.flatnonzero((m[:, 4] == uid) & (m[:, 1] == int(EventKind.ALTER)) & (m[:, 7] == 0))
        where = f"on link {links[int(m[made[0], 5])].name}" if len(made) else "by a link"
        first = f"duplicate of #{pkt.dup_of} made {where}"
    elif row is not None:
        first = f"as sent by {nodes[int(m[row, 2])]}"
    else:
        first = "as sent"
    versions = [(f"{first} (TTL {current[8]})", current)]
    for i in np.flatnonzero(m[:, 4] == uid):
        r = m[i]
        kind = int(r[1])
        if kind == EventKind.HOP and int(r[7]) != current[8] and 0 <= int(r[7]) <= 255:
            current = set_ttl(current, int(r[7]))
            versions.append((f"forwarded by {nodes[int(r[2])]} onto {links[int(r[5])].name} "
                             f"(TTL {current[8]})", current))
        elif kind == EventKind.ALTER and int(r[7]) == 1:
            damaged = trace.extra.get(int(i))
            if isinstance(damaged, (bytes, bytearray)):
                what = describe_damage(current, bytes(damaged))
                current = bytes(damaged)
                versions.append((f"damaged on link {links[int(r[5])].name}: {what}", current))
    return versions


def innermost_field(fields: list[Field], byte: int) -> Field | None:
    """The smallest field of the tree that holds byte ``byte``."""
    best = None
    for top in fields:
        for f in top.walk():
            if f.start <= byte < f.end and (best is None or f.end - f.start <= best.end - best.start):
                best = f
    return best


def describe_damage(before: bytes, after: bytes) -> str:
    """Which bits a link flipped, in words: ``bit 33 flipped (byte 4, Identification)``. Bits
    are numbered from the most significant bit of byte 0 (RFC 791 Appendix B)."""
    if len(before) != len(after):
        return f"length changed from {len(before)} to {len(after)} bytes"
    changed = [j for j in range(len(before)) if before[j] != after[j]]
    if not changed:
        return "no byte changed"
    fields = dissect(before)
    parts = []
    for j in changed[:3]:
        diff = before[j] ^ after[j]
        bits = [j * 8 + (7 - b) for b in range(7, -1, -1) if diff >> b & 1]
        f = innermost_field(fields, j)
        where = f"byte {j}" + (f", {f.name}" if f is not None else "")
        label = "bit" if len(bits) == 1 else "bits"
        parts.append(f"{label} {', '.join(map(str, bits))} flipped ({where})")
    more = f" and {len(changed) - 3} more bytes" if len(changed) > 3 else ""
    return "; ".join(parts) + more


def _outcome_text(value: int) -> str:
    return value.name.lower().replace("_", " ")


def life_event(trace, r) -> tuple[str, str]:
    """(where, what) columns of the inspector's life table for a row ``r`` of the matrix."""
    kind = int(r[1])
    node = int(r[2])
    nodes, links = trace.nodes, trace.links
    at = nodes[node] if 0 <= node < len(nodes) else ""
    if kind == EventKind.SEG_SENT:
        return at, f"sent: {_outcome_text(SendReason(int(r[8]) >> 16))}"
    if kind == EventKind.SEG_RECV:
        return at, f"received: {_outcome_text(RecvOutcome(int(r[8]) >> 16))}"
    if kind == EventKind.HOP:
        link = links[int(r[5])]
        far = link.b if int(r[8]) == 0 else link.a
        return f"{at} → {nodes[far]}", f"on link {link.name}"
    if kind == EventKind.QUEUE:
        return at, f"queued ({int(r[6])} waiting)"
    if kind == EventKind.ARRIVE:
        return at, "arrived"
    if kind == EventKind.DROP:
        link = int(r[6])
        where = links[link].name if link >= 0 else at
        return where, f"dropped: {_outcome_text(DropReason(int(r[5])))}"
    if kind == EventKind.ALTER:
        what = {0: "duplicated", 1: "corrupted", 2: "held back"}.get(int(r[7]), "altered")
        return links[int(r[5])].name, what
    if kind == EventKind.STATE:
        return at, f"state: {TcpState(int(r[6])).label}"
    if kind == EventKind.USER:
        return at, "your action"
    if kind == EventKind.DELIVER:
        return at, "data to the application"
    return at, EventKind(kind).name.lower()


def life_rows(m: np.ndarray, uid: int, start: int = 0) -> np.ndarray:
    """Indices (offset by ``start``) of the rows about packet ``uid`` in matrix ``m``: its own
    rows, the state changes it caused, and the ALTER row that made a copy of it."""
    mask = m[:, 4] == uid
    mask |= (m[:, 1] == int(EventKind.STATE)) & (m[:, 7] == uid)
    mask |= (m[:, 1] == int(EventKind.ALTER)) & (m[:, 6] == uid) & (m[:, 7] == 0) & (m[:, 4] != uid)
    return np.flatnonzero(mask) + start


# -- the widget --------------------------------------------------------------------------------

def _mix(a: QColor, b: QColor, f: float) -> QColor:
    """``a`` moved a fraction ``f`` of the way towards ``b``."""
    return QColor(round(a.red() + (b.red() - a.red()) * f), round(a.green() + (b.green() - a.green()) * f),
                  round(a.blue() + (b.blue() - a.blue()) * f))


class _Splitter(QSplitter):
    """A splitter that says when its size changed."""

    resized = Signal()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.resized.emit()


class _Tree(QTreeWidget):
    """The field tree; says when its size changed (to share the width among its columns)."""

    resized = Signal()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.resized.emit()


class _HexView(QPlainTextEdit):
    """The hex dump: read-only, monospaced, no wrapping. Says when it is resized and where the
    mouse released a click (as a text cursor)."""

    resized = Signal()
    clicked = Signal(QTextCursor)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse | Qt.TextSelectableByKeyboard)
        self.setUndoRedoEnabled(False)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.resized.emit()

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        if event.button() == Qt.LeftButton:
            self.clicked.emit(self.cursorForPosition(event.position().toPoint()))

    def sizeHint(self) -> QSize:
        fm = self.fontMetrics()
        return QSize(fm.horizontalAdvance("0" * 74) + 24, fm.height() * 6)


class PacketInspector(QWidget):
    """The "Packet" dock: fields, bytes and life of the selected packet.

    Public state for scripts and tests: ``uid`` (packet shown or None), ``versions`` (label,
    bytes) pairs, ``data`` (the bytes shown), ``fields`` (key -> :class:`Field`), ``highlight``
    (the byte range ``(start, end)`` marked in the hex dump, or None) and ``life`` (trace rows
    listed). ``show_packet(uid)``, ``select_field(key)`` and ``set_version(i)`` drive it.
    """

    title = "Packet"
    SOURCE = "inspector"

    def __init__(self, context, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.theme: Theme = LIGHT
        self.uid: int | None = None
        self.versions: list[tuple[str, bytes]] = []
        self.version = 0
        self.data = b""
        self.fields: dict[str, Field] = {}
        self.highlight: tuple[int, int] | None = None
        self.life: list[int] = []
        self._items: dict[str, QTreeWidgetItem] = {}
        self._per_line = 16
        self._narrator: Narrator | None = None
        self._bases = SeqBases()
        self._highlight_fmt = QTextCharFormat()
        self._build()
        self.set_theme(LIGHT)
        context.follow(self)
        if context.trace is not None and context.selection.packet is not None:
            self.show_packet(context.selection.packet)

    # -- construction ----------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.setSpacing(4)
        self.stack = QStackedWidget(self)
        outer.addWidget(self.stack)

        self.placeholder = QLabel("Select a packet on the canvas, in the ladder or in the "
                                  "narration log to see its bytes and its journey.", self)
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.stack.addWidget(self.placeholder)

        page = QWidget(self)
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        top = QHBoxLayout()
        self.summary = QLabel(page)
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setWordWrap(True)
        top.addWidget(self.summary, 1)
        self.version_box = QComboBox(page)
        self.version_box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.version_box.setMinimumContentsLength(26)
        self.version_box.currentIndexChanged.connect(self._on_version_box)
        top.addWidget(self.version_box)
        lay.addLayout(top)
        self.damage_note = QLabel(page)
        self.damage_note.setWordWrap(True)
        self.damage_note.setVisible(False)
        lay.addWidget(self.damage_note)

        self.tree = _Tree(page)
        self.tree.resized.connect(self._fit_tree)
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Field", "Value", "Bytes"])
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.Interactive)
        self.tree.header().setSectionResizeMode(1, QHeaderView.Stretch)
        self.tree.header().setSectionResizeMode(2, QHeaderView.ResizeToContents)
        self.tree.currentItemChanged.connect(self._on_tree_item)

        self.hex = _HexView(page)
        self.hex.resized.connect(self._fit_hex)
        self.hex.clicked.connect(self._on_hex_clicked)
        self.legend = QLabel(page)
        self.legend.setTextFormat(Qt.RichText)
        hex_box = QWidget(page)
        hl = QVBoxLayout(hex_box)
        hl.setContentsMargins(0, 0, 0, 0)
        hl.setSpacing(2)
        hl.addWidget(self.legend)
        hl.addWidget(self.hex, 1)

        self.life_table = QTableWidget(0, 4, page)
        self.life_table.setHorizontalHeaderLabels(["Time", "Where", "Event", "What happened"])
        self.life_table.verticalHeader().setVisible(False)
        self.life_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.life_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.life_table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.life_table.setWordWrap(False)
        self.life_table.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)
        hh = self.life_table.horizontalHeader()
        for col in range(3):
            hh.setSectionResizeMode(col, QHeaderView.ResizeToContents)
        hh.setSectionResizeMode(3, QHeaderView.Stretch)
        self.life_table.cellClicked.connect(self._on_life_clicked)

        self.upper = _Splitter(Qt.Horizontal, page)
        self.upper.addWidget(self.tree)
        self.upper.addWidget(hex_box)
        self.upper.setStretchFactor(0, 1)
        self.upper.setStretchFactor(1, 0)
        self._auto_split = True
        self.upper.splitterMoved.connect(self._on_splitter_moved)
        self.upper.resized.connect(self._split_hex)
        self.split = _Splitter(Qt.Vertical, page)
        self.split.addWidget(self.upper)
        self.split.addWidget(self.life_table)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 0)
        self.split.splitterMoved.connect(self._on_splitter_moved)
        self.split.resized.connect(self._split_life)
        lay.addWidget(self.split, 1)
        self.stack.addWidget(page)
        self._apply_fonts()

    def _apply_fonts(self) -> None:
        """The hex dump uses a fixed-pitch font of the widget's size (at least 9 pt), so a
        presenter mode that scales the widget font scales the dump with it."""
        mono = QFontDatabase.systemFont(QFontDatabase.FixedFont)
        mono.setStyleHint(QFont.Monospace)
        mono.setPointSizeF(max(9.0, self.font().pointSizeF()))
        self.hex.setFont(mono)
        fm = self.fontMetrics()
        self.tree.header().setMinimumSectionSize(fm.horizontalAdvance("Value") + 16)
        self.life_table.verticalHeader().setDefaultSectionSize(fm.height() + 8)
        self._fit_tree()
        self._split_hex()

    def _fit_tree(self) -> None:
        """The Field column as wide as its longest usual name, but never more than 42 % of the
        tree, so the values keep room in a narrow dock."""
        fm = self.tree.fontMetrics()
        ideal = fm.horizontalAdvance("Acknowledgment number") + 3 * self.tree.indentation() + 8
        width = self.tree.viewport().width()
        self.tree.header().resizeSection(0, max(fm.horizontalAdvance("Field") + 16,
                                                min(ideal, int(width * 0.42))))

    def _on_splitter_moved(self, _pos: int, _index: int) -> None:
        self._auto_split = False

    def _split_hex(self) -> None:
        """Until the user drags the divider: the hex pane gets the width of a 16-byte dump when
        the tree keeps at least half of the room, else that of an 8-byte dump."""
        if not self._auto_split:
            return
        total = self.upper.width()
        fm = QFontMetrics(self.hex.font())
        extra = 2 * self.hex.document().documentMargin() + 2 * self.hex.frameWidth() + \
            self.hex.verticalScrollBar().sizeHint().width() + 2 * fm.averageCharWidth()
        wide = fm.horizontalAdvance("0" * (hex_columns(15) + 4 + 16)) + extra
        narrow = fm.horizontalAdvance("0" * (hex_columns(7) + 4 + 8)) + extra
        hex_w = wide if total - wide >= total / 2 else narrow
        self.upper.blockSignals(True)
        self.upper.setSizes([max(1, total - hex_w), hex_w])
        self.upper.blockSignals(False)

    def _split_life(self) -> None:
        """Until the user drags a divider: the life table as tall as its rows need, between
        three rows and 40 % of the height."""
        if not self._auto_split:
            return
        total = self.split.height()
        row = self.life_table.verticalHeader().defaultSectionSize()
        head = self.life_table.horizontalHeader().height()
        need = head + row * max(3, len(self.life)) + 2 * self.life_table.frameWidth() + 2
        life_h = min(need, int(total * 0.4))
        self.split.blockSignals(True)
        self.split.setSizes([max(1, total - life_h), life_h])
        self.split.blockSignals(False)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.FontChange and hasattr(self, "hex"):
            self._apply_fonts()
            self._refresh()
        super().changeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(900, 520)

    # -- theme -----------------------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        """Colours of the layer tints, the highlight and the verified values."""
        self.theme = theme
        text, base = QColor(theme.text), QColor(theme.base)
        self._dim = _mix(text, base, 0.55)
        self._layer_colors = {"ip": _mix(base, QColor(theme.syn), 0.16),
                              "tcp": _mix(base, QColor(theme.data), 0.16),
                              "opt": _mix(base, QColor(theme.fin), 0.18),
                              "data": base}
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(theme.link_selected))
        fmt.setForeground(QColor("#ffffff"))
        self._highlight_fmt = fmt
        chip = ("<span style='background:{bg}; color:{fg}'>&nbsp;{name}&nbsp;</span>")
        self.legend.setText("&nbsp;".join(chip.format(bg=self._layer_colors[k].name(), fg=theme.text, name=n)
                                          for k, n in (("ip", "IPv4 header"), ("tcp", "TCP header"),
                                                       ("opt", "TCP options"), ("data", "data"))))
        self._refresh()

    def _refresh(self) -> None:
        """Redraw everything for the shown packet (after a theme or font change), keeping the
        selected field."""
        if self.uid is None:
            return
        key = self.current_field()
        self._fill_tree()
        self._render_hex()
        if key in self._items:
            self.select_field(key)
        self._fill_life()
        self._update_summary()

    # -- context signals -------------------------------------------------------------------------
    def _on_reset(self) -> None:
        self._narrator = None
        self.show_packet(None)

    def _on_advanced(self, first: int, end: int) -> None:
        """New rows: only the ones about the shown packet matter (its later hops, its fate,
        a link damaging it). O(batch)."""
        if self.uid is None or self.context.trace is None:
            return
        trace = self.context.trace
        m = trace.matrix(first, end)
        new = life_rows(m, self.uid, first)
        if np.any((m[:, 1] == int(EventKind.SEG_SENT)) & ((m[:, 8] & SYN) != 0)):
            # a SYN of the other end may settle the relative numbers and the window shift
            bases = seq_bases(trace, self.uid)
            if bases != self._bases:
                self._bases = bases
                key = self.current_field()
                self._fill_tree()
                self._paint_hex()
                if key in self._items:
                    self.select_field(key)
        if not len(new):
            return
        damaged_or_forwarded = np.any(((m[:, 1] == int(EventKind.ALTER)) & (m[:, 7] == 1)
                                       | (m[:, 1] == int(EventKind.HOP))) & (m[:, 4] == self.uid))
        self.life.extend(int(i) for i in new)
        if damaged_or_forwarded:
            label = self.versions[self.version][0] if self.versions else ""
            self.versions = packet_versions(trace, self.uid)
            self._fill_versions(label)
        self._fill_life()
        self._update_summary()

    def _on_cursor(self, t: int) -> None:
        if self.uid is not None:
            self._color_life()

    def _on_selection(self, sel) -> None:
        if sel.source == self.SOURCE:
            return
        if sel.packet != self.uid:
            self.show_packet(sel.packet)

    # -- public ----------------------------------------------------------------------------------
    def show_packet(self, uid: int | None) -> None:
        """Inspect packet ``uid`` (None: nothing)."""
        trace = self.context.trace
        if uid is None or trace is None or not 0 <= uid < len(trace.packets):
            self.uid = None
            self.versions, self.data, self.fields, self.life = [], b"", {}, []
            self.highlight = None
            self.tree.clear()
            self._items = {}
            self.hex.setPlainText("")
            self.life_table.setRowCount(0)
            self.stack.setCurrentIndex(0)
            return
        self.uid = uid
        m = trace.matrix()
        self._bases = seq_bases(trace, uid, m)
        self.versions = packet_versions(trace, uid, m)
        self.life = [int(i) for i in life_rows(m, uid)]
        self.highlight = None
        self._fill_versions(None)
        self._fill_life()
        self._update_summary()
        self.stack.setCurrentIndex(1)

    def set_version(self, index: int) -> None:
        """Show version ``index`` of :attr:`versions` (as sent, forwarded, damaged...)."""
        if not 0 <= index < len(self.versions):
            raise IndexError(f"packet #{self.uid} has {len(self.versions)} versions, not {index + 1}")
        self.version = index
        key = self.current_field()
        self.data = self.versions[index][1]
        self._fill_tree()
        self._render_hex()
        self._update_summary()
        if key in self._items:
            self.select_field(key)
        if self.version_box.currentIndex() != index:
            self.version_box.blockSignals(True)
            self.version_box.setCurrentIndex(index)
            self.version_box.blockSignals(False)

    def select_field(self, key: str) -> None:
        """Select the tree line ``key`` (e.g. ``"tcp.seq"``): its bytes light up in the dump."""
        item = self._items.get(key)
        if item is None:
            raise KeyError(f"packet #{self.uid} has no field {key!r}; fields: {', '.join(self._items)}")
        self.tree.setCurrentItem(item)
        self.tree.scrollToItem(item)

    def current_field(self) -> str | None:
        """Key of the selected tree line, or None."""
        item = self.tree.currentItem()
        return item.data(0, Qt.UserRole) if item is not None else None

    def hex_text(self) -> str:
        return self.hex.toPlainText()

    def highlighted_bytes(self) -> bytes:
        """The bytes the hex dump marks, read back from the dump's own text (hex area)."""
        out = bytearray()
        for sel in self.hex.extraSelections():
            if sel.format.property(QTextCharFormat.UserProperty) == "hex":
                out += bytes.fromhex(sel.cursor.selectedText())
        return bytes(out)

    # -- filling -----------------------------------------------------------------------------------
    def _fill_versions(self, keep_label: str | None) -> None:
        """Refill the version box; keep the version with ``keep_label`` or pick the default
        (the first damaged one, else the first)."""
        labels = [label for label, _ in self.versions]
        if keep_label in labels:
            index = labels.index(keep_label)
        else:
            index = next((i for i, label in enumerate(labels) if label.startswith("damaged")), 0)
        self.version_box.blockSignals(True)
        self.version_box.clear()
        self.version_box.addItems(labels)
        self.version_box.setCurrentIndex(index)
        self.version_box.blockSignals(False)
        self.version_box.setVisible(len(labels) > 1)
        if keep_label in labels and index == self.version and self.data == self.versions[index][1]:
            return
        self.set_version(index)

    def _on_version_box(self, index: int) -> None:
        if index >= 0:
            self.set_version(index)

    def _fill_tree(self) -> None:
        fields = dissect(self.data, self._bases)
        self.fields = {f.key: f for top in fields for f in top.walk()}
        self.highlight = None
        self.tree.blockSignals(True)
        self.tree.clear()
        self._items = {}
        good, bad = QColor(self.theme.syn), QColor(self.theme.error)
        bold = QFont(self.tree.font())
        bold.setBold(True)

        def add(parent, f: Field) -> None:
            span = f"{f.start}" if f.end - f.start == 1 else f"{f.start}-{f.end - 1}"
            item = QTreeWidgetItem(parent, [f.name, f.value, span])
            item.setData(0, Qt.UserRole, f.key)
            tip = f"{f.name}: {f.value}" + (f"\n{f.note}" if f.note else "")
            for col in range(3):
                item.setToolTip(col, tip)
            if f.status:
                item.setForeground(1, good if f.status == "ok" else bad)
                item.setFont(1, bold)
            self._items[f.key] = item
            for child in f.children:
                add(item, child)

        for top in fields:
            add(self.tree, top)
            self._items[top.key].setFont(0, bold)
        self.tree.expandAll()
        for key in ("ip.flags", "tcp.flags"):     # one bit per line: open on demand
            if key in self._items:
                self._items[key].setExpanded(False)
        self.tree.blockSignals(False)

    def _fit_hex(self) -> None:
        """16 bytes to a line when the pane is wide enough, else 8."""
        fm = self.hex.fontMetrics()
        margin = 2 * self.hex.document().documentMargin()
        need16 = fm.horizontalAdvance("0" * (hex_columns(15) + 4 + 16)) + margin
        per_line = 16 if self.hex.viewport().width() >= need16 else 8
        if per_line != self._per_line:
            self._per_line = per_line
            self._render_hex()

    def _render_hex(self) -> None:
        bar = self.hex.verticalScrollBar().value()
        self.hex.setPlainText(hex_dump(self.data, self._per_line))
        self.hex.verticalScrollBar().setValue(bar)
        self._paint_hex()

    def _spans(self, start: int, end: int, area: str):
        """(first char, last char + 1) document positions covering bytes [start, end) of
        ``area`` ("hex" or "ascii"), one span per dump line."""
        doc = self.hex.document()
        per = self._per_line
        ascii_col = hex_columns(per - 1) + 4
        i = start
        while i < end:
            line = i // per
            stop = min(end, (line + 1) * per)
            j0, j1 = i - line * per, stop - 1 - line * per
            pos = doc.findBlockByNumber(line).position()
            if area == "hex":
                yield pos + hex_columns(j0), pos + hex_columns(j1) + 2
            else:
                yield pos + ascii_col + j0, pos + ascii_col + j1 + 1
            i = stop

    def _selection(self, a: int, b: int, fmt: QTextCharFormat) -> QTextEdit.ExtraSelection:
        sel = QTextEdit.ExtraSelection()
        cur = QTextCursor(self.hex.document())
        cur.setPosition(a)
        cur.setPosition(b, QTextCursor.KeepAnchor)
        sel.cursor = cur
        sel.format = fmt
        return sel

    def _paint_hex(self) -> None:
        """Tint the bytes of each layer and mark the highlighted field's bytes."""
        sels = []
        layers = []
        tcp = self.fields.get("tcp")
        ip = self.fields.get("ip")
        if ip is not None:
            layers.append(("ip", ip.start, ip.end))
        if tcp is not None:
            opts = self.fields.get("tcp.options")
            data = self.fields.get("tcp.payload")
            hdr_end = opts.start if opts else (data.start if data else tcp.end)
            layers.append(("tcp", tcp.start, hdr_end))
            if opts:
                layers.append(("opt", opts.start, opts.end))
        for name, a, b in layers:
            fmt = QTextCharFormat()
            fmt.setBackground(self._layer_colors[name])
            for area in ("hex", "ascii"):
                for x, y in self._spans(a, b, area):
                    sels.append(self._selection(x, y, fmt))
        if self.version > 0 and self.version < len(self.versions):
            before = self.versions[self.version - 1][1]
            if len(before) == len(self.data):
                fmt = QTextCharFormat()
                fmt.setForeground(QColor(self.theme.error))
                fmt.setFontWeight(QFont.Bold)
                fmt.setFontUnderline(True)
                fmt.setToolTip("changed on the way here")
                for j in (j for j in range(len(self.data)) if self.data[j] != before[j]):
                    for area in ("hex", "ascii"):
                        for x, y in self._spans(j, j + 1, area):
                            sels.append(self._selection(x, y, fmt))
        if self.highlight is not None:
            a, b = self.highlight
            for area in ("hex", "ascii"):
                fmt = QTextCharFormat(self._highlight_fmt)
                fmt.setProperty(QTextCharFormat.UserProperty, area)
                for x, y in self._spans(a, b, area):
                    sels.append(self._selection(x, y, fmt))
        self.hex.setExtraSelections(sels)

    def _on_tree_item(self, item: QTreeWidgetItem | None, _previous=None) -> None:
        if item is None:
            self.highlight = None
        else:
            f = self.fields.get(item.data(0, Qt.UserRole))
            self.highlight = (f.start, f.end) if f is not None else None
        self._paint_hex()
        if self.highlight is not None:
            line = self.highlight[0] // self._per_line
            bar = self.hex.verticalScrollBar()
            if not bar.value() <= line < bar.value() + max(1, bar.pageStep()):
                bar.setValue(max(0, line - 1))

    def _on_hex_clicked(self, cursor: QTextCursor) -> None:
        """A click on a byte in the dump selects the innermost field holding it."""
        byte = self._byte_at(cursor)
        if byte is not None:
            self.select_byte(byte)

    def _byte_at(self, cursor: QTextCursor) -> int | None:
        line = cursor.blockNumber()
        col = cursor.positionInBlock()
        per = self._per_line
        ascii_col = hex_columns(per - 1) + 4
        if col >= ascii_col:
            j = col - ascii_col
        else:
            j = next((j for j in range(per) if hex_columns(j) <= col < hex_columns(j) + 3), None)
            if j is None:
                return None
        byte = line * per + min(j, per - 1)
        return byte if 0 <= byte < len(self.data) else None

    def select_byte(self, byte: int) -> None:
        """Select the innermost field that holds byte ``byte`` of the datagram."""
        best = None
        for f in self.fields.values():
            if f.start <= byte < f.end and (best is None or f.end - f.start <= best.end - best.start):
                best = f
        if best is not None:
            self.select_field(best.key)

    def _fill_life(self) -> None:
        trace = self.context.trace
        if trace is None:
            return
        if self._narrator is None or self._narrator.trace is not trace:
            self._narrator = Narrator(trace)
        table = self.life_table
        table.setRowCount(len(self.life))
        for n, i in enumerate(self.life):
            r = trace.row(i)
            where, what = life_event(trace, r)
            sentence = self._narrator.explain(i)
            cells = [fmt_time(r[0]), where, what, sentence]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(sentence)
                item.setData(Qt.UserRole, i)
                table.setItem(n, col, item)
        self._color_life()
        self._split_life()

    def _color_life(self) -> None:
        """Rows after the cursor (in the future of the replayed moment) are dimmed."""
        trace = self.context.trace
        if trace is None:
            return
        cursor = self.context.cursor
        live = self.context.live
        normal = QColor(self.theme.text)
        for n, i in enumerate(self.life):
            color = self._dim if (not live and trace.t[i] > cursor) else normal
            for col in range(4):
                item = self.life_table.item(n, col)
                if item is not None:
                    item.setForeground(color)

    def _on_life_clicked(self, row: int, _col: int) -> None:
        if not 0 <= row < len(self.life):
            return
        i = self.life[row]
        trace = self.context.trace
        self.context.set_cursor(trace.t[i])
        self.context.select(packet=self.uid, event=i, source=self.SOURCE)

    def _update_summary(self) -> None:
        trace = self.context.trace
        if self.uid is None or trace is None:
            return
        pkt = trace.packets[self.uid]
        seg = pkt.segment
        bits = [f"<b>Packet #{self.uid}</b>", f"{flags_str(seg.flags)} seq={seg.seq}"]
        if seg.flags & ACK:
            bits[-1] += f" ack={seg.ack}"
        if seg.payload:
            bits[-1] += f" len={len(seg.payload)}"
        bits.append(f"{ip_str(pkt.src)}:{seg.src_port} → {ip_str(pkt.dst)}:{seg.dst_port}")
        bits.append(f"{len(self.data)} bytes")
        fate = self._fate()
        if fate:
            bits.append(fate)
        self.summary.setText(" · ".join(bits))
        label = self.versions[self.version][0] if self.version < len(self.versions) else ""
        damaged = label.startswith("damaged")
        self.damage_note.setVisible(damaged)
        if damaged:
            self.damage_note.setText(f"{label[0].upper()}{label[1:]}. The changed bytes are "
                                     f"underlined in the dump; the receiver's checksum check "
                                     f"catches the damage (RFC 1071).")
            self.damage_note.setStyleSheet(f"color: {self.theme.error};")
        self.version_box.setToolTip(f"{label}\n\nThe datagram changes on its way: routers "
                                    f"lower the TTL (and rewrite the header checksum), a link "
                                    f"may damage it.")

    def _fate(self) -> str:
        """How the packet's life ended so far, in words, coloured for a drop."""
        trace = self.context.trace
        for i in reversed(self.life):
            kind = trace.kind[i]
            if kind == EventKind.DROP:
                reason = DropReason(trace.a[i])
                return (f"<span style='color:{self.theme.drop}'>dropped "
                        f"({_outcome_text(reason)})</span>")
            if kind == EventKind.SEG_RECV:
                return f"received: {_outcome_text(RecvOutcome(trace.d[i] >> 16))}"
        return "in flight" if self.life else ""
