"""The editable scenario document behind the GUI editor: queries, checked edits that leave the
document unchanged when refused, renames and deletions that keep every reference consistent,
undo snapshots, atomic saving, the [layout] table and the automatic layout. No Qt."""

import os
import tomllib

import pytest

from tcplab.scenario import ScenarioError, builtin_scenarios, loads
from tcplab.scenario.document import ScenarioDocument
from tcplab.scenario.runner import Run
from tcplab.scenario.units import format_duration, format_rate, parse_duration, parse_rate
from tcplab.sim.clock import MS, SEC

CHAIN = """
[scenario]
title = "chain"
[hosts.client]
isn = 100
[hosts.server]
[routers.r1]
[routers.r2]
[links.client-r1]
delay = "1ms"
[links.r1-r2]
bandwidth = "10Mbps"
delay = 0.005
loss = 0.01
[links.r2-server]
delay = "1ms"
[apps.web]
type = "request"
client = "client"
server = "server"
port = 80
[apps.bulk]
type = "bulk"
client = "server"
server = "client"
port = 5001
bytes = 5000
[[faults]]
action = "link_down"
link = "r2-r1"
at = 1.0
[[faults]]
action = "crash"
host = "server"
at = 2.5
[[faults]]
action = "drop"
link = "client-r1"
from = "r1"
app = "web"
[[faults]]
action = "set"
path = "links.r1-r2.delay"
value = "50ms"
at = 0.5
[[faults]]
action = "abort"
app = "bulk"
"""


@pytest.fixture
def doc():
    return ScenarioDocument(tomllib.loads(CHAIN))


def refused(doc, fn, *args, **kwargs):
    """Call an edit that must be refused; check that the document did not change."""
    before = doc.snapshot()
    with pytest.raises(ValueError) as e:
        fn(*args, **kwargs)
    assert doc.raw == before
    return str(e.value)


# ------------------------------------------------------------------------------ opening
def test_new_is_only_a_title():
    d = ScenarioDocument.new()
    assert d.raw == {"scenario": {"title": "Untitled"}}
    assert d.path is None and d.nodes() == [] and d.links() == []
    assert "at least two hosts" in d.problem()


def test_constructor_copies_the_table():
    raw = tomllib.loads(CHAIN)
    d = ScenarioDocument(raw, "x.toml")
    d.set_value(("links", "r1-r2", "loss"), 0.5)
    assert raw["links"]["r1-r2"]["loss"] == 0.01
    assert d.path.name == "x.toml" and d.name == "x"


def test_from_builtin_keeps_origin_and_no_path():
    d = ScenarioDocument.from_builtin("bulk")
    assert d.path is None and d.origin == "bulk" and d.name == "bulk"
    assert d.problem() is None
    with pytest.raises(ScenarioError, match="unknown built-in scenario 'nope'"):
        ScenarioDocument.from_builtin("nope")


def test_from_file_refuses_unreadable_non_toml_and_invalid(tmp_path):
    with pytest.raises(ScenarioError, match="no such file"):
        ScenarioDocument.from_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[hosts.client\n")
    with pytest.raises(ScenarioError, match=r"bad\.toml: not valid TOML"):
        ScenarioDocument.from_file(bad)
    invalid = tmp_path / "invalid.toml"
    invalid.write_text(CHAIN.replace("loss = 0.01", "loss = 1.5"))
    with pytest.raises(ScenarioError, match=r"invalid\.toml: links\.r1-r2\.loss: 1\.5 is outside"):
        ScenarioDocument.from_file(invalid)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ScenarioError, match="binary.toml"):
        ScenarioDocument.from_file(binary)


def _one_host():
    d = ScenarioDocument.new()
    d.add_node("host", "alone", (100, 100))
    return d


def _two_loose_hosts():
    d = _one_host()
    d.add_node("host", "other", (300, 100))
    return d


def _host_and_router_linked():
    d = _one_host()
    d.add_node("router", "r1")
    d.add_link("alone", "r1", {"delay": "5ms"})
    return d


def _chain_cut(doc):
    doc.remove_link("r1-r2")             # apps stay; the faults on the link go
    return doc


def _chain_without_server(doc):
    doc.remove_nodes(["server"])         # one host left; its applications go
    return doc


def _app_with_client_only():
    # Edits cannot leave an application half-set yet, but a draft may: the GUI saves it.
    d = _two_loose_hosts()
    d.raw["apps"] = {"web": {"type": "request", "client": "alone", "request": 100}}
    return d


def _apps_without_hosts_or_ports():
    d = _two_loose_hosts()
    d.raw["apps"] = {"web": {"type": "request", "server": "other"},
                     "web2": {"type": "request", "server": "other"},
                     "bulk": {"type": "bulk", "bytes": 1000, "tcp": {"cc": "reno"}}}
    return d


@pytest.mark.parametrize("build", [
    lambda doc: ScenarioDocument.new(), lambda doc: _one_host(), lambda doc: _two_loose_hosts(),
    lambda doc: _host_and_router_linked(), _chain_cut, _chain_without_server,
    lambda doc: _app_with_client_only(), lambda doc: _apps_without_hosts_or_ports(),
], ids=["new", "one-host", "two-loose-hosts", "host-router", "chain-cut", "chain-one-host",
        "app-client-only", "apps-no-hosts-or-ports"])
