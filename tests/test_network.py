"""Links, routers and faults: every impairment and drop reason, and knobs that act at once."""

import pytest

from tcplab.net.faults import PacketRule, SegmentFilter, parse_flags
from tcplab.net.link import ChannelParams
from tcplab.net.network import Network, TopologyError
from tcplab.net.packet import ACK, SYN, Packet, Segment
from tcplab.sim.clock import MS, SEC, US
from tcplab.trace.events import DropReason, EventKind

A_IP, B_IP = 0xC0000201, 0xC0000202


def net_with(params=None, router=True, **kw):
    """host a -- [router r --] host b, with ``params`` on every link."""
    net = Network(seed=kw.get("seed", 1))
    a = net.add_host("a", A_IP)
    b = net.add_host("b", B_IP)
    p = params or ChannelParams(bandwidth=10_000_000, delay=1 * MS)
    if router:
        net.add_router("r")
        net.add_link("a", "r", ChannelParams(**p.__dict__))
        net.add_link("r", "b", ChannelParams(**p.__dict__))
    else:
        net.add_link("a", "b", p)
    net.compute_routes()
    arrived = []
    b.receive = lambda pkt, ch, _orig=b.receive: arrived.append((net.sched.now, pkt)) if b._arrive(pkt, ch) else None
    return net, a, b, arrived


def send(net, host, n=1, size=100, seq0=1000, flags=ACK, ttl=64, dst=B_IP):
    for k in range(n):
        seg = Segment(1000, 80, seq0 + k * size, 0, flags, 1000, b"x" * size)
        pkt = Packet(-1, host.ip, dst, seg, ttl=ttl)
        net.trace.add_packet(pkt)
        host.routes[dst].send(pkt)


def drops(net):
    tr = net.trace
    return [DropReason(tr.a[i]) for i in tr.indices(EventKind.DROP)]


def test_serialisation_and_propagation_delay():
    net, a, b, arrived = net_with(router=False)
    send(net, a, size=1210)             # 1250 bytes with headers = 1 ms at 10 Mb/s
    net.run()
    assert arrived[0][0] == 1 * MS + 1 * MS


def test_fifo_queue_and_drop_tail():
    net, a, b, arrived = net_with(ChannelParams(bandwidth=1_000_000, delay=0, queue=3), router=False)
    send(net, a, n=6)
    net.run()
    assert len(arrived) == 4                                # one on the wire + three queued
    assert drops(net) == [DropReason.QUEUE_FULL] * 2
    seqs = [p.segment.seq for _, p in arrived]
    assert seqs == sorted(seqs)


def test_link_down_drops_and_restore_carries_again():
    net, a, b, arrived = net_with(router=False)
    link = net.link("a-b")
    link.set("up", False)
    send(net, a)
    net.run()
    assert drops(net) == [DropReason.LINK_DOWN] and not arrived
    link.set("up", True)
    send(net, a)
    net.run()
    assert len(arrived) == 1


def test_packets_on_the_wire_are_lost_when_the_link_is_cut():
    net, a, b, arrived = net_with(ChannelParams(bandwidth=0, delay=10 * MS), router=False)
    send(net, a)
    net.sched.schedule_at(5 * MS, net.link("a-b").set, "up", False)
    net.run()
    assert not arrived and drops(net) == [DropReason.LINK_DOWN]


def test_router_decrements_ttl_and_drops_expired():
    net, a, b, arrived = net_with()
    send(net, a, ttl=5)
    send(net, a, ttl=1, seq0=5000)
    net.run()
    assert [p.ttl for _, p in arrived] == [4]
    assert drops(net) == [DropReason.TTL_EXPIRED]
    assert net.trace.packets[0].ttl == 5                   # the traced original is untouched


def test_no_route_is_traced():
    net, a, b, arrived = net_with()
    r = net.nodes["r"]
    del r.routes[B_IP]
    send(net, a)
    net.run()
    assert drops(net) == [DropReason.NO_ROUTE]


def test_mtu_exceeded_with_df():
    net, a, b, arrived = net_with(ChannelParams(bandwidth=0, mtu=576), router=False)
    send(net, a, size=600)
    net.run()
    assert drops(net) == [DropReason.MTU]


def test_corruption_is_caught_by_the_receivers_checksum():
    net, a, b, arrived = net_with(ChannelParams(bandwidth=0, corrupt=1.0), router=False)
    b.receive = b.__class__.receive.__get__(b)              # the real host receive path
    send(net, a, n=5)
    net.run()
    assert drops(net) == [DropReason.CHECKSUM] * 5


def test_duplication_delivers_two_copies():
    net, a, b, arrived = net_with(ChannelParams(bandwidth=0, delay=MS, dup=1.0), router=False)
    send(net, a, n=3)
    net.run()
    assert len(arrived) == 6
    dups = [p for _, p in arrived if p.dup_of >= 0]
    assert len(dups) == 3


def test_reordering_lets_later_packets_overtake():
    params = ChannelParams(bandwidth=10_000_000, delay=MS, reorder=1.0, reorder_delay=5 * MS)
    net, a, b, arrived = net_with(params, router=False)
    send(net, a, n=1)
    net.link("a-b").set("reorder", 0.0)
    send(net, a, n=2, seq0=5000)
    net.run()
    assert [p.segment.seq for _, p in arrived] == [5000, 5100, 1000]


