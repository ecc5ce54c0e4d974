"""Writing captures as pcapng (the IETF pcapng draft, draft-ietf-opsawg-pcapng) for Wireshark.

The blocks are produced with the ``python-pcapng`` library (import name ``pcapng``). A file is
one section: a Section Header Block whose only option is ``shb_userappl``, one Interface
Description Block per interface, then one Enhanced Packet Block per packet. Nothing in it
depends on the host, the clock or chance, so the same calls always give the same bytes.

Packets are bare IPv4 datagrams as made by :mod:`tcplab.net.wire`, so every interface has link
type ``LINKTYPE_RAW`` (101, "raw IP": the version nibble tells IPv4 from IPv6), the one libpcap
maps to ``DLT_RAW`` and that every pcap tool decodes; ``LINKTYPE_IPV4`` (228) would do as well
for Wireshark but is less widely known. Timestamps are simulated time in integer nanoseconds,
stored exactly by declaring ``if_tsresol`` = 9 (units of 10**-9 s) on each interface.
"""

from __future__ import annotations

import warnings
from typing import BinaryIO

from pcapng import FileScanner, FileWriter, blocks
from pcapng.structs import TYPE_BYTES, Option

LINKTYPE_RAW = 101
SNAPLEN = 65535                 # the largest IPv4 datagram; nothing is ever truncated
TSRESOL_NS = 9                  # if_tsresol: timestamps count units of 10**-9 seconds
_IF_TSRESOL = 9                 # option code of if_tsresol in an Interface Description Block
# python-pcapng declares if_tsresol without a field type, which makes it emit a
# DeprecationWarning whenever the option is encoded or decoded; as raw bytes it is the same.
_IF_TSRESOL_OPTION = Option(_IF_TSRESOL, "if_tsresol", TYPE_BYTES)


class PcapngWriter:
    """Writes one pcapng section to ``fileobj`` (a binary file the caller opened and closes).

    ``interfaces`` gives (name, description) per interface, numbered from 0 in list order;
    ``application`` is recorded as ``shb_userappl``. The header blocks are written at once.
    """

    def __init__(self, fileobj: BinaryIO, interfaces: list[tuple[str, str]],
                 application: str = "tcplab") -> None:
        options = {"shb_userappl": application} if application else {}
        self._section = blocks.SectionHeader(options=options)
        for name, description in interfaces:
            idb = self._section.new_member(blocks.InterfaceDescription, link_type=LINKTYPE_RAW,
                                           snaplen=SNAPLEN)
            idb.options.schema[_IF_TSRESOL] = _IF_TSRESOL_OPTION
            idb.options["if_name"] = name
            idb.options["if_description"] = description
            idb.options["if_tsresol"] = bytes((TSRESOL_NS,))
        self._count = len(interfaces)
        self._file = fileobj
        self._writer: FileWriter | None = FileWriter(fileobj, self._section)

    def write(self, interface: int, t_ns: int, data: bytes, comment: str | None = None) -> None:
        """One Enhanced Packet Block: ``data`` seen on ``interface`` at ``t_ns`` nanoseconds,
        with ``comment`` as its ``opt_comment`` when given."""
        if self._writer is None:
            raise ValueError("write to a closed PcapngWriter")
        if not 0 <= interface < self._count:
            raise ValueError(f"interface {interface} is not one of the {self._count} declared")
        if not 0 <= t_ns < 1 << 64:
            raise ValueError(f"timestamp {t_ns} ns does not fit the 64-bit EPB timestamp")
        if len(data) > SNAPLEN:
            raise ValueError(f"packet of {len(data)} bytes exceeds the snapshot length {SNAPLEN}")
        options = {"opt_comment": comment} if comment is not None else {}
        self._writer.write_block(self._section.new_member(
            blocks.EnhancedPacket, interface_id=interface, timestamp_high=t_ns >> 32,
            timestamp_low=t_ns & 0xFFFFFFFF, packet_data=bytes(data), options=options))

    def close(self) -> None:
        """Finish the capture and flush ``fileobj`` (which stays open: it is the caller's)."""
        if self._writer is not None:
            self._writer = None
            self._file.flush()


def _ticks_to_ns(ticks: int, tsresol: bytes | None) -> int:
    """Nanoseconds for a timestamp of ``ticks`` units of ``if_tsresol`` (absent: microseconds);
    the high bit selects a power of 2 instead of 10. Rounds down below a nanosecond."""
    code = tsresol[0] if tsresol else 6
    exponent = code & 0x7F
    if code & 0x80:
        return (ticks * 10**9) >> exponent
    if exponent <= 9:
        return ticks * 10 ** (9 - exponent)
    return ticks // 10 ** (exponent - 9)


def read_pcapng(fileobj: BinaryIO) -> list[tuple[int, int, bytes]]:
    """(interface, time in ns, packet bytes) of every Enhanced Packet Block in a pcapng file."""
    packets = []
    with warnings.catch_warnings():     # the library's untyped if_tsresol, see above
        warnings.simplefilter("ignore", DeprecationWarning)
        for block in FileScanner(fileobj):
            if isinstance(block, blocks.EnhancedPacket):
                tsresol = block.interface.options.get("if_tsresol")
                ticks = (block.timestamp_high << 32) | block.timestamp_low
                packets.append((block.interface_id, _ticks_to_ns(ticks, tsresol),
                                bytes(block.packet_data)))
    return packets