def test_from_file_partial_reopens_work_in_progress(doc, build, tmp_path):
    draft = build(doc)
    target = draft.save(tmp_path / "draft.toml")
    assert draft.problem() is not None
    with pytest.raises(ScenarioError, match=r"draft\.toml: "):
        ScenarioDocument.from_file(target)                       # strict: still refused
    again = ScenarioDocument.from_file(target, partial=True)
    assert again.raw == draft.raw
    assert again.path == target
    assert again.problem() == draft.problem()                    # why it cannot run yet


def test_from_file_partial_problem_says_what_is_missing(tmp_path):
    d = _app_with_client_only()
    d.add_link("alone", "other")
    d.save(tmp_path / "d.toml")
    again = ScenarioDocument.from_file(tmp_path / "d.toml", partial=True)
    assert again.problem() == "d.toml: apps.web.server: missing: which host runs this side"
    again.raw["apps"]["web"].update(server="other", port=80)
    assert again.problem() is None


def test_from_file_partial_opens_valid_files_as_strict_does(tmp_path):
    source = tmp_path / "chain.toml"
    source.write_text(CHAIN)
    assert (ScenarioDocument.from_file(source, partial=True).raw
            == ScenarioDocument.from_file(source).raw == tomllib.loads(CHAIN))


ONE_HOST = "[hosts.client]\n[routers.r1]\n[links.client-r1]\n"


@pytest.mark.parametrize("text, message", [
    ("[hosts.client\n", "not valid TOML: "),
    ("[hostz.client]\n", "hostz: unknown section; sections: apps, faults, hosts, layout, links, "
                          "routers, scenario, tcp"),
    (ONE_HOST + "colour = 1\n", "links.client-r1.colour: unknown key; known keys: "),
    ("[hosts.client]\nport = 1\n", "hosts.client.port: unknown key; known keys: address, isn"),
    (ONE_HOST + "loss = 2\n", "links.client-r1.loss: 2 is outside [0, 1]"),
    (ONE_HOST + "delay = \"fast\"\n", "links.client-r1.delay: "),
    ("[hosts.1st]\n", "hosts.1st: '1st' is not a valid name (letters, digits, _; starting with a "
                       "letter)"),
    ("[hosts.client]\n[routers.client]\n", "routers.client: duplicate node name: 'client' is "
                                               "also a host"),
    (ONE_HOST + "[links.client-r9]\n", "links.client-r9: unknown node 'r9'; nodes: client, r1"),
    ("[links.a-b]\n", "links.a-b: unknown node 'a'; nodes: none"),
    (ONE_HOST + "[links.r1-client]\n", "links.r1-client: duplicate link between r1 and client"),
    ("[hosts.a]\naddress = \"10.0.0.1\"\n[hosts.b]\naddress = \"10.0.0.1\"\n",
     "hosts.b.address: 10.0.0.1 is already the address of a"),
    ("[hosts.a]\n[apps.web]\nclient = \"a\"\n",
     "apps.web.type: expected one of bulk, request, echo, typing, got None"),
    ("[hosts.a]\n[apps.web]\ntype = \"request\"\nclient = \"b\"\n",
     "apps.web.client: 'b' is not a host; hosts: a"),
    ("[hosts.a]\n[apps.web]\ntype = \"request\"\nclient = \"a\"\nserver = \"a\"\n",
     "apps.web: client and server must be different hosts"),
    ("[hosts.a]\n[apps.web]\ntype = \"echo\"\nrequest = 5\n", "apps.web.request: unknown key"),
    ("[hosts.a]\n[apps.web]\ntype = \"echo\"\ntcp = { cc = \"fast\" }\n", "apps.web.tcp.cc: "),
    ("[hosts.a]\n[apps.x]\ntype = \"echo\"\nserver = \"a\"\nport = 7\n"
     "[apps.y]\ntype = \"echo\"\nserver = \"a\"\nport = 7\n",
     "apps.y.port: a:7 is already used by app x"),
    ("[tcp]\nmss = \"big\"\n", "tcp.mss: expected a whole number, got 'big'"),
    ("[hosts.a]\n[layout]\nb = [1, 2]\n", "layout.b: not a node; nodes: a"),
    ("[hosts.a]\n[layout]\na = [1]\n", "layout.a: expected [x, y], two numbers, got [1]"),
    (ONE_HOST + "[[faults]]\naction = \"drop\"\nlink = \"client-r2\"\n",
     "faults[0].link: unknown link 'client-r2'; links: client-r1, r1-client"),
    ("[hosts.a]\n[[faults]]\naction = \"crash\"\nhost = \"b\"\n", "faults[0].host: unknown host 'b'"),
])
def test_from_file_partial_refuses_what_no_edit_makes(tmp_path, text, message):
    target = tmp_path / "p.toml"
    target.write_text(text)
    with pytest.raises(ScenarioError) as e:
        ScenarioDocument.from_file(target, partial=True)
    assert str(e.value).startswith(f"{target}: {message}")
    assert "standin" not in str(e.value)


def test_from_file_partial_stand_ins_never_clash_with_the_file(tmp_path):
    target = tmp_path / "p.toml"
    target.write_text("[hosts.standin1h1]\n[hosts.standin2r]\n[layout]\nstandin3 = [1, 2]\n")
    with pytest.raises(ScenarioError) as e:
        ScenarioDocument.from_file(target, partial=True)
    assert str(e.value) == f"{target}: layout.standin3: not a node; nodes: standin1h1, standin2r"


