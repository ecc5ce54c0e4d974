"""Scenario files: reading, overriding (``--set a.b.c=v``) and validating.

The format is TOML and documented in ``docs/scenario-format.md``. Validation turns a raw table into
plain, checked Python values (ns, bits/s, TcpConfig) and reports the first problem as
``ScenarioError("FILE: key.path: problem")``.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, NoReturn

from tcplab.apps import APP_TYPES
from tcplab.net.link import ChannelParams
from tcplab.net.packet import ip_from_str
from tcplab.scenario.units import parse_duration, parse_rate
from tcplab.tcp.config import BOOL_OPTIONS, TIME_OPTIONS, TcpConfig, check_config, option_names


#: Reports a problem: ``fail(key_path, why)``; it never returns.
Fail = Callable[[str, str], NoReturn]


class ScenarioError(ValueError):
    """A scenario cannot be used. The message names the file, the key and the problem."""


# ---------------------------------------------------------------------------------- values
def _int(lo: int | None = None, hi: int | None = None):
    def conv(v):
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            else:
                raise ValueError(f"expected a whole number, got {v!r}")
        if lo is not None and v < lo:
            raise ValueError(f"{v} is below the minimum {lo}")
        if hi is not None and v > hi:
            raise ValueError(f"{v} is above the maximum {hi}")
        return v
    return conv


def _prob(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a probability between 0 and 1, got {v!r}")
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{v!r} is outside [0, 1]")
    return float(v)


def _bool(v):
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {v!r}")
    return v


def _str(v):
    if not isinstance(v, str):
        raise ValueError(f"expected a string, got {v!r}")
    return v


def _name(v):
    v = _str(v)
    if not v or not v[0].isalpha() or not all(c.isalnum() or c == "_" for c in v):
        raise ValueError(f"{v!r} is not a valid name (letters, digits, _; starting with a letter)")
    return v


def _address(v):
    v = _str(v)
    ip_from_str(v)
    return v


def _nonneg_duration(v):
    return parse_duration(v)


def _pos_duration(v):
    d = parse_duration(v)
    if d <= 0:
        raise ValueError("must be greater than zero")
    return d


LINK_KEYS: dict[str, Any] = {
    "bandwidth": parse_rate,
    "delay": _nonneg_duration,
    "jitter": _nonneg_duration,
    "loss": _prob,
    "ge_p": _prob,
    "ge_r": _prob,
    "ge_loss": _prob,
    "dup": _prob,
    "reorder": _prob,
    "reorder_delay": _nonneg_duration,
    "corrupt": _prob,
    "queue": _int(0, 100_000),
    "mtu": _int(68, 65535),
    "up": _bool,
}
assert set(LINK_KEYS) == {f.name for f in fields(ChannelParams)}

LINK_DEFAULTS = {"bandwidth": 100_000_000, "delay": 1_000_000}


def _tcp_value(name: str, v):
    if name in TIME_OPTIONS:
        return _pos_duration(v) if name != "granularity" else _nonneg_duration(v)
    if name == "cc":
        return _str(v).lower()
    if name in BOOL_OPTIONS:
        return _bool(v)
    if name in ("iw", "isn") and v is None:
        return None
    return _int(0)(v)


SCENARIO_KEYS = {"title": _str, "description": _str, "seed": _int(0, 2**63 - 1),
                 "duration": _pos_duration}
HOST_KEYS = {"address": _address, "isn": _int(0, 2**32 - 1)}
ROUTER_KEYS: dict[str, Any] = {}
APP_COMMON = {"type": _str, "client": _name, "server": _name, "port": _int(1, 65535),
              "client_port": _int(1, 65535), "start": _nonneg_duration, "read_rate": _int(0),
              "client_read_rate": _int(0), "close_delay": _nonneg_duration, "tcp": dict, "client_tcp": dict, "server_tcp": dict}
APP_KEYS = {
    "bulk": {"bytes": _int(0, 10**10), "chunk": _int(1, 10**8), "close": _bool},
    "request": {"request": _int(1, 10**8), "response": _int(0, 10**9), "count": _int(1, 10**6)},
    "echo": {"bytes": _int(0, 10**9)},
    "typing": {"chunk": _int(1, 65536), "interval": _pos_duration, "count": _int(1, 10**6),
               "echo": _bool},
}
FAULT_ACTIONS = ("drop", "delay", "link_down", "link_up", "crash", "restart", "set", "abort", "close")
FAULT_KEYS = {"action": _str, "at": _nonneg_duration, "link": _str, "from": _name, "app": _name,
              "flags": _str, "seq": _int(0, 2**32 - 1), "data": _bool, "nth": _int(1, 10**9),
              "count": _int(1, 10**9), "delay": _pos_duration, "host": _name, "path": _str,
              "value": lambda v: v, "side": _str, "label": _str}


def value_kind(conv) -> str:
    """What a converter of the tables above reads: "duration" (seconds or "5ms"), "rate" (bits/s
    or "10Mbps"), "probability", "bool", "text", "table", or "integer" (everything else)."""
    if conv is dict:
        return "table"
    return {parse_rate: "rate", _nonneg_duration: "duration", _pos_duration: "duration",
            _prob: "probability", _bool: "bool", _str: "text", _name: "text",
            _address: "text"}.get(conv, "integer")


def tcp_option_kind(name: str) -> str:
    """The kind of value (as :func:`value_kind`) TCP option ``name`` takes."""
    if name in TIME_OPTIONS:
        return "duration"
    if name in BOOL_OPTIONS:
        return "bool"
    return "text" if name == "cc" else "integer"


# ---------------------------------------------------------------------------------- spec
@dataclass
class LinkSpec:
    a: str
    b: str
    ab: ChannelParams
    ba: ChannelParams

    @property
    def name(self) -> str:
        return f"{self.a}-{self.b}"


@dataclass
class AppSpec:
    name: str
    type: str
    client: str
    server: str
    port: int
    client_tcp: TcpConfig
    server_tcp: TcpConfig
    start: int = 0
    read_rate: int = 0
    client_read_rate: int = 0
    client_port: int | None = None
    close_delay: int = 0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class FaultSpec:
    action: str
    at: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scenario:
    """A validated scenario, ready to build into a network (``tcplab.scenario.build``)."""

    name: str
    source: str
    title: str
    description: str
    seed: int
    duration: int
    tcp: TcpConfig
    hosts: dict[str, dict]
    routers: list[str]
    links: list[LinkSpec]
    apps: list[AppSpec]
    faults: list[FaultSpec]
    #: Canvas positions of nodes from ``[layout]`` (only the editor uses them).
    layout: dict[str, tuple[float, float]] = field(default_factory=dict)
    raw: dict = field(repr=False, default_factory=dict)


# ---------------------------------------------------------------------------------- loading
def load_file(path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Read, override and validate a scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(f"{path}: cannot read: {e}") from None
    return loads(text, str(path), overrides, name=path.stem)


def loads(text: str, source: str = "<scenario>", overrides: list[str] | None = None,
          name: str | None = None) -> Scenario:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{source}: not valid TOML: {e}") from None
    for item in overrides or []:
        apply_override(raw, item, source)
    return validate(raw, source, name or Path(source).stem)


def parse_override(item: str) -> tuple[list[str], Any]:
    """``links.r1-r2.loss=0.01`` -> (["links", "r1-r2", "loss"], 0.01). The value is read as a
    TOML value (numbers, true/false, quoted strings); anything else is taken as a string."""
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. links.r1-r2.loss=0.01")
    parts = key.split(".")
    if any(not p for p in parts):
        raise ValueError(f"--set {item!r}: empty part in key {key!r}")
    value = value.strip()
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    return parts, parsed


def apply_override(raw: dict, item: str, source: str = "<scenario>") -> None:
    """Set a value by dotted path in the raw table (creating tables on the way). A path into
    ``links`` may name the link either way round (``a-b`` or ``b-a``)."""
    try:
        parts, value = parse_override(item)
    except ValueError as e:
        raise ScenarioError(str(e)) from None
    if parts[0] == "links" and len(parts) >= 2 and parts[1] not in raw.get("links", {}):
        a, _, b = parts[1].partition("-")
        if f"{b}-{a}" in raw.get("links", {}):
            parts[1] = f"{b}-{a}"
        else:
            known = ", ".join(raw.get("links", {})) or "none"
            raise ScenarioError(f"--set {item}: unknown link {parts[1]!r} (links: {known})")
    if parts[0] in ("hosts", "apps", "routers") and len(parts) >= 2 and parts[1] not in raw.get(parts[0], {}):
        known = ", ".join(raw.get(parts[0], {})) or "none"
        raise ScenarioError(f"--set {item}: unknown {parts[0][:-1]} {parts[1]!r} ({parts[0]}: {known})")
    try:
        table_for(raw, parts)[parts[-1]] = value
    except ValueError as e:
        raise ScenarioError(f"--set {item}: {e}") from None


def table_for(raw: dict, parts: list[str] | tuple[str, ...]) -> dict:
    """The table that holds the value at key path ``parts`` (its last part), creating the tables
    on the way; ValueError when a part on the way is a value, not a table."""
    node = raw
    for p in parts[:-1]:
        nxt = node.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise ValueError(f"{p!r} is a value, not a table")
        node = nxt
    return node


#: Top-level tables of a scenario file, in the order they are written.
SECTIONS = ("scenario", "tcp", "hosts", "routers", "links", "apps", "faults", "layout")


def validate(raw: dict, source: str, name: str) -> Scenario:
    """Check every table of ``raw`` and turn it into a :class:`Scenario`; the first problem is
    raised as ``ScenarioError("SOURCE: key.path: problem")``."""
    def fail(key: str, why: str):
        raise ScenarioError(f"{source}: {key}: {why}")

    for k in raw:
        if k not in SECTIONS:
            fail(k, f"unknown section; sections: {', '.join(sorted(SECTIONS))}")
    meta = check_table(raw.get("scenario", {}), "scenario", SCENARIO_KEYS, fail)
    tcp = tcp_config(raw.get("tcp", {}), "tcp", TcpConfig(), fail)

    hosts_raw = raw.get("hosts", {})
    if not isinstance(hosts_raw, dict) or not hosts_raw:
        fail("hosts", "a scenario needs at least two hosts")
    hosts = {h: host_values(h, table, fail) for h, table in hosts_raw.items()}
    if len(hosts) < 2:
        fail("hosts", "a scenario needs at least two hosts")
    routers_raw = raw.get("routers", {})
    if not isinstance(routers_raw, dict):
        fail("routers", "expected a table of routers, e.g. [routers.r1]")
    routers = []
    for r, table in routers_raw.items():
        check_name(r, f"routers.{r}", fail)
        if r in hosts:
            fail(f"routers.{r}", f"duplicate node name: {r!r} is also a host")
        check_table(table, f"routers.{r}", ROUTER_KEYS, fail)
        routers.append(r)
    nodes = set(hosts) | set(routers)
    check_addresses(hosts, fail)

    links = []
    links_raw = raw.get("links", {})
    if not isinstance(links_raw, dict):
        fail("links", "expected a table of links, e.g. [links.client-router]")
    pairs = set()
    for lname, table in links_raw.items():
        ls = link_spec(lname, table, nodes, fail)
        if frozenset((ls.a, ls.b)) in pairs:
            fail(f"links.{lname}", f"duplicate link between {ls.a} and {ls.b}")
        pairs.add(frozenset((ls.a, ls.b)))
        links.append(ls)

    _check_connected(hosts, links, fail)

    apps_raw = raw.get("apps", {})
    if not isinstance(apps_raw, dict):
        fail("apps", "expected a table of applications, e.g. [apps.web]")
    apps = [app_spec(aname, table, hosts, tcp, fail) for aname, table in apps_raw.items()]
    listen = {}
    for app in apps:
        key = (app.server, app.port)
        if key in listen:
            fail(f"apps.{app.name}.port", f"{app.server}:{app.port} is already used by app {listen[key]}")
        listen[key] = app.name

    faults = []
    faults_raw = raw.get("faults", [])
    if not isinstance(faults_raw, list):
        fail("faults", "expected an array of tables: [[faults]]")
    app_names = {a.name for a in apps}
    link_names = {ls.name for ls in links} | {f"{ls.b}-{ls.a}" for ls in links}
    for i, table in enumerate(faults_raw):
        where = f"faults[{i}]"
        vals = check_table(table, where, FAULT_KEYS, fail)
        action = vals.get("action")
        if action not in FAULT_ACTIONS:
            fail(f"{where}.action", f"expected one of {', '.join(FAULT_ACTIONS)}, got {action!r}")
        if action in ("drop", "delay", "link_down", "link_up"):
            if vals.get("link") not in link_names:
                fail(f"{where}.link", f"unknown link {vals.get('link')!r}; links: {', '.join(sorted(link_names))}")
            if "from" in vals and vals["from"] not in vals["link"].split("-"):
                fail(f"{where}.from", f"{vals['from']!r} is not an end of link {vals['link']}")
        if action == "delay" and "delay" not in vals:
            fail(f"{where}.delay", "missing: how long to hold the segment back")
        if action in ("crash", "restart") and vals.get("host") not in hosts:
            fail(f"{where}.host", f"unknown host {vals.get('host')!r}")
        if action in ("abort", "close"):
            if vals.get("app") not in app_names:
                fail(f"{where}.app", f"unknown app {vals.get('app')!r}")
            if vals.get("side", "client") not in ("client", "server"):
                fail(f"{where}.side", "expected client or server")
        if "app" in vals and vals["app"] not in app_names:
            fail(f"{where}.app", f"unknown app {vals['app']!r}; apps: {', '.join(sorted(app_names)) or 'none'}")
        if "flags" in vals:
            from tcplab.net.faults import parse_flags
            try:
                parse_flags(vals["flags"])
            except ValueError as e:
                fail(f"{where}.flags", str(e))
        if action == "set":
            if "path" not in vals or "value" not in vals:
                fail(where, "action = \"set\" needs path (e.g. \"links.r1-r2.loss\") and value")
            _check_set_path(vals["path"], vals["value"], link_names, where, fail)
        faults.append(FaultSpec(action, vals.get("at", 0),
                                {k: v for k, v in vals.items() if k not in ("action", "at")}))

    layout = layout_positions(raw.get("layout", {}), [*hosts, *routers], fail)

    return Scenario(name=name, source=source, title=meta.get("title", name),
                    description=meta.get("description", ""), seed=meta.get("seed", 1),
                    duration=meta.get("duration", 60 * 1_000_000_000), tcp=tcp, hosts=hosts,
                    routers=routers, links=links, apps=apps, faults=faults, layout=layout, raw=raw)


# ------------------------------------------------------------------------- one table at a time
# Each check takes ``fail(key, why)``, which must raise; ``validate`` passes one that raises
# ScenarioError with the file name, the scenario editor one that raises ValueError.
def check_table(table: Any, where: str, schema: dict, fail: Fail) -> dict:
    """Convert every value of ``table`` with its converter in ``schema`` (a key whose
    converter is ``dict`` must hold a table, kept as it is); unknown keys are refused."""
    if not isinstance(table, dict):
        fail(where, f"expected a table, got {table!r}")
    out = {}
    for k, v in table.items():
        key = f"{where}.{k}" if where else k
        if k not in schema:
            fail(key, f"unknown key; known keys: {', '.join(sorted(schema))}" if schema
                 else "unknown key; this table takes no keys")
        conv = schema[k]
        if conv is dict:
            if not isinstance(v, dict):
                fail(key, "expected a table")
            out[k] = v
            continue
        try:
            out[k] = conv(v)
        except ValueError as e:
            fail(key, str(e))
    return out


def check_name(name: str, where: str, fail: Fail) -> str:
    """A host, router or application name: letters, digits and _, starting with a letter."""
    try:
        return _name(name)
    except ValueError as e:
        fail(where, str(e))


def host_values(name: str, table: Any, fail: Fail) -> dict:
    """The checked keys of host ``name`` (``[hosts.NAME]``)."""
    check_name(name, f"hosts.{name}", fail)
    return check_table(table, f"hosts.{name}", HOST_KEYS, fail)


def check_addresses(hosts: dict[str, dict], fail: Fail) -> None:
    """No two hosts may be given the same address."""
    seen: dict[str, str] = {}
    for h, t in hosts.items():
        if "address" in t:
            if t["address"] in seen:
                fail(f"hosts.{h}.address", f"{t['address']} is already the address of {seen[t['address']]}")
            seen[t["address"]] = h


def link_spec(lname: str, table: Any, nodes, fail: Fail) -> LinkSpec:
    """Link ``lname`` ("A-B") between two of ``nodes``, both directions' parameters merged:
    defaults, then the keys for both directions, then ``forward`` / ``reverse``."""
    a, sep, b = lname.partition("-")
    where = f"links.{lname}"
    if not sep:
        fail(where, "a link is named after its ends: NODE-NODE")
    for end in (a, b):
        if end not in nodes:
            fail(where, f"unknown node {end!r}; nodes: {', '.join(sorted(nodes))}")
    if a == b:
        fail(where, "a link needs two different nodes")
    if not isinstance(table, dict):
        fail(where, "expected a table")
    both = {k: v for k, v in table.items() if k not in ("forward", "reverse")}
    base = {**LINK_DEFAULTS, **check_table(both, where, LINK_KEYS, fail)}
    dirs = []
    for d in ("forward", "reverse"):
        extra = check_table(table.get(d, {}), f"{where}.{d}", LINK_KEYS, fail)
        params = ChannelParams(**{**base, **extra})
        try:
            params.check()
        except ValueError as e:
            fail(f"{where}.{d}", str(e))
        dirs.append(params)
    return LinkSpec(a, b, dirs[0], dirs[1])


def app_spec(aname: str, table: Any, hosts, tcp: TcpConfig, fail: Fail) -> AppSpec:
    """Application ``aname`` between two of ``hosts``; its TCP options are layered on ``tcp``
    (the scenario's ``[tcp]``): first its ``tcp`` table, then ``client_tcp`` / ``server_tcp``."""
    where = f"apps.{aname}"
    check_name(aname, where, fail)
    if not isinstance(table, dict):
        fail(where, "expected a table")
    kind = table.get("type")
    if kind not in APP_TYPES:
        fail(f"{where}.type", f"expected one of {', '.join(APP_TYPES)}, got {kind!r}")
    vals = check_table(table, where, {**APP_COMMON, **APP_KEYS[kind]}, fail)
    for side in ("client", "server"):
        if side not in vals:
            fail(f"{where}.{side}", "missing: which host runs this side")
        if vals[side] not in hosts:
            fail(f"{where}.{side}", f"{vals[side]!r} is not a host; hosts: {', '.join(sorted(hosts))}")
    if vals["client"] == vals["server"]:
        fail(where, "client and server must be different hosts")
    if "port" not in vals:
        fail(f"{where}.port", "missing: the server's port")
    shared = tcp_config(vals.get("tcp", {}), f"{where}.tcp", tcp, fail)
    ctcp = tcp_config(vals.get("client_tcp", {}), f"{where}.client_tcp", shared, fail)
    stcp = tcp_config(vals.get("server_tcp", {}), f"{where}.server_tcp", shared, fail)
    params = {k: v for k, v in vals.items() if k in APP_KEYS[kind]}
    return AppSpec(aname, kind, vals["client"], vals["server"], vals["port"], ctcp, stcp,
                   vals.get("start", 0), vals.get("read_rate", 0),
                   vals.get("client_read_rate", 0), vals.get("client_port"),
                   vals.get("close_delay", 0), params)


def layout_position(value: Any) -> tuple[float, float]:
    """``[x, y]``: two finite numbers, a node's place on the editor's canvas (pixels)."""
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or any(isinstance(c, bool) or not isinstance(c, (int, float)) for c in value)):
        raise ValueError(f"expected [x, y], two numbers, got {value!r}")
    if not all(math.isfinite(c) for c in value):
        raise ValueError(f"coordinates must be finite numbers, got {value!r}")
    return float(value[0]), float(value[1])