def test_jitter_never_reorders():
    params = ChannelParams(bandwidth=100_000_000, delay=MS, jitter=20 * MS)
    net, a, b, arrived = net_with(params, router=False)
    send(net, a, n=50)
    net.run()
    times = [t for t, _ in arrived]
    seqs = [p.segment.seq for _, p in arrived]
    assert seqs == sorted(seqs) and times == sorted(times) and len(set(times)) > 10


def test_random_loss_rate_and_gilbert_elliott_bursts():
    net, a, b, arrived = net_with(ChannelParams(bandwidth=0, loss=0.2), router=False)
    send(net, a, n=2000)
    net.run()
    lost = drops(net).count(DropReason.LOSS)
    assert 300 < lost < 500
    net, a, b, arrived = net_with(ChannelParams(bandwidth=0, ge_p=0.05, ge_r=0.25), router=False)
    send(net, a, n=4000)
    net.run()
    tr = net.trace
    lost = sorted(tr.pkt[i] for i in tr.indices(EventKind.DROP))
    runs = sum(1 for x, y in zip(lost, lost[1:]) if y == x + 1)
    assert len(lost) > 100 and runs > len(lost) / 2          # losses come in bursts


def test_parameter_change_applies_at_once():
    net, a, b, arrived = net_with(ChannelParams(bandwidth=0, delay=MS), router=False)
    send(net, a, n=100)
    net.run()
    assert not drops(net)
    net.link("a-b").set("loss", 1.0)
    send(net, a, n=100, seq0=10**6)
    net.run()
    assert drops(net) == [DropReason.LOSS] * 100
    sets = [net.trace.event(i) for i in net.trace.indices(EventKind.LINK_SET)]
    assert {(e.param, e.new) for e in sets} == {("loss", 1.0)}


def test_bad_parameter_change_is_refused_and_nothing_changes():
    net, a, b, arrived = net_with(router=False)
    link = net.link("a-b")
    with pytest.raises(ValueError, match="loss 1.5 is outside"):
        link.set("loss", 1.5)
    with pytest.raises(ValueError, match="unknown parameter"):
        link.set("colour", 1)
    assert link.channels[0].p.loss == 0.0


def test_targeted_drop_of_nth_data_segment_in_one_direction():
    net, a, b, arrived = net_with(router=False)
    rule = PacketRule(SegmentFilter(data=True), "drop", nth=3)
    net.link("a-b").channel_from(a).rules.append(rule)
    send(net, a, n=5)
    net.run()
    assert [p.segment.seq for _, p in arrived] == [1000, 1100, 1300, 1400]
    assert drops(net) == [DropReason.FAULT]


def test_targeted_drop_by_flags_and_seq():
    net, a, b, arrived = net_with(router=False)
    ch = net.link("a-b").channel_from(a)
    ch.rules.append(PacketRule(SegmentFilter(flags=parse_flags("SYN")), "drop"))
    ch.rules.append(PacketRule(SegmentFilter(seq=1200), "drop"))
    send(net, a, n=3)
    send(net, a, n=1, seq0=7, flags=SYN)
    net.run()
    assert sorted(p.segment.seq for _, p in arrived) == [1000, 1100]
    with pytest.raises(ValueError, match="unknown TCP flag"):
        parse_flags("SYN|BOGUS")


def test_topology_errors_are_precise():
    net = Network()
    net.add_host("a", A_IP)
    with pytest.raises(TopologyError, match="duplicate node name 'a'"):
        net.add_router("a")
    with pytest.raises(TopologyError, match="unknown node 'zz'"):
        net.add_link("a", "zz", ChannelParams())
    net.add_host("b", B_IP)
    with pytest.raises(TopologyError, match=r"delay must not be negative"):
        net.add_link("a", "b", ChannelParams(delay=-1))
    with pytest.raises(TopologyError, match=r"loss 2 is outside \[0, 1\]"):
        net.add_link("a", "b", ChannelParams(loss=2))
    with pytest.raises(TopologyError, match="no path between hosts a and b"):
        net.compute_routes()


def test_routes_follow_the_lowest_delay():
    net = Network()
    net.add_host("a", A_IP)
    net.add_host("b", B_IP)
    net.add_router("slow")
    net.add_router("fast")
    for r, d in (("slow", 50 * MS), ("fast", 1 * MS)):
        net.add_link("a", r, ChannelParams(delay=d))
        net.add_link(r, "b", ChannelParams(delay=d))
    net.compute_routes()
    assert net.nodes["a"].routes[B_IP].dst.name == "fast"


def test_connection_endpoints_know_their_peer():
    from tcplab.scenario import load
    from tcplab.scenario.runner import Run
    run = Run(load("cubic-vs-reno"))
    run.run()
    conns = run.trace.conns
    assert len(conns) == 4
    for c in conns:
        other = conns[c.peer]
        assert other.peer == c.id and other.app == c.app and other.role != c.role
        assert (other.local_ip, other.local_port) == (c.remote_ip, c.remote_port)