def test_from_file_partial_refuses_unreadable_files_as_strict_does(tmp_path):
    for target, content in [(tmp_path / "missing.toml", None), (tmp_path / "bin.toml", b"\xff\xfe\x00")]:
        if content is not None:
            target.write_bytes(content)
        with pytest.raises(ScenarioError) as strict:
            ScenarioDocument.from_file(target)
        with pytest.raises(ScenarioError) as partial:
            ScenarioDocument.from_file(target, partial=True)
        assert str(partial.value) == str(strict.value)


# ------------------------------------------------------------------------------ queries
def test_queries(doc):
    assert doc.hosts() == ["client", "server"]
    assert doc.routers() == ["r1", "r2"]
    assert doc.nodes() == [("client", "host"), ("server", "host"), ("r1", "router"), ("r2", "router")]
    assert doc.links() == [("client-r1", "client", "r1"), ("r1-r2", "r1", "r2"),
                           ("r2-server", "r2", "server")]
    assert doc.apps() == ["web", "bulk"]
    assert doc.get(("links", "r1-r2", "loss")) == 0.01
    assert doc.get(("links", "r1-r2", "jitter")) is None
    assert doc.get(("links", "r1-r2", "jitter"), 0) == 0
    assert doc.get(("links", "nope", "loss"), "x") == "x"
    assert doc.get(("faults", 1, "host")) == "server"
    assert doc.link_name("r2", "r1") == "r1-r2" and doc.link_name("r1", "r2") == "r1-r2"
    assert doc.link_name("client", "server") is None
    assert doc.position("client") is None
    assert doc.node_kind("r1") == "router" and doc.node_kind("web") is None


def test_get_returns_copies(doc):
    table = doc.get(("links", "r1-r2"))
    table["loss"] = 0.9
    assert doc.get(("links", "r1-r2", "loss")) == 0.01


def test_scenario_and_problem(doc):
    sc = doc.scenario()
    assert sc.title == "chain" and sc.seed == 1
    assert doc.scenario(seed=42).seed == 42
    assert doc.get(("scenario", "seed")) is None        # the document keeps its own
    assert doc.problem() is None
    doc.remove_link("r1-r2")
    assert doc.problem() == "untitled: links: no path between hosts client and server"
    with pytest.raises(ScenarioError, match="no path between hosts"):
        doc.scenario()


# ------------------------------------------------------------------------------ snapshots
def test_snapshot_and_restore(doc):
    snap = doc.snapshot()
    doc.add_node("host", "extra", pos=(10, 20))
    doc.set_value(("links", "r1-r2", "loss"), 0.2)
    after = doc.snapshot()
    doc.restore(snap)
    assert doc.raw == snap and "extra" not in doc.hosts()
    doc.restore(after)
    assert doc.get(("links", "r1-r2", "loss")) == 0.2
    doc.set_value(("links", "r1-r2", "loss"), 0.3)     # editing after restore...
    assert after["links"]["r1-r2"]["loss"] == 0.2       # ...leaves the snapshot alone
    snap["links"]["r1-r2"]["loss"] = 0.7
    assert doc.get(("links", "r1-r2", "loss")) == 0.3


# ------------------------------------------------------------------------------ nodes
def test_add_node_names_and_positions(doc):
    assert doc.add_node("host") == "host1"
    assert doc.add_node("host") == "host2"
    assert doc.add_node("router") == "r3"               # r1 and r2 are taken
    assert doc.add_node("router", "edge", pos=(12.34, 56)) == "edge"
    assert doc.position("edge") == (12.3, 56.0)
    assert doc.get(("layout", "edge")) == [12.3, 56]
    assert doc.get(("hosts", "host1")) == {} and doc.get(("routers", "edge")) == {}


def test_add_node_without_position_goes_beside_the_drawing(doc):
    doc.add_node("host", "loose")
    assert doc.position("loose") is None               # nothing placed yet: left to the layout
    doc.auto_layout()
    doc.add_node("host", "late")
    x, y = doc.position("late")
    others = [doc.position(n) for n, _k in doc.nodes() if n != "late"]
    assert all(abs(x - ox) + abs(y - oy) > 50 for ox, oy in others)


def test_add_node_refusals(doc):
    assert "unknown node kind 'switch'" in refused(doc, doc.add_node, "switch")
    assert refused(doc, doc.add_node, "host", "r1") == "name: there is already a router named r1"
    assert "not a valid name" in refused(doc, doc.add_node, "host", "9lives")
    assert "not a valid name" in refused(doc, doc.add_node, "host", "a-b")
    assert "position" in refused(doc, doc.add_node, "host", "h", pos=("a", 1))
    assert "finite" in refused(doc, doc.add_node, "host", "h", pos=(float("nan"), 1))


def test_remove_nodes_cascades(doc):
    doc.auto_layout()
    removed = doc.remove_nodes(["server"])
    assert removed["nodes"] == ["server"]
    assert removed["links"] == ["r2-server"]
    assert removed["apps"] == ["web", "bulk"]
    assert removed["faults"] == ["crash server at 2.5 s", "drop on client-r1", "abort bulk"]
    assert doc.hosts() == ["client"] and "apps" not in doc.raw
    assert doc.position("server") is None and "server" not in doc.get(("layout",))
    assert [f["action"] for f in doc.get(("faults",))] == ["link_down", "set"]