def layout_positions(table: Any, nodes, fail: Fail) -> dict[str, tuple[float, float]]:
    """The ``[layout]`` table: a position for some or all of ``nodes`` (nothing else)."""
    if not isinstance(table, dict):
        fail("layout", "expected a table of node positions, e.g. client = [100, 200]")
    out = {}
    for n, value in table.items():
        if n not in nodes:
            fail(f"layout.{n}", f"not a node; nodes: {', '.join(sorted(nodes)) or 'none'}")
        try:
            out[n] = layout_position(value)
        except ValueError as e:
            fail(f"layout.{n}", str(e))
    return out


def _check_connected(hosts: dict, links: list[LinkSpec], fail) -> None:
    """Every host must reach every other host over the links."""
    adjacent: dict[str, set[str]] = {}
    for ls in links:
        adjacent.setdefault(ls.a, set()).add(ls.b)
        adjacent.setdefault(ls.b, set()).add(ls.a)
    names = sorted(hosts)
    seen = {names[0]}
    todo = [names[0]]
    while todo:
        for nxt in adjacent.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    for h in names[1:]:
        if h not in seen:
            fail("links", f"no path between hosts {names[0]} and {h}")


def _check_set_path(path: str, value, link_names, where, fail) -> None:
    parts = path.split(".")
    if len(parts) not in (3, 4) or parts[0] != "links":
        fail(f"{where}.path", "a timed change names a link parameter: links.A-B.PARAM "
                              "or links.A-B.forward.PARAM")
    if parts[1] not in link_names:
        fail(f"{where}.path", f"unknown link {parts[1]!r}")
    param = parts[-1]
    if len(parts) == 4 and parts[2] not in ("forward", "reverse"):
        fail(f"{where}.path", "direction must be forward or reverse")
    if param not in LINK_KEYS:
        fail(f"{where}.path", f"unknown link parameter {param!r}; known: {', '.join(LINK_KEYS)}")
    try:
        LINK_KEYS[param](value)
    except ValueError as e:
        fail(f"{where}.value", str(e))


def tcp_config(table: Any, where: str, base: TcpConfig, fail: Fail) -> TcpConfig:
    """``base`` with the TCP options of ``table`` applied, checked as a whole (check_config)."""
    if not isinstance(table, dict):
        fail(where, "expected a table of TCP options")
    names = option_names()
    changes = {}
    for k, v in table.items():
        if k not in names:
            fail(f"{where}.{k}", f"unknown TCP option; options: {', '.join(sorted(names))}")
        try:
            changes[k] = _tcp_value(k, v)
        except ValueError as e:
            fail(f"{where}.{k}", str(e))
    if not changes:
        return base
    try:
        cfg = TcpConfig.__new__(TcpConfig)
        merged = {f.name: getattr(base, f.name) for f in fields(TcpConfig)}
        merged.update(changes)
        for k, v in merged.items():
            object.__setattr__(cfg, k, v)
        check_config(cfg)
    except ValueError as e:
        msg = str(e)
        key, _, why = msg.partition(": ")
        opt = key.split(".", 1)[-1]
        fail(f"{where}.{opt}", why or msg)
    return cfg
