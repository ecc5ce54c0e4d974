"""Scenario files: units, validation messages that name file, key and problem; overrides."""

import pytest
from hypothesis import given, strategies as st

from tcplab.scenario import ScenarioError, builtin_scenarios, load, loads
from tcplab.scenario.runner import Run
from tcplab.scenario.units import parse_duration, parse_rate
from tcplab.sim.clock import MS, SEC
from tcplab.trace.events import EventKind, SendReason

BASE = """
[hosts.client]
[hosts.server]
[routers.r]
[links.client-r]
delay = "2ms"
[links.r-server]
delay = "2ms"
[apps.web]
type = "request"
client = "client"
server = "server"
port = 80
"""


def err(text, *overrides):
    with pytest.raises(ScenarioError) as e:
        loads(text, "my.toml", list(overrides))
    return str(e.value)


def test_units():
    assert parse_duration("5ms") == 5 * MS
    assert parse_duration(0.25) == SEC // 4
    assert parse_duration("1.5 s") == 3 * SEC // 2
    assert parse_duration("200us") == 200_000
    assert parse_rate("10Mbps") == 10_000_000
    assert parse_rate("100 Mb/s") == 100_000_000
    assert parse_rate("56kbit/s") == 56_000
    assert parse_rate(1500) == 1500
    for bad in ("5 parsecs", "-1ms", True, "fast"):
        with pytest.raises(ValueError):
            parse_duration(bad)


@given(st.integers(0, 10**12))
def test_duration_round_trip(ns):
    assert parse_duration(f"{ns}ns") == ns


def test_every_builtin_is_valid():
    for name in builtin_scenarios():
        sc = load(name)
        assert sc.title and sc.description and sc.apps


@pytest.mark.parametrize("text, fragment", [
    (BASE.replace('[links.r-server]\ndelay = "2ms"', '[links.r-server]\ndelay = "-2ms"'),
     "my.toml: links.r-server.delay: duration '-2ms' is negative"),
    (BASE + "[links.r-nowhere]\n", "my.toml: links.r-nowhere: unknown node 'nowhere'"),
    (BASE.replace("[routers.r]", "[routers.client]\n[routers.r]"),
     "my.toml: routers.client: duplicate node name"),
    (BASE.replace('delay = "2ms"\n[links.r-server]', 'delay = "2ms"\nloss = 1.2\n[links.r-server]'),
     "my.toml: links.client-r.loss: 1.2 is outside [0, 1]"),
    (BASE.replace("[links.r-server]\ndelay = \"2ms\"", ""),
     "my.toml: links: no path between hosts client and server"),
    (BASE.replace('type = "request"', 'type = "ftp"'), "my.toml: apps.web.type: expected one of"),
    (BASE.replace('port = 80', 'port = 70000'), "my.toml: apps.web.port: 70000 is above the maximum"),
    (BASE.replace('server = "server"', 'server = "r"'), "my.toml: apps.web.server: 'r' is not a host"),
    (BASE + "[tcp]\nmss = 10\n", "my.toml: tcp.mss: 10 is outside 64..65495"),
    (BASE + "[tcp]\nmin_rto = 100\nmax_rto = 60\n", "my.toml: tcp.min_rto:"),
    (BASE + "[bogus]\n", "my.toml: bogus: unknown section"),
    (BASE + "[[faults]]\naction = \"drop\"\nlink = \"a-b\"\n", "my.toml: faults[0].link: unknown link 'a-b'"),
    (BASE + "[[faults]]\naction = \"drop\"\nlink = \"client-r\"\nflags = \"SYNN\"\n",
     "my.toml: faults[0].flags: unknown TCP flag 'SYNN'"),
    (BASE + "[[faults]]\naction = \"crash\"\nhost = \"zed\"\n", "my.toml: faults[0].host: unknown host 'zed'"),
    ("[hosts.client\n", "my.toml: not valid TOML"),
    ("[hosts.a]\n", "my.toml: hosts: a scenario needs at least two hosts"),
    (BASE.replace("[hosts.client]", "[hosts.client]\naddress = \"1.2.3\""), "not an IPv4 address"),
])
def test_validation_errors_name_file_key_and_problem(text, fragment):
    assert fragment in err(text)


def test_network_level_errors_are_reported_as_scenario_errors():
    text = BASE.replace("[links.r-server]\ndelay = \"2ms\"", "")
    with pytest.raises(ScenarioError, match="no path between hosts client and server"):
        sc = loads(text, "my.toml")
        Run(sc)


def test_overrides_by_dotted_path():
    sc = loads(BASE, "my.toml", ["links.server-r.loss=0.25", "tcp.cc=reno", "hosts.client.isn=77",
                                 "apps.web.response=5000", "tcp.min_rto=0.2"])
    link = [ls for ls in sc.links if ls.name == "r-server"][0]
    assert link.ab.loss == 0.25 and link.ba.loss == 0.25
    assert sc.tcp.cc == "reno" and sc.tcp.min_rto == 200 * MS
    assert sc.hosts["client"]["isn"] == 77
    assert sc.apps[0].params["response"] == 5000
    assert sc.apps[0].client_tcp.cc == "reno"


def test_per_direction_link_settings():
    text = BASE.replace('[links.r-server]\ndelay = "2ms"',
                        '[links.r-server]\ndelay = "2ms"\n[links.r-server.reverse]\nloss = 0.5')
    sc = loads(text, "my.toml")
    link = [ls for ls in sc.links if ls.name == "r-server"][0]
    assert link.ab.loss == 0.0 and link.ba.loss == 0.5


def test_slow_reader_closes_the_window_and_data_still_arrives_intact():
    text = BASE.replace('port = 80', 'port = 80\nresponse = 30000\nclient_read_rate = 20000\n'
                                     'client_tcp = { rcv_buf = 4000 }')
    run = Run(loads(text, "my.toml", ["scenario.duration=60"]), keep_data=True)
    run.run()
    tr = run.trace
    zero = [i for i in tr.indices(EventKind.SEG_SENT) if tr.node[i] == 0 and
            tr.packets[tr.pkt[i]].segment.window == 0]
    assert zero, "the client should have advertised a zero window"
    reasons = {SendReason(tr.d[i] >> 16) for i in tr.indices(EventKind.SEG_SENT)}
    assert SendReason.WINDOW_UPDATE in reasons
    app = run.app("web")
    assert bytes(app.client_side.stats.keep) == bytes(app.server_sides[0].stats.sent_keep)
    assert len(app.client_side.stats.keep) == 30000