def test_remove_router_takes_faults_on_its_links(doc):
    removed = doc.remove_nodes(["r2"])
    assert removed["links"] == ["r1-r2", "r2-server"]
    assert removed["apps"] == []
    assert removed["faults"] == ["link_down on r2-r1 at 1 s", "set links.r1-r2.delay at 500 ms"]
    assert len(doc.get(("faults",))) == 3


def test_remove_nodes_refuses_unknown_and_changes_nothing(doc):
    assert refused(doc, doc.remove_nodes, ["r1", "ghost"]) == "unknown node 'ghost'"


def test_remove_everything_leaves_a_clean_table(doc):
    doc.remove_nodes([n for n, _k in doc.nodes()])
    assert doc.raw == {"scenario": {"title": "chain"}}


def test_rename_node_propagates(doc):
    doc.auto_layout()
    where = doc.position("server")
    doc.rename_node("server", "srv")
    assert doc.hosts() == ["client", "srv"]             # same place in the table
    assert ("r2-srv", "r2", "srv") in doc.links()
    assert doc.get(("apps", "web", "server")) == "srv" and doc.get(("apps", "bulk", "client")) == "srv"
    assert doc.get(("faults", 1, "host")) == "srv"
    assert doc.position("srv") == where and doc.position("server") is None
    doc.rename_node("r1", "core")
    assert doc.get(("faults", 0, "link")) == "r2-core"
    assert doc.get(("faults", 2, "from")) == "core" and doc.get(("faults", 2, "link")) == "client-core"
    assert doc.get(("faults", 3, "path")) == "links.core-r2.delay"
    assert doc.problem() is None
    doc.rename_node("core", "core")                     # no change, no complaint


def test_rename_node_refusals(doc):
    assert refused(doc, doc.rename_node, "ghost", "x") == "unknown node 'ghost'"
    assert refused(doc, doc.rename_node, "r1", "client") == "name: there is already a host named client"
    assert "not a valid name" in refused(doc, doc.rename_node, "r1", "r-1")
    assert "not a valid name" in refused(doc, doc.rename_node, "r1", "")


def test_move_node(doc):
    doc.move_node("r1", 100, 200.25)
    assert doc.position("r1") == (100.0, 200.2)
    doc.move_nodes({"r1": (1, 2), "r2": (3, 4)})
    assert doc.position("r1") == (1.0, 2.0) and doc.position("r2") == (3.0, 4.0)
    assert refused(doc, doc.move_node, "ghost", 1, 2) == "unknown node 'ghost'"
    assert "position" in refused(doc, doc.move_node, "r1", "left", 2)
    assert "position" in refused(doc, doc.move_nodes, {"r2": (9, 9), "r1": (True, 2)})


# ------------------------------------------------------------------------------ links
def test_add_link(doc):
    doc.add_node("host", "h3")
    assert doc.add_link("h3", "r2", {"delay": "3ms", "reverse": {"loss": 0.1}}) == "h3-r2"
    assert doc.get(("links", "h3-r2")) == {"delay": "3ms", "reverse": {"loss": 0.1}}
    doc.add_node("host", "h4")
    assert doc.add_link("r1", "h4") == "r1-h4" and doc.get(("links", "r1-h4")) == {}


def test_add_link_refusals(doc):
    assert refused(doc, doc.add_link, "r1", "r1") == "a link needs two different nodes"
    assert refused(doc, doc.add_link, "r2", "r1") == "r2 and r1 are already linked (r1-r2)"
    assert refused(doc, doc.add_link, "r1", "r2") == "r1 and r2 are already linked (r1-r2)"
    assert refused(doc, doc.add_link, "r1", "mars") == "unknown node 'mars'"
    assert refused(doc, doc.add_link, "client", "r2", {"loss": 2}) == "loss: 2 is outside [0, 1]"
    assert refused(doc, doc.add_link, "client", "r2", {"forward": {"mtu": 10}}) == \
        "forward.mtu: 10 is below the minimum 68"
    assert "unknown key; known keys: bandwidth, corrupt" in refused(doc, doc.add_link, "client", "r2",
                                                                   {"speed": 1})


def test_remove_link_takes_its_faults_either_name(doc):
    removed = doc.remove_link("r2-r1")
    assert removed == {"links": ["r1-r2"],
                       "faults": ["link_down on r2-r1 at 1 s", "set links.r1-r2.delay at 500 ms"]}
    assert doc.link_name("r1", "r2") is None
    assert [f["action"] for f in doc.get(("faults",))] == ["crash", "drop", "abort"]
    assert "unknown link 'r1-r2'" in refused(doc, doc.remove_link, "r1-r2")
    assert "unknown link" in refused(doc, doc.remove_link, "nodash")


# ------------------------------------------------------------------------------ values
def test_set_value_keeps_file_units(doc):
    doc.set_value(("links", "r1-r2", "delay"), "20ms")
    doc.set_value(("links", "r1-r2", "forward", "loss"), 0.5)
    doc.set_value(("links", "r1-r2", "reverse", "bandwidth"), "1 Mb/s")
    doc.set_value(("scenario", "duration"), 10)
    doc.set_value(("tcp", "cc"), "Reno")
    doc.set_value(("tcp", "mss"), 500.0)
    doc.set_value(("hosts", "server", "address"), "10.0.0.2")
    doc.set_value(("apps", "web", "response"), 5000)
    doc.set_value(("apps", "web", "tcp", "nagle"), False)
    doc.set_value(("apps", "web", "client_tcp", "rcv_buf"), 4000)
    assert doc.get(("links", "r1-r2")) == {"bandwidth": "10Mbps", "delay": "20ms", "loss": 0.01,
                                           "forward": {"loss": 0.5},
                                           "reverse": {"bandwidth": "1 Mb/s"}}
    assert doc.get(("tcp",)) == {"cc": "reno", "mss": 500}
    assert isinstance(doc.get(("tcp", "mss")), int)
    sc = doc.scenario()
    link = sc.links[1]
    assert link.ab.delay == 20 * MS and link.ab.loss == 0.5 and link.ba.loss == 0.01
    assert link.ba.bandwidth == 1_000_000
    web = sc.apps[0]
    assert web.params["response"] == 5000 and web.client_tcp.rcv_buf == 4000
    assert not web.client_tcp.nagle and web.server_tcp.rcv_buf == 65535
    assert sc.duration == 10 * SEC and sc.hosts["server"]["address"] == "10.0.0.2"


