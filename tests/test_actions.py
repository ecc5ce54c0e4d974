"""Live user actions (``Run.apply``), their record and replay, and the in-flight queries.

Each action runs on a real scenario: slice the run until a data segment is on a link, act,
continue, and read the outcome in the trace as every view does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import deque

import numpy as np
import pytest

from tcplab.scenario import load
from tcplab.scenario.runner import Run
from tcplab.sim.clock import MS, US
from tcplab.trace import typed as T
from tcplab.trace.capture import capture_records, write_pcapng
from tcplab.trace.events import DropReason, EventKind, RecvOutcome, SendReason, UserOp
from tcplab.trace.ladder import RETRANSMIT, Ladder
from tcplab.trace.narrate import Narrator

STEP = 100 * US


def rows(tr, kind):
    return [tr.row(int(i)) for i in tr.indices(kind)]


def data_in_flight(run: Run, link: str | None = None, payload: int = 500, skip: int = 0,
                   avoid=()):
    """Slice the run until a packet with at least ``payload`` bytes is on ``link`` (any link if
    None) and return its in-flight tuple; ``skip`` passes over that many distinct ones first,
    and packets in ``avoid`` do not count."""
    seen: list[int] = list(avoid)
    skip += len(seen)
    link_id = None if link is None else run.net.link(link).id
    while not run.finished():
        for entry in run.in_flight():
            uid, lid = entry[0], entry[1]
            if link_id is not None and lid != link_id:
                continue
            if len(run.trace.packets[uid].segment.payload) >= payload and uid not in seen:
                if len(seen) == skip:
                    return entry
                seen.append(uid)
        run.run(until=run.now + STEP)
    raise AssertionError("no such packet was ever on the link")


def transfer() -> Run:
    return Run(load("transfer"))


def user_rows(run: Run) -> list[T.UserAction]:
    return [run.trace.event(int(i)) for i in run.trace.indices(EventKind.USER)]


# -- packet: drop -------------------------------------------------------------------------------
def test_user_drop_takes_the_segment_off_the_link_and_tcp_retransmits_it():
    run = transfer()
    uid, link, direction, start, arrival = data_in_flight(run, "router-server")
    seq = run.trace.packets[uid].segment.seq
    now = run.now
    assert start <= now < arrival
    run.apply({"op": "packet", "uid": uid, "what": "drop"})
    assert run.actions == [(now, {"op": "packet", "uid": uid, "what": "drop"})]
    assert uid not in [e[0] for e in run.in_flight()]
    run.run()
    tr = run.trace
    (user,) = user_rows(run)
    assert (user.t, user.op, user.pkt, user.link, user.direction, user.detail) == (
        now, UserOp.DROP, uid, link, direction, arrival)
    assert user.action == {"op": "packet", "uid": uid, "what": "drop"}
    drop = [tr.event(int(i)) for i in tr.indices(EventKind.DROP) if tr.pkt[i] == uid]
    assert [(d.t, d.reason, d.link, d.direction, d.node) for d in drop] == [
        (now, DropReason.USER, link, direction, -1)]
    assert drop[0].index == user.index + 1
    # It never arrives anywhere after it left the server.
    assert not [r for r in rows(tr, EventKind.ARRIVE) if r[4] == uid and r[0] > start]
    retx = [r for r in rows(tr, EventKind.SEG_SENT)
            if r[5] == seq and SendReason(r[8] >> 16) in RETRANSMIT]
    assert retx and retx[0][0] > now
    s = run.summary()
    assert s["drops"] == {"user": 1}
    assert sum(c["bytes_delivered"] for c in s["connections"] if c["role"] == "client") == 2000
    text = Narrator(tr).explain(user.index)
    assert text.startswith("You dropped segment ") and "on link router-server" in text
    assert "you dropped it" in Narrator(tr).explain(drop[0].index)
    ladder = "\n".join(Ladder(tr).lines())
    assert "You dropped segment" in ladder and "[retransmission]" in ladder


# -- packet: duplicate --------------------------------------------------------------------------
def test_user_duplicate_arrives_behind_the_original_and_is_a_duplicate_receipt():
    run = transfer()
    uid, link, direction, start, arrival = data_in_flight(run, "router-server")
    now = run.now
    copy = len(run.trace.packets)
    run.apply({"op": "packet", "uid": uid, "what": "duplicate"})
    flying = {e[0]: e for e in run.in_flight()}
    assert flying[copy] == (copy, link, direction, now, arrival + 1)
    assert flying[uid][4] == arrival
    run.run()
    tr = run.trace
    (user,) = user_rows(run)
    assert (user.op, user.detail, user.pkt) == (UserOp.DUPLICATE, copy, uid)
    alter = tr.event(user.index + 1)
    assert isinstance(alter, T.PacketAltered)
    assert (alter.what, alter.pkt, alter.original, alter.link) == ("duplicate", copy, uid, link)
    hop = tr.event(user.index + 2)
    assert isinstance(hop, T.Hop) and (hop.pkt, hop.t, hop.arrival) == (copy, now, arrival + 1)
    assert tr.packets[copy].dup_of == uid
    client = tr.node_id("client")
    receipts = {r[4]: RecvOutcome(r[8] >> 16) for r in rows(tr, EventKind.SEG_RECV)
                if r[2] == client}
    assert receipts[uid] in (RecvOutcome.IN_ORDER, RecvOutcome.FILLED_HOLE)
    # The copy's data was all received 1 ns earlier: it lies wholly below RCV.NXT, fails the
    # acceptability test (RFC 9293 3.10.7.4) and is answered with a duplicate ACK.
    assert receipts[copy] == RecvOutcome.OUT_OF_WINDOW
    (copy_in,) = [r for r in rows(tr, EventKind.SEG_RECV) if r[4] == copy]
    assert [SendReason(r[8] >> 16) for r in rows(tr, EventKind.SEG_SENT)
            if r[2] == client and r[0] == copy_in[0]] == [SendReason.DUP_ACK]
    assert "You duplicated segment" in Narrator(tr).explain(user.index)
    assert "as you asked" in Narrator(tr).explain(alter.index)


# -- packet: delay ------------------------------------------------------------------------------
def test_user_delay_lets_the_next_segment_overtake():
    run = transfer()
    uid, link, direction, start, arrival = data_in_flight(run, "router-server")
    now = run.now
    run.apply({"op": "packet", "uid": uid, "what": "delay", "delay": "5ms"})
    assert {e[0]: e[4] for e in run.in_flight()}[uid] == arrival + 5 * MS
    run.run()
    tr = run.trace
    (user,) = user_rows(run)
    assert (user.op, user.detail) == (UserOp.DELAY, arrival + 5 * MS)
    alter = tr.event(user.index + 1)
    assert (alter.what, alter.pkt, alter.arrival, alter.t) == ("delay", uid, arrival + 5 * MS, now)
    router = tr.node_id("router")
    (arrive,) = [r for r in rows(tr, EventKind.ARRIVE) if r[4] == uid and r[2] == router]
    assert arrive[0] == arrival + 5 * MS
    client = tr.node_id("client")
    outcomes = [RecvOutcome(r[8] >> 16) for r in rows(tr, EventKind.SEG_RECV) if r[2] == client]
    assert RecvOutcome.OUT_OF_ORDER in outcomes and RecvOutcome.FILLED_HOLE in outcomes
    assert "You held back segment" in Narrator(tr).explain(user.index)


def test_delay_in_ns_is_an_integer():
    run = transfer()
    uid, *_ , arrival = data_in_flight(run, "router-server")
    run.apply({"op": "packet", "uid": uid, "what": "delay", "delay": 2_000_000})
    assert {e[0]: e[4] for e in run.in_flight()}[uid] == arrival + 2_000_000


# -- set_link and drop_next ---------------------------------------------------------------------
def test_set_link_loss_one_then_zero_causes_retransmissions_and_the_transfer_completes():
    run = transfer()
    data_in_flight(run, "router-server")
    t0 = run.now
    run.apply({"op": "set_link", "link": "router-server", "param": "loss", "value": 1.0,
               "direction": None})
    run.run(until=t0 + 300 * MS)
    run.apply({"op": "set_link", "link": "server-router", "param": "loss", "value": 0,
               "direction": None})
    run.run()
    tr = run.trace
    ops = [(u.op, u.link, u.direction) for u in user_rows(run)]
    link = tr.link_id("router-server")
    assert ops == [(UserOp.SET_LINK, link, -1)] * 2
    sets = [tr.event(int(i)) for i in tr.indices(EventKind.LINK_SET)]
    assert [(s.param, s.new) for s in sets] == [("loss", 1.0)] * 2 + [("loss", 0.0)] * 2
    s = run.summary()
    assert s["drops"].get("loss", 0) >= 1
    server = next(c for c in s["connections"] if c["role"] == "server")
    assert server["retransmissions"]["total"] >= 1
    client = next(c for c in s["connections"] if c["role"] == "client")
    assert client["bytes_delivered"] == 2000
    assert Narrator(tr).explain(user_rows(run)[0].index) == \
        "You set loss of link router-server (both directions) to 1.0"


def test_set_link_direction_follows_the_name_used():
    run = transfer()
    run.run(until=1 * MS)
    run.apply({"op": "set_link", "link": "server-router", "param": "delay", "value": "20ms",
               "direction": 0})
    tr = run.trace
    (user,) = user_rows(run)
    (ls,) = [tr.event(int(i)) for i in tr.indices(EventKind.LINK_SET)]
    assert user.direction == ls.direction == 1      # server->router is the link's direction 1
    assert run.net.link("router-server").channels[1].p.delay == 20 * MS
    assert "router-server (server->router)" in Narrator(tr).explain(user.index)


def test_drop_next_drops_the_next_segment_to_start_onto_the_link():
    run = transfer()
    run.run(until=15 * MS)                # SYN-ACK on its way back; the client sends next
    run.apply({"op": "drop_next", "link": "client-router", "from": "client"})
    now = run.now
    run.run()
    tr = run.trace
    link = tr.link_id("client-router")
    (user,) = user_rows(run)
    assert (user.op, user.link, user.direction) == (UserOp.DROP_NEXT, link, 0)
    hops = [r for r in rows(tr, EventKind.HOP) if r[5] == link and r[8] == 0 and r[0] >= now]
    drops = [tr.event(int(i)) for i in tr.indices(EventKind.DROP)]
    assert [(d.pkt, d.reason, d.link) for d in drops] == [(hops[0][4], DropReason.USER, link)]
    assert all(not ch.rules for ch in run.net.link("client-router").channels)
    assert "drop the next segment" in Narrator(tr).explain(user.index)


def test_drop_next_either_way_takes_only_one():
    run = transfer()
    run.run(until=25 * MS)
    run.apply({"op": "drop_next", "link": "router-server"})
    run.run()
    tr = run.trace
    assert [DropReason(tr.a[i]) for i in tr.indices(EventKind.DROP)] == [DropReason.USER]
    assert user_rows(run)[0].direction == -1


# -- determinism and replay ---------------------------------------------------------------------
def scripted(run: Run) -> None:
    """Irregular slices with every kind of action along the way."""
    data_in_flight(run, "router-server")
    run.apply({"op": "set_link", "link": "client-router", "param": "delay", "value": "7ms",
               "direction": 1})
    uid = data_in_flight(run, "router-server")[0]
    run.apply({"op": "packet", "uid": uid, "what": "duplicate"})
    run.run(until=run.now + 333 * US)
    uid = data_in_flight(run, "router-server", skip=1)[0]
    run.apply({"op": "packet", "uid": uid, "what": "delay", "delay": 3_000_000})
    uid = data_in_flight(run, "client-router")[0]
    run.apply({"op": "packet", "uid": uid, "what": "drop"})
    run.apply({"op": "drop_next", "link": "router-server", "from": "router"})   # same instant
    run.run(until=run.now + 1_234_567)
    run.apply({"op": "set_link", "link": "router-server", "param": "loss", "value": 0.5,
               "direction": None})
    run.run(until=run.now + 20 * MS)
    run.apply({"op": "set_link", "link": "router-server", "param": "loss", "value": 0,
               "direction": None})
    run.run()


def test_replaying_the_recorded_actions_gives_the_same_trace():
    a = transfer()
    scripted(a)
    assert len(a.actions) == 7 and len(user_rows(a)) == 7
    plain = transfer()
    plain.run()
    assert plain.trace.fingerprint() != a.trace.fingerprint()
    b = transfer()
    b.replay_actions(a.actions)
    b.run()
    assert b.actions == a.actions
    assert b.trace.fingerprint() == a.trace.fingerprint()
    # As a session file stores them: JSON, times and dicts as lists and objects.
    c = transfer()
    c.replay_actions(json.loads(json.dumps(a.actions)), until=a.scenario.duration)
    assert c.trace.fingerprint() == a.trace.fingerprint()


def test_slicing_does_not_matter_only_the_action_times():
    a = transfer()
    scripted(a)
    # The same actions at the same times, reached with other slices (one 1 ms step at a time).
    b = transfer()
    for t, action in a.actions:
        while b.now + MS < t:
            b.run(until=b.now + MS)
        b.run(until=t)
        b.apply(action)
    b.run()
    assert b.trace.fingerprint() == a.trace.fingerprint()


def test_replay_refuses_actions_out_of_order():
    a = transfer()
    scripted(a)
    b = transfer()
    with pytest.raises(ValueError, match="before now"):
        b.replay_actions(list(reversed(a.actions)))


def test_actions_before_the_first_slice_follow_what_is_due_at_time_zero():
    a = transfer()
    a.apply({"op": "drop_next", "link": "client-router", "from": "client"})
    a.run()
    b = transfer()
    b.replay_actions(a.actions)
    b.run()
    assert a.actions[0][0] == 0
    assert b.trace.fingerprint() == a.trace.fingerprint()


# -- refusals -----------------------------------------------------------------------------------
BAD = [
    ("not a dict", "is a dict"),
    ({"what": "drop"}, "unknown action op None"),
    ({"op": "explode"}, "unknown action op 'explode'"),
    ({"op": "set_link", "link": "router-server", "param": "loss"}, "missing key 'value'"),
    ({"op": "set_link", "link": "router-server", "param": "loss", "value": 0.1, "dir": 0},
     "unknown key 'dir'"),
    ({"op": "set_link", "link": "a-b", "param": "loss", "value": 0.1}, "unknown link 'a-b'"),
    ({"op": "set_link", "link": "router-server", "param": "colour", "value": 1},
     "unknown link parameter 'colour'"),
    ({"op": "set_link", "link": "router-server", "param": "loss", "value": 1.5}, "loss"),
    ({"op": "set_link", "link": "router-server", "param": "delay", "value": "fast"}, "delay"),
    ({"op": "set_link", "link": "router-server", "param": "loss", "value": 0.1, "direction": 2},
     "direction must be None, 0 or 1"),
    ({"op": "set_link", "link": "router-server", "param": "loss", "value": [1]}, "value must be"),
    ({"op": "set_link", "link": "router-server", "param": "delay", "value": 5_000_000},
     "more than an hour: a number is in seconds"),
    ({"op": "drop_next", "link": "router-server", "from": "client"},
     "client is not an end of link router-server"),
    ({"op": "drop_next", "link": "router-server", "from": "nobody"}, "unknown node 'nobody'"),
    ({"op": "packet", "uid": 0, "what": "drop"}, "packet 0 is not on a link now"),
    ({"op": "packet", "uid": -3, "what": "drop"}, "uid must be"),
    ({"op": "packet", "uid": "7", "what": "drop"}, "uid must be"),
    ({"op": "packet", "uid": 0, "what": "explode"}, "what must be"),
    ({"op": "packet", "uid": 0, "what": "delay"}, "needs a 'delay'"),
    ({"op": "packet", "uid": 0, "what": "delay", "delay": -5}, "delay must be positive"),
    ({"op": "packet", "uid": 0, "what": "delay", "delay": 0.5}, "integer number of ns"),
    ({"op": "packet", "uid": 0, "what": "drop", "delay": 5}, "only goes with what='delay'"),
]


@pytest.mark.parametrize("action,message", BAD, ids=[m for _, m in BAD])
def test_a_bad_action_is_refused_and_changes_nothing(action, message):
    run = transfer()
    data_in_flight(run, "router-server")
    before = (run.trace.fingerprint(), len(run.trace), run.now, list(run.in_flight()))
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        run.apply(action)
    assert run.actions == []
    assert (run.trace.fingerprint(), len(run.trace), run.now, run.in_flight()) == before
    # ... and the run goes on as if nothing had been asked.
    run.run()
    ref = transfer()
    ref.run()
    assert run.trace.fingerprint() == ref.trace.fingerprint()


def test_a_packet_already_arrived_is_not_on_a_link():
    run = transfer()
    uid, *_ , arrival = data_in_flight(run, "router-server")
    run.run(until=arrival)
    assert uid not in [e[0] for e in run.in_flight() if e[1] == run.trace.link_id("router-server")]
    # It has moved on to the next link (a router keeps the uid): still actionable there.
    assert uid in [e[0] for e in run.in_flight()]
    run.run()
    with pytest.raises(ValueError, match=f"packet {uid} is not on a link now"):
        run.apply({"op": "packet", "uid": uid, "what": "duplicate"})


# -- queue rows and in-flight queries on the bulk scenario ---------------------------------------
@pytest.fixture(scope="module")
def bulk() -> Run:
    run = Run(load("bulk", ["apps.bulk.bytes=1500000"]))
    run.run()
    return run


def test_queue_rows_follow_each_transmit_queue_exactly(bulk):
    tr = bulk.trace
    limit = {(link.id, ch.direction): ch.p.queue
             for link in bulk.net.links.values() for ch in link.channels}
    queues: dict[tuple[int, int], deque] = {key: deque() for key in limit}
    queued = 0
    longest = 0
    for i in range(len(tr)):
        t, kind, node, conn, pkt, a, b, c, d = tr.row(i)
        if kind == EventKind.QUEUE:
            q = queues[(a, d)]
            q.append(pkt)
            assert b == len(q) <= limit[(a, d)]
            assert node == (bulk.net.link(tr.links[a].name).channels[d].src.id)
            queued += 1
            longest = max(longest, b)
        elif kind == EventKind.HOP:
            q = queues[(a, d)]
            if q and q[0] == pkt:
                q.popleft()            # FIFO: it leaves from the head of its queue
            else:
                assert pkt not in q    # a packet that never waited
        elif kind == EventKind.DROP and b >= 0 and node >= 0:
            q = queues[(b, d)]
            assert pkt not in q or q[0] == pkt
            if q and q[0] == pkt:
                q.popleft()
    assert queued > 1000 and longest > 10
    assert all(not q for q in queues.values()), "every queued packet left its queue"
    # The narration and typed event.
    r1r2 = tr.link_id("r1-r2")
    i = next(int(i) for i in tr.indices(EventKind.QUEUE) if tr.a[i] == r1r2)
    ev = tr.event(i)
    assert isinstance(ev, T.Queued) and ev.length == 1
    assert "waits in r1's transmit queue for link r1-r2" in Narrator(tr).explain(i)


def test_queue_full_drops_match_the_queue_rows():
    """A tiny queue: drop-tail refusals happen exactly when the rows say it is full."""
    run = Run(load("bulk", ["apps.bulk.bytes=300000", "links.r1-r2.queue=4"]))
    run.run()
    tr = run.trace
    link = tr.link_id("r1-r2")
    occupancy = 0
    full_drops = 0
    for i in range(len(tr)):
        t, kind, node, conn, pkt, a, b, c, d = tr.row(i)
        if d != 0:
            continue
        if kind == EventKind.QUEUE and a == link:
            occupancy = b
        elif kind == EventKind.HOP and a == link and occupancy:
            occupancy -= 1
        elif kind == EventKind.DROP and a == DropReason.QUEUE_FULL and b == link:
            assert occupancy == 4 == c
            full_drops += 1
    assert full_drops > 0


def test_in_flight_matches_hop_rows_whose_arrival_is_ahead():
    run = Run(load("bulk", ["apps.bulk.bytes=1500000"]))
    snapshots = []
    for t in (3 * MS, 50 * MS, 123_456_789, 400 * MS, 1_000 * MS + 1):
        run.run(until=t)
        snapshots.append((run.now, len(run.trace), run.in_flight()))
    run.run()
    tr = run.trace
    # Packets lost on a link have a HOP row but no pending arrival: the trace shows them later.
    lost = {(r[4], r[6]) for r in rows(tr, EventKind.DROP) if r[2] == -1}
    cols = tr.columns()
    for now, n, flying in snapshots:
        hop = np.flatnonzero(cols["kind"][:n] == EventKind.HOP)
        expected = sorted((int(cols["pkt"][i]), int(cols["a"][i]), int(cols["d"][i]),
                           int(cols["t"][i]), int(cols["b"][i]))
                          for i in hop if cols["b"][i] > now
                          and (int(cols["pkt"][i]), int(cols["a"][i])) not in lost)
        assert flying, now
        assert sorted(flying) == expected
        assert [f[4] for f in flying] == sorted(f[4] for f in flying)   # in arrival order
        assert all(f[3] <= now < f[4] for f in flying)


# -- captures -----------------------------------------------------------------------------------
def capture_frames(run: Run, node: int):
    """(uid, outgoing, time, bytes) per frame of ``node``'s capture."""
    tr = run.trace
    sel = [i for i in range(len(tr)) if tr.node[i] == node
           and tr.kind[i] in (EventKind.HOP, EventKind.ARRIVE)]
    records = list(capture_records(tr, node))
    assert len(records) == len(sel)
    return [(tr.pkt[i], tr.kind[i] == EventKind.HOP, t, data)
            for i, (_, t, data) in zip(sel, records)]


