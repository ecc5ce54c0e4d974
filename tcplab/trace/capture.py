"""Packet captures from the trace: what a capture on one node's interfaces would have seen.

A packet leaving the node is recorded when it starts onto the link (with the TTL it left with),
an arriving packet when it arrives (with its TTL after the hops, or its corrupted bytes). Each
link of the node is one pcapng interface; timestamps are the simulated times in nanoseconds.
"""

from __future__ import annotations

from typing import BinaryIO

from tcplab.net.wire import encode_packet, set_ttl
from tcplab.trace.events import EventKind
from tcplab.trace.pcapng import PcapngWriter


def capture_records(trace, node: int, rows=None):
    """Yield (interface index, time ns, datagram bytes) seen on ``node``'s links, in time order.

    Interfaces are numbered in the order of ``interfaces(trace, node)``. ``rows(i)``, when
    given, hears every 16,384 trace rows how far the scan is."""
    links = interfaces(trace, node)
    index = {link.id: i for i, link in enumerate(links)}
    corrupted: dict[int, bytes] = {}     # uid -> its damaged bytes from the corruption on
    kinds = trace.kind
    hop, arrive, alter = int(EventKind.HOP), int(EventKind.ARRIVE), int(EventKind.ALTER)
    cache: dict[int, bytes] = {}
    for i in range(len(trace)):
        if rows is not None and not i & 0x3FFF:
            rows(i)
        k = kinds[i]
        if k == alter and trace.c[i] == 1:
            corrupted[trace.pkt[i]] = trace.extra[i]
            continue
        if trace.node[i] != node or (k != hop and k != arrive):
            continue
        uid = trace.pkt[i]
        link = trace.a[i]
        ttl = trace.c[i] if k == hop else trace.b[i]
        data = corrupted.get(uid)       # damaged bytes travel as they are
        if data is None:
            base = cache.get(uid)
            if base is None:
                base = cache[uid] = encode_packet(trace.packets[uid])
            data = base if base[8] == ttl else set_ttl(base, ttl)
        yield index[link], trace.t[i], data


def interfaces(trace, node: int):
    return [link for link in trace.links if node in (link.a, link.b)]


def write_pcapng(trace, node: int, out: BinaryIO, rows=None) -> int:
    """Write the capture at ``node`` as pcapng to ``out``; returns the number of packets.
    ``rows(i)``: see :func:`capture_records`."""
    names = [(f"{trace.nodes[node]}:{link.name}", f"link {link.name}") for link in interfaces(trace, node)]
    writer = PcapngWriter(out, names, application="tcplab")
    n = 0
    for iface, t, data in capture_records(trace, node, rows):
        writer.write(iface, t, data)
        n += 1
    writer.close()
    return n