@pytest.mark.parametrize("path, value, message", [
    (("links", "r1-r2", "loss"), 1.5, "loss: 1.5 is outside [0, 1]"),
    (("links", "r1-r2", "delay"), "5 parsecs", "delay: expected a duration"),
    (("links", "r1-r2", "delay"), "-5ms", "delay: duration '-5ms' is negative"),
    (("links", "r1-r2", "bandwidth"), "fast", "bandwidth: expected a bandwidth"),
    (("links", "r1-r2", "forward", "queue"), -1, "queue: -1 is below the minimum 0"),
    (("links", "r1-r2", "up"), "yes", "up: expected true or false"),
    (("links", "r1-r2", "lost"), 1, "lost: unknown key; known keys: bandwidth, corrupt, delay"),
    (("links", "r1-r2", "sideways", "loss"), 0.1, "sideways is not a table of link settings"),
    (("links", "r2-r1", "loss"), 0.1, "unknown link 'r2-r1' (it is named r1-r2)"),
    (("scenario", "seed"), -1, "seed: -1 is below the minimum 0"),
    (("scenario", "speed"), 1, "speed: unknown key; known keys: description, duration, seed, title"),
    (("scenario", "duration"), 0, "duration: must be greater than zero"),
    (("tcp", "mss"), 10, "mss: 10 is outside 64..65495 bytes"),
    (("tcp", "cc"), "vegas", "cc: unknown congestion control 'vegas'"),
    (("tcp", "max_rto"), 0.5, "tcp.min_rto: 1 s exceeds max_rto 0.5 s"),
    (("tcp", "rcv_buf"), 2**31, "rcv_buf: 2147483648 is outside 1..1073741824 bytes"),
    (("tcp", "turbo"), True, "turbo: unknown TCP option; options:"),
    (("tcp", "sack"), 1, "sack: expected true or false"),
    (("hosts", "client", "address"), "1.2.3", "address:"),
    (("hosts", "client", "mac"), "x", "mac: unknown key; known keys: address, isn"),
    (("hosts", "ghost", "isn"), 1, "unknown host 'ghost'; hosts: client, server"),
    (("routers", "r1", "color"), "red", "color: unknown key; this table takes no keys"),
    (("apps", "web", "port"), 0, "port: 0 is below the minimum 1"),
    (("apps", "web", "bytes"), 10, "bytes: unknown key; known keys:"),
    (("apps", "web", "server"), "r1", "server: 'r1' is not a host; hosts: client, server"),
    (("apps", "web", "server"), "client", "client and server must be different hosts"),
    (("apps", "web", "type"), "ftp", "type: expected one of bulk, request, echo, typing"),
    (("apps", "web", "tcp", "mss"), 1, "mss: 1 is outside 64..65495 bytes"),
    (("apps", "web", "server_tcp", "min_rto"), 100, "min_rto: 100 s exceeds max_rto 60 s"),
    (("apps", "ghost", "port"), 1, "unknown application 'ghost'"),
    (("faults", "0", "at"), 1, "cannot set faults.0.at"),
    (("links", "r1-r2"), {}, "cannot set links.r1-r2 as a whole"),
    (("layout", "ghost"), [1, 2], "unknown node 'ghost'"),
    (("layout", "r1"), [1], "position: expected [x, y]"),
])
def test_set_value_refusals(doc, path, value, message):
    assert message in refused(doc, doc.set_value, path, value)


def test_tcp_defaults_are_checked_against_every_application(doc):
    doc.set_value(("apps", "web", "tcp", "max_rto"), 5)
    msg = refused(doc, doc.set_value, ("tcp", "min_rto"), 10)
    assert msg == "apps.web.tcp.min_rto: 10 s exceeds max_rto 5 s"


def test_host_address_stays_unique(doc):
    doc.set_value(("hosts", "client", "address"), "10.0.0.1")
    assert refused(doc, doc.set_value, ("hosts", "server", "address"), "10.0.0.1") == \
        "address: 10.0.0.1 is already the address of client"


def test_app_port_stays_free_on_its_server(doc):
    # bulk runs server -> client; its sides cannot simply be swapped one at a time, since
    # client and server must differ after every edit: go through a third host.
    assert "client and server must be different hosts" in refused(
        doc, doc.set_value, ("apps", "bulk", "server"), "server")
    doc.add_node("host", "h3")
    doc.add_link("h3", "r1")
    doc.set_value(("apps", "bulk", "client"), "h3")
    doc.set_value(("apps", "bulk", "server"), "server")
    assert refused(doc, doc.set_value, ("apps", "bulk", "port"), 80) == \
        "port: server:80 is already used by app web"
    assert refused(doc, doc.set_value, ("apps", "web", "port"), 5001) == \
        "port: server:5001 is already used by app bulk"
    doc.set_value(("apps", "bulk", "client"), "client")
    assert doc.problem() is None


