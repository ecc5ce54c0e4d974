"""The narrator's caches follow a growing trace: narrating each row as it arrives in a live run
gives the same sentence as narrating the finished trace.

Two caches are involved (``tcplab.trace.narrate.Narrator``): the FINs sent so far (scanned
incrementally, one pass over each new row) and the peer of each connection (kept for good only
once no later connection can change it; a peer asked for before the other endpoint exists is
looked up again when more connections exist).
"""

from __future__ import annotations

import pytest

from tcplab.net.packet import FIN
from tcplab.scenario import load
from tcplab.scenario.runner import Run
from tcplab.trace.events import EventKind
from tcplab.trace.narrate import Narrator

#: Scenarios whose endpoints all have one connection each on their node.
ONE_CONN_PER_NODE = ("handshake", "close", "loss", "fast-retransmit", "reorder", "timestamps",
                     "transfer", "zero-window", "intro", "bulk")
#: Scenarios where a node has two connections; ``abort`` opens its second one later in the run.
TWO_CONNS_PER_NODE = ("abort", "sack", "nagle-delack")


def scenario(name: str) -> Run:
    overrides = ["apps.bulk.bytes=200000"] if name == "bulk" else []
    return Run(load(name, overrides))


def narrate_live(run: Run, max_events: int) -> tuple[Narrator, list[str]]:
    """Run the engine ``max_events`` events at a time and narrate each new row as it arrives,
    with one narrator for the whole run (as the narration log does while a run is watched)."""
    narrator = Narrator(run.trace)
    texts: list[str] = []
    while True:
        done = run.run(max_events=max_events)
        texts.extend(narrator.explain(i) for i in range(len(texts), len(run.trace)))
        if done < max_events:
            return narrator, texts


def without_ports(run: Run, text: str) -> str:
    """``text`` with every ``node:port`` endpoint name written as ``node``."""
    tr = run.trace
    for info in tr.conns:
        text = text.replace(f"{tr.nodes[info.node]}:{info.local_port}", tr.nodes[info.node])
    return text


@pytest.mark.parametrize("max_events", [1, 7, 64])
@pytest.mark.parametrize("name", ONE_CONN_PER_NODE)
def test_live_narration_equals_narration_of_the_whole_trace(name, max_events):
    run = scenario(name)
    _, live = narrate_live(run, max_events)
    trace = run.trace
    assert len(live) == len(trace) > 0
    fresh = Narrator(trace)
    assert live == [fresh.explain(i) for i in range(len(trace))]
    # the sentences the caches decide are among them: the peer's name, the ACK of a FIN
    assert any("acknowledges server's SYN" in s for s in live)
    if name in ("close", "transfer"):
        assert any("'s FIN with ACK" in s for s in live)


@pytest.mark.parametrize("max_events", [1, 7])
@pytest.mark.parametrize("name", TWO_CONNS_PER_NODE)
def test_live_narration_with_two_connections_on_a_node(name, max_events):
    """Same, names included: an endpoint is ``client`` in the rows before its node had a
    second connection and ``client:49152`` after (``Narrator.who`` counts the connections that
    had appeared by the row being explained), so a row reads the same live, in a replay and in
    an export."""
    run = scenario(name)
    narrator, live = narrate_live(run, max_events)
    fresh = Narrator(run.trace)
    whole = [fresh.explain(i) for i in range(len(run.trace))]
    assert live == whole
    tr = run.trace
    ported = {f"{tr.nodes[c.node]}:{c.local_port}" for c in tr.conns}
    assert any(any(p in s for p in ported) for s in whole)       # names with ports appear
    assert [without_ports(run, s) for s in live] == [without_ports(run, s) for s in whole]
    # every handshake names the peer (a peer cached as missing would read "the peer's SYN")
    handshakes = [s for s in live if "the three-way handshake is complete" in s]
    assert len(handshakes) == len(run.trace.conns) // 2
    assert not any("the peer's SYN" in s for s in handshakes)
    assert all(narrator.peer_conn(c.id) == c.peer >= 0 for c in run.trace.conns)


def test_peer_asked_before_it_exists_is_found_later():
    run = scenario("handshake")
    trace = run.trace
    narrator = Narrator(trace)
    while len(trace.conns) < 1:
        assert run.run(max_events=1) == 1
    assert narrator.peer_conn(0) == -1 and narrator.peer(0) == "the peer"
    assert narrator.peer_conn(0) == -1          # asked again with no new connection
    while len(trace.conns) < 2:
        assert run.run(max_events=1) == 1
    assert narrator.peer_conn(0) == 1 == trace.conns[0].peer
    assert narrator.peer_conn(1) == 0 == trace.conns[1].peer
    assert narrator.peer(0) == trace.nodes[trace.conns[1].node] == "server"
    run.run()
    assert narrator.peer_conn(0) == 1 and narrator.peer_conn(1) == 0


def test_peer_asked_early_in_a_run_with_several_connections():
    """abort: the second client connection opens later; every peer asked as soon as its
    connection exists (and again after each batch) ends up as a fresh narrator finds it and as
    ``ConnInfo.peer`` says."""
    run = scenario("abort")
    trace = run.trace
    narrator = Narrator(trace)
    missing = set()
    while run.run(max_events=1) == 1:
        for info in trace.conns:
            if narrator.peer_conn(info.id) < 0:
                missing.add(info.id)
    assert missing          # some were asked before their peer existed
    fresh = Narrator(trace)
    for info in trace.conns:
        assert narrator.peer_conn(info.id) == fresh.peer_conn(info.id) == info.peer >= 0


def test_fin_scan_reads_each_row_once():
    """The FIN table is extended over the new rows only, never rebuilt from row 0."""
    run = scenario("close")
    trace = run.trace
    calls: list[tuple[int, int]] = []
    matrix = trace.matrix

    def recording(start=0, end=None):
        calls.append((start, len(trace) if end is None else end))
        return matrix(start, end)

    trace.matrix = recording
    narrator, live = narrate_live(run, 3)
    assert any("'s FIN with ACK" in s for s in live)
    assert calls and calls[0][0] == 0
    for (_, end), (start, _) in zip(calls, calls[1:]):
        assert start == end
    assert sum(end - start for start, end in calls) <= len(trace)
    fins = [i for i in trace.indices(EventKind.SEG_SENT) if trace.d[i] & FIN]
    assert sum(len(v) for v in narrator._fins.values()) == len(fins) > 0