def test_captures_show_what_the_user_did():
    run = transfer()
    dropped = data_in_flight(run, "router-server")
    run.apply({"op": "packet", "uid": dropped[0], "what": "drop"})
    duped = data_in_flight(run, "router-server")
    copy = len(run.trace.packets)
    run.apply({"op": "packet", "uid": duped[0], "what": "duplicate"})
    delayed = data_in_flight(run, "router-server", avoid=[duped[0], copy])
    run.apply({"op": "packet", "uid": delayed[0], "what": "delay", "delay": 4_000_000})
    run.run()
    tr = run.trace
    client = tr.node_id("client")
    frames = capture_frames(run, client)
    arriving = [(uid, t, data) for uid, out, t, data in frames if not out]
    uids = [uid for uid, _, _ in arriving]
    assert dropped[0] not in uids
    original = [f for f in arriving if f[0] == duped[0]]
    twin = [f for f in arriving if f[0] == copy]
    assert len(original) == len(twin) == 1
    assert original[0][2] == twin[0][2]            # the same datagram, twice
    assert twin[0][1] > original[0][1]             # one serialisation behind on the next link
    router = tr.node_id("router")                  # the far end of the link where it was copied
    at_router = {uid: t for uid, out, t, _ in capture_frames(run, router) if not out}
    assert at_router[copy] == at_router[duped[0]] + 1 == duped[4] + 1
    assert dropped[0] not in at_router
    (late,) = [t for uid, out, t, _ in capture_frames(run, router) if uid == delayed[0] and not out]
    assert late == delayed[4] + 4_000_000
    tshark = shutil.which("tshark")
    if tshark is None:
        return
    import io
    import tempfile
    buf = io.BytesIO()
    n = write_pcapng(tr, client, buf)
    with tempfile.NamedTemporaryFile(suffix=".pcapng") as f:
        f.write(buf.getvalue())
        f.flush()
        out = subprocess.run([tshark, "-n", "-r", f.name, "-o", "tcp.check_checksum:TRUE",
                              "-T", "fields", "-e", "frame.number", "-e", "tcp.checksum.status",
                              "-e", "_ws.malformed"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == n
    assert all(line.split("\t")[1] == "1" and not line.split("\t")[2] for line in lines)


def test_typed_and_narrated_for_every_row_of_an_acted_run():
    run = transfer()
    scripted(run)
    narrator = Narrator(run.trace)
    for i in range(len(run.trace)):
        ev = run.trace.event(i)
        assert narrator.explain(i) != type(ev).__name__, ev
    assert "\n".join(Ladder(run.trace, verbose=True).lines())