def test_changing_app_type_drops_keys_the_new_type_does_not_take(doc):
    doc.set_value(("apps", "bulk", "type"), "echo")
    assert doc.get(("apps", "bulk")) == {"type": "echo", "client": "server", "server": "client",
                                         "port": 5001, "bytes": 5000}
    doc.set_value(("apps", "bulk", "type"), "typing")
    assert "bytes" not in doc.get(("apps", "bulk"))
    assert doc.problem() is None


def test_set_value_none_and_tuples(doc):
    doc.set_value(("links", "r1-r2", "loss"), None)
    assert doc.get(("links", "r1-r2", "loss")) is None
    doc.set_value(("layout", "r1"), (5, 6))
    assert doc.position("r1") == (5.0, 6.0)


def test_set_a_whole_option_table(doc):
    doc.set_value(("apps", "web", "tcp"), {"cc": "cubic", "sack": False})
    assert doc.scenario().apps[0].server_tcp.cc == "cubic"
    assert "sack: expected true or false" in refused(doc, doc.set_value, ("apps", "web", "tcp"),
                                                     {"sack": "no"})


def test_unset_value(doc):
    assert doc.unset_value(("links", "r1-r2", "loss")) is True
    assert doc.unset_value(("links", "r1-r2", "loss")) is False
    doc.set_value(("links", "r1-r2", "forward", "loss"), 0.1)
    doc.unset_value(("links", "r1-r2", "forward", "loss"))
    assert "forward" not in doc.get(("links", "r1-r2"))          # emptied sub-table goes
    doc.set_value(("apps", "web", "client_tcp", "sack"), False)
    doc.unset_value(("apps", "web", "client_tcp", "sack"))
    assert "client_tcp" not in doc.get(("apps", "web"))
    doc.set_value(("tcp", "cc"), "reno")
    doc.unset_value(("tcp", "cc"))
    assert "tcp" not in doc.raw
    doc.unset_value(("hosts", "client", "isn"))
    assert doc.get(("hosts", "client")) == {}                    # the host stays
    doc.move_node("r1", 1, 1)
    doc.unset_value(("layout", "r1"))
    assert "layout" not in doc.raw
    doc.set_value(("tcp", "cc"), "reno")
    doc.unset_value(("tcp",))
    assert "tcp" not in doc.raw


def test_unset_refusals(doc):
    assert refused(doc, doc.set_value, ("tcp", "min_rto"), 100) == \
        "min_rto: 100 s exceeds max_rto 60 s"
    doc.set_value(("tcp", "max_rto"), 200)
    doc.set_value(("tcp", "min_rto"), 100)
    assert refused(doc, doc.unset_value, ("tcp", "max_rto")) == \
        "tcp.min_rto: 100 s exceeds max_rto 60 s"
    assert "port: required" in refused(doc, doc.unset_value, ("apps", "web", "port"))
    assert "use remove_nodes" in refused(doc, doc.unset_value, ("hosts", "client"))
    assert "use remove_app" in refused(doc, doc.unset_value, ("apps", "web"))
    assert "unknown link" in refused(doc, doc.unset_value, ("links", "a-b", "loss"))


# ------------------------------------------------------------------------------ applications
def test_add_app_names_and_ports(doc):
    assert doc.add_app("request", "client", "server") == "request"
    assert doc.get(("apps", "request", "port")) == 81            # 80 is web's
    assert doc.add_app("request", "client", "server") == "request2"
    assert doc.get(("apps", "request2", "port")) == 82
    assert doc.add_app("bulk", "client", "server", bytes=1000, tcp={"cc": "cubic"}) == "bulk2"
    assert doc.get(("apps", "bulk2")) == {"type": "bulk", "client": "client", "server": "server",
                                          "port": 5001, "bytes": 1000, "tcp": {"cc": "cubic"}}
    assert doc.add_app("echo", "server", "client", name="ping", port=7000) == "ping"
    assert doc.add_app("typing", "client", "server") == "typing"
    assert doc.get(("apps", "typing", "port")) == 23
    assert doc.problem() is None


def test_add_app_refusals(doc):
    assert "unknown application type 'ftp'" in refused(doc, doc.add_app, "ftp", "client", "server")
    assert "client: 'r1' is not a host" in refused(doc, doc.add_app, "bulk", "r1", "server")
    assert "client and server must be different hosts" in refused(doc, doc.add_app, "bulk", "client",
                                                                  "client")
    assert refused(doc, doc.add_app, "bulk", "client", "server", port=80) == \
        "port: server:80 is already used by app web"
    assert refused(doc, doc.add_app, "bulk", "client", "server", name="web") == \
        "name: there is already an application named web"
    assert "not a valid name" in refused(doc, doc.add_app, "bulk", "client", "server", name="1x")
    assert "bytes: expected a whole number" in refused(doc, doc.add_app, "bulk", "client", "server",
                                                       bytes="lots")
    assert "count: unknown key" in refused(doc, doc.add_app, "bulk", "client", "server", count=2)
    assert "cc: unknown congestion control" in refused(doc, doc.add_app, "bulk", "client", "server",
                                                       tcp={"cc": "vegas"})


def test_remove_and_rename_app(doc):
    doc.rename_app("web", "page")
    assert doc.apps() == ["page", "bulk"]
    assert doc.get(("faults", 2, "app")) == "page"
    assert refused(doc, doc.rename_app, "page", "bulk") == "name: there is already an application named bulk"
    assert refused(doc, doc.rename_app, "ghost", "x") == "unknown application 'ghost'"
    assert doc.remove_app("page") == {"apps": ["page"], "faults": ["drop on client-r1"]}
    assert doc.remove_app("bulk") == {"apps": ["bulk"], "faults": ["abort bulk"]}
    assert "apps" not in doc.raw
    assert refused(doc, doc.remove_app, "bulk") == "unknown application 'bulk'"
    assert doc.problem() is None


# ------------------------------------------------------------------------------ display
def test_display_value(doc):
    assert doc.display_value(("links", "r1-r2", "delay")) == "5 ms"
    assert doc.display_value(("links", "client-r1", "delay")) == "1 ms"
    assert doc.display_value(("links", "r1-r2", "bandwidth")) == "10 Mb/s"
    assert doc.display_value(("links", "client-r1", "bandwidth")) == "100 Mb/s"   # default
    assert doc.display_value(("links", "r1-r2", "loss")) == "0.01"
    assert doc.display_value(("links", "r1-r2", "forward", "loss")) == "0.01"    # inherited
    assert doc.display_value(("links", "r1-r2", "queue")) == "100"
    assert doc.display_value(("links", "r1-r2", "up")) == "true"
    assert doc.display_value(("scenario", "duration")) == "60 s"
    assert doc.display_value(("scenario", "title")) == "chain"
    assert doc.display_value(("tcp", "min_rto")) == "1 s"
    assert doc.display_value(("tcp", "delack_time")) == "200 ms"
    assert doc.display_value(("tcp", "iw")) == "auto"
    assert doc.display_value(("hosts", "client", "isn")) == "100"
    assert doc.display_value(("hosts", "server", "address")) == "auto"
    assert doc.display_value(("apps", "web", "response")) == "2000"             # type default
    assert doc.display_value(("apps", "web", "start")) == "0 s"
    assert doc.display_value(("faults", 0, "at")) == "1 s"
    assert doc.display_value(("faults", 3, "value")) == "50 ms"
    assert doc.display_value(("links", "r1-r2", "nonsense")) == ""
    doc.set_value(("tcp", "cc"), "reno")
    doc.set_value(("apps", "web", "tcp", "min_rto"), "200ms")
    assert doc.display_value(("apps", "web", "client_tcp", "cc")) == "reno"     # from [tcp]
    assert doc.display_value(("apps", "web", "server_tcp", "min_rto")) == "200 ms"
    assert doc.display_value(("apps", "web", "tcp")) == "min_rto = 200 ms"
    doc.add_app("typing", "client", "server")
    assert doc.display_value(("apps", "typing", "interval")) == "200 ms"
    doc.move_node("r1", 10, 20.5)
    assert doc.display_value(("layout", "r1")) == "10, 20.5"


def test_formatters_read_back():
    for ns in (0, 1, 999, 200_000, 5 * MS, 1_234_567, 3 * SEC // 2, 7200 * SEC):
        assert parse_duration(format_duration(ns)) == ns
    for bps in (0, 56_000, 1_500_000, 10_000_000, 2_500_000_000):
        assert parse_rate(format_rate(bps)) == bps
    assert format_duration(5 * MS) == "5 ms" and format_rate(10_000_000) == "10 Mb/s"


# ------------------------------------------------------------------------------ saving
@pytest.mark.parametrize("name", sorted(builtin_scenarios()))
def test_every_builtin_round_trips(name, tmp_path):
    source = builtin_scenarios()[name]
    doc = ScenarioDocument.from_file(source)
    assert doc.path == source
    original = doc.scenario()
    doc.ensure_layout()
    saved = doc.save(tmp_path / f"{name}.toml")
    assert saved == tmp_path / f"{name}.toml" and doc.path == saved
    again = ScenarioDocument.from_file(saved)
    assert again.raw == doc.raw
    sc = again.scenario()
    for field in ("title", "description", "seed", "duration", "tcp", "hosts", "routers", "links",
                  "apps", "faults"):
        assert getattr(sc, field) == getattr(original, field), field
    assert set(sc.layout) == {n for n, _k in doc.nodes()}
    again.ensure_layout()
    assert again.raw == doc.raw                                  # nothing left to place


def test_saved_builtin_runs(tmp_path):
    doc = ScenarioDocument.from_builtin("handshake")
    doc.auto_layout()
    doc.save(tmp_path / "h.toml")
    run = Run(ScenarioDocument.from_file(tmp_path / "h.toml").scenario())
    run.run()
    assert run.app("connect").client_side.conn.state.name == "ESTABLISHED"


def test_to_toml_is_readable(doc):
    doc.auto_layout()
    doc.set_value(("apps", "web", "tcp", "cc"), "reno")
    doc.set_value(("tcp", "mss"), 500)
    text = doc.to_toml()
    heads = [line for line in text.splitlines() if line.startswith("[")]
    assert heads[:2] == ["[scenario]", "[tcp]"]
    assert heads.index("[hosts.client]") < heads.index("[routers.r1]") < heads.index("[links.client-r1]")
    assert heads.index("[links.r2-server]") < heads.index("[apps.web]") < heads.index("[[faults]]")
    assert heads[-1] == "[layout]"
    assert 'tcp = { cc = "reno" }' in text
    assert "client = [" in text and text.count("[[faults]]") == 5
    assert tomllib.loads(text) == doc.raw


def test_save_is_atomic(doc, tmp_path, monkeypatch):
    target = tmp_path / "s.toml"
    target.write_text("old contents\n")

    def broken(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        doc.save(target)
    assert target.read_text() == "old contents\n"
    assert list(tmp_path.iterdir()) == [target]                  # no temporary file left
    assert doc.path is None
    monkeypatch.undo()
    doc.save(target)
    assert ScenarioDocument.from_file(target).raw == doc.raw


def test_save_keeps_permissions_and_writes_invalid_documents(tmp_path):
    target = tmp_path / "p.toml"
    target.write_text("")
    target.chmod(0o640)
    d = ScenarioDocument.new()
    d.add_node("host")
    d.save(target)                                               # mid-edit work is not lost
    assert target.stat().st_mode & 0o777 == 0o640
    assert tomllib.loads(target.read_text()) == d.raw
    with pytest.raises(ScenarioError, match="at least two hosts"):
        ScenarioDocument.from_file(target)


# ------------------------------------------------------------------------------ layout
def test_layout_is_validated():
    base = CHAIN.split("[[faults]]")[0]
    sc = loads(base + "[layout]\nclient = [1, 2.5]\nr1 = [3, 4]\n", "my.toml")
    assert sc.layout == {"client": (1.0, 2.5), "r1": (3.0, 4.0)}
    assert loads(base, "my.toml").layout == {}
    for text, message in [
        ("[layout]\nweb = [1, 2]\n", "my.toml: layout.web: not a node; nodes: client, r1, r2, server"),
        ("[layout]\nclient = [1]\n", "my.toml: layout.client: expected [x, y], two numbers, got [1]"),
        ("[layout]\nclient = [1, 2, 3]\n", "my.toml: layout.client: expected [x, y]"),
        ("[layout]\nclient = [1, \"2\"]\n", "my.toml: layout.client: expected [x, y]"),
        ("[layout]\nclient = [true, 2]\n", "my.toml: layout.client: expected [x, y]"),
        ("[layout]\nclient = [nan, 2]\n", "my.toml: layout.client: coordinates must be finite"),
        ("[layout]\nclient = 5\n", "my.toml: layout.client: expected [x, y]"),
        ("layout = 5\n", "my.toml: layout: expected a table of node positions"),
    ]:
        with pytest.raises(ScenarioError) as e:
            loads(text + base if text.startswith("layout =") else base + text, "my.toml")
        assert message in str(e.value)


def test_layout_does_not_change_a_run():
    base = CHAIN.split("[[faults]]")[0]
    plain = Run(loads(base, "a.toml"))
    placed = Run(loads(base + "[layout]\nclient = [1, 2]\n", "a.toml"))
    plain.run(until=SEC)
    placed.run(until=SEC)
    assert len(plain.trace) == len(placed.trace) > 0


def test_auto_layout_puts_a_chain_in_a_line(doc):
    positions = doc.auto_layout()
    assert set(positions) == {"client", "server", "r1", "r2"}
    ys = {doc.position(n)[1] for n, _k in doc.nodes()}
    assert len(ys) == 1
    xs = [doc.position(n)[0] for n in ("client", "r1", "r2", "server")]
    assert xs == sorted(xs) and len(set(xs)) == 4
    assert all(0 <= x <= 800 for x in xs) and 0 <= ys.pop() <= 500


def test_auto_layout_is_deterministic_and_fans_out_branches():
    doc = ScenarioDocument.from_builtin("cubic-vs-reno")
    doc.auto_layout()
    first = doc.snapshot()
    doc.auto_layout()
    assert doc.raw == first
    pos = {n: doc.position(n) for n, _k in doc.nodes()}
    assert pos["cubic_client"][0] == pos["reno_client"][0] < pos["r1"][0] < pos["r2"][0] < pos["server"][0]
    assert pos["r1"][1] == pos["r2"][1] == pos["server"][1]
    assert pos["cubic_client"][1] < pos["r1"][1] < pos["reno_client"][1]     # symmetric fan
    assert len(set(pos.values())) == 5


def test_auto_layout_puts_clients_left_and_handles_loose_nodes():
    doc = ScenarioDocument.from_builtin("transfer")
    doc.rename_node("client", "zz_client")          # document order no longer decides
    doc.add_node("host", "loose")
    doc.add_node("router", "spare")
    doc.auto_layout(1000, 600)
    pos = {n: doc.position(n) for n, _k in doc.nodes()}
    assert pos["zz_client"][0] < pos["router"][0] < pos["server"][0]
    assert pos["loose"][1] > pos["router"][1] and pos["spare"][1] > pos["router"][1]
    assert len(set(pos.values())) == len(pos)


def test_ensure_layout_only_when_needed(doc):
    assert doc.ensure_layout() is True
    placed = doc.snapshot()
    assert doc.ensure_layout() is False and doc.raw == placed
    doc.move_node("client", 5, 5)
    doc.add_node("host", "late")                    # placed beside the drawing already
    doc.unset_value(("layout", "late"))
    assert doc.ensure_layout() is True
    assert doc.position("client") == (5.0, 5.0) and doc.position("late") is not None
    empty = ScenarioDocument.new()
    assert empty.ensure_layout() is False and empty.auto_layout() == {}
