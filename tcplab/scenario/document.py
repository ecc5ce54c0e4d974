"""An editable scenario: the TOML table behind the editor, changed one checked step at a time.

:class:`ScenarioDocument` holds ``raw``, the scenario table exactly as a file holds it (values in
file units: ``"5ms"`` stays a string, ``0.005`` a number), and ``path``, the file it came from or
was last saved to. The topology editor and the property panels read it through queries
(:meth:`~ScenarioDocument.nodes`, :meth:`~ScenarioDocument.get`...) and change it through edits
(:meth:`~ScenarioDocument.add_node`, :meth:`~ScenarioDocument.set_value`...).

Every edit is checked with the same rules as scenario files (``tcplab.scenario.spec``) before
it takes effect: a refused edit raises ValueError naming the field and the problem
(``"loss: 1.5 is outside [0, 1]"``) and leaves the document exactly as it was. What an edit cannot
judge alone, such as whether every host can still reach every other, is left to
:meth:`~ScenarioDocument.problem`, so a half-built network can be edited freely and runs once
it is complete. Undo is the caller's: :meth:`~ScenarioDocument.snapshot` before an edit,
:meth:`~ScenarioDocument.restore` to go back.

Nothing here imports Qt.
"""

from __future__ import annotations

import copy
import inspect
import math
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

import networkx as nx
import tomli_w

from tcplab.apps import APP_CLASSES, APP_TYPES
from tcplab.net.link import ChannelParams
from tcplab.scenario import builtin_scenarios
from tcplab.fileio import write_atomic
from tcplab.scenario.spec import (APP_COMMON, APP_KEYS, FAULT_KEYS, HOST_KEYS, LINK_DEFAULTS,
                                  LINK_KEYS, ROUTER_KEYS, SCENARIO_KEYS, SECTIONS, Scenario,
                                  ScenarioError, app_spec, check_name, check_table, host_values,
                                  layout_position, link_spec, load_file, table_for, tcp_config,
                                  tcp_option_kind, validate, value_kind)
from tcplab.scenario.units import format_duration, format_rate, parse_duration, parse_rate
from tcplab.tcp.config import TcpConfig, option_names

T = TypeVar("T")

#: Node kinds and the table each lives in.
NODE_TABLES = {"host": "hosts", "router": "routers"}
#: Tables of TCP options inside an application (``[apps.X.tcp]`` and one per side).
APP_OPTION_TABLES = ("tcp", "client_tcp", "server_tcp")
#: Keys every application must keep.
APP_REQUIRED = ("type", "client", "server", "port")
#: The port a new application listens on (the next free one when taken on that server).
DEFAULT_PORTS = {"request": 80, "bulk": 5001, "echo": 7, "typing": 23}
#: Defaults of the keys every application type takes (durations in ns; None: chosen at run
#: time).
APP_COMMON_DEFAULTS = {"start": 0, "read_rate": 0, "client_read_rate": 0, "close_delay": 0,
                       "client_port": None}

_MISSING = object()


class _Refused(Exception):
    """A check failed: ``key`` is the dotted path of the field, ``why`` the problem."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(f"{key}: {why}")
        self.key = key
        self.why = why


def _fail(key: str, why: str):
    raise _Refused(key, why)


def _message(refused: _Refused, path: tuple) -> str:
    """The reason for the caller: relative to the edited ``path`` when the problem is in it
    (``"loss: 1.5 is outside [0, 1]"``), the full key path when it lies elsewhere."""
    dotted = ".".join(str(p) for p in path)
    if refused.key == dotted and path:
        return f"{path[-1]}: {refused.why}"
    if dotted and refused.key.startswith(dotted + "."):
        return f"{refused.key[len(dotted) + 1:]}: {refused.why}"
    return str(refused)


def _coordinate(v: float) -> int | float:
    """A canvas coordinate as stored: to 0.1 px, a whole number without ``.0``."""
    v = round(float(v), 1)
    return int(v) if v.is_integer() else v


def _link_ends(name: Any) -> tuple[str, str] | None:
    if not isinstance(name, str):
        return None
    a, sep, b = name.partition("-")
    return (a, b) if sep else None


class ScenarioDocument:
    """A scenario being edited: ``raw`` (the TOML table, file units) and ``path`` (its file, or
    None until it is saved). ``origin`` names the built-in scenario it was opened from."""

    def __init__(self, raw: dict | None = None, path: str | Path | None = None, *,
                 origin: str | None = None) -> None:
        self.raw: dict = copy.deepcopy(raw) if raw is not None else {}
        self.path: Path | None = Path(path) if path is not None else None
        self.origin: str | None = origin

    # ============================================================================ opening
    @classmethod
    def new(cls) -> "ScenarioDocument":
        """An empty scenario: just a title. Nodes, links and applications are added by edits."""
        return cls({"scenario": {"title": "Untitled"}})

    @classmethod
    def from_file(cls, path: str | Path, partial: bool = False) -> "ScenarioDocument":
        """Open a scenario file. It must be a valid scenario: an unreadable, non-TOML or invalid
        file raises ScenarioError ``"FILE: problem"``.

        With ``partial`` it may also be work in progress, as :meth:`save` writes it: every
        section, key and value must still be valid (links between existing nodes, applications
        of a known type on existing hosts, unique addresses, a well-formed layout...), but the
        scenario need not run yet: fewer than two hosts, hosts not connected and applications
        without a client, server or port are accepted. :meth:`problem` then says what is
        missing."""
        path = Path(path)
        try:
            return cls(load_file(path).raw, path)
        except ScenarioError as strict:
            if not partial:
                raise
            try:
                raw = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                raise strict from None           # load_file has said why it cannot be read
        _check_partial(raw, str(path), path.stem)
        return cls(raw, path)

    @classmethod
    def from_builtin(cls, name: str) -> "ScenarioDocument":
        """A copy of built-in scenario ``name`` (``tcplab.scenario.builtin_scenarios``). It has
        no path, so saving it asks for a file; ``origin`` keeps the name."""
        builtin = builtin_scenarios()
        if name not in builtin:
            raise ScenarioError(f"unknown built-in scenario {name!r}; built-in scenarios: "
                                f"{', '.join(builtin)}")
        return cls(load_file(builtin[name]).raw, None, origin=name)

    @property
    def name(self) -> str:
        """What to call the scenario: its file's stem, else the built-in's name, else
        ``untitled``."""
        if self.path is not None:
            return self.path.stem
        return self.origin or "untitled"

    def _source(self) -> str:
        """The file name in validation messages."""
        if self.path is not None:
            return self.path.name
        return f"{self.origin}.toml" if self.origin else "untitled"

    # ============================================================================ undo
    def snapshot(self) -> dict:
        """A deep copy of ``raw``: what :meth:`restore` takes back."""
        return copy.deepcopy(self.raw)

    def restore(self, snapshot: dict) -> None:
        """Make ``raw`` equal to ``snapshot`` (copied: later edits never touch the snapshot)."""
        self.raw = copy.deepcopy(snapshot)

    # ============================================================================ saving
    def to_toml(self) -> str:
        """The document as a scenario file: sections in the order scenario, tcp, hosts, routers,
        links, apps, faults, layout; keys within a table in document order. (Comments of the
        file it was opened from are not kept.)"""
        raw = self.raw
        order = [k for k in SECTIONS if k in raw] + [k for k in raw if k not in SECTIONS]
        tables = [k for k in order if isinstance(raw[k], dict) or _is_table_array(raw[k])]
        plain = {k: raw[k] for k in order if k not in tables}
        blocks = [_dumps(plain)] if plain else []
        for k in tables:
            value = raw[k]
            if k == "faults" and _is_table_array(value) and all(_is_flat(f) for f in value):
                blocks += [f"[[{_key(k)}]]\n" + _dumps(f) for f in value]
            elif k == "layout" and isinstance(value, dict) and all(_is_position(p) for p in value.values()):
                lines = [f"{_key(n)} = [{_literal(x)}, {_literal(y)}]\n" for n, (x, y) in value.items()]
                blocks.append(f"[{_key(k)}]\n" + "".join(lines))
            elif k == "apps" and isinstance(value, dict) and value:
                blocks += [_app_block(k, name, table) for name, table in value.items()]
            else:
                blocks.append(_dumps({k: value}))
        return "\n".join(b for b in blocks if b)

    def save(self, path: str | Path) -> Path:
        """Write the document to ``path`` atomically and make it the document's file.

        The text goes to a temporary file in the same folder, which is flushed to disk and then
        renamed over ``path``: a failure at any point leaves an existing file as it was. The
        document is written as it is, even when it is not (yet) a runnable scenario."""
        path = Path(path)
        text = self.to_toml()
        write_atomic(path, lambda f: f.write(text), text=True)
        folder = (path.resolve() if path.is_symlink() else path).parent
        _sync_folder(folder)
        self.path = path
        return path

    # ============================================================================ running
    def scenario(self, seed: int | None = None) -> Scenario:
        """The document validated as a whole (``seed`` replaces the scenario's own); raises
        ScenarioError ``"FILE: key.path: problem"`` when it cannot run."""
        raw = copy.deepcopy(self.raw)
        if seed is not None:
            meta = raw.get("scenario", {})
            raw["scenario"] = {**meta, "seed": seed} if isinstance(meta, dict) else meta
        return validate(raw, self._source(), self.name)

    def problem(self) -> str | None:
        """Why the document cannot run as it is (the validation message), or None."""
        try:
            self.scenario()
        except ScenarioError as e:
            return str(e)
        return None

    # ============================================================================ queries
    def hosts(self) -> list[str]:
        """Host names in document order."""
        return list(self._table("hosts"))

    def routers(self) -> list[str]:
        """Router names in document order."""
        return list(self._table("routers"))

    def nodes(self) -> list[tuple[str, str]]:
        """Every node as (name, "host" | "router"): hosts first."""
        return [(h, "host") for h in self.hosts()] + [(r, "router") for r in self.routers()]

    def node_kind(self, name: str) -> str | None:
        """"host", "router", or None when there is no such node."""
        if name in self._table("hosts"):
            return "host"
        if name in self._table("routers"):
            return "router"
        return None

    def links(self) -> list[tuple[str, str, str]]:
        """Every link as (name "a-b", a, b), in document order."""
        out = []
        for name in self._table("links"):
            a, _, b = name.partition("-")
            out.append((name, a, b))
        return out

    def apps(self) -> list[str]:
        """Application names in document order."""
        return list(self._table("apps"))

    def get(self, path: Iterable, default: Any = None) -> Any:
        """The value at key ``path`` (e.g. ``("links", "r1-r2", "loss")``; an integer indexes
        ``faults``), or ``default`` when it is not set. Link names are taken as written. Tables
        come back as copies: the document changes only through its edits."""
        node: Any = self.raw
        for part in tuple(path):
            if isinstance(node, dict) and isinstance(part, str) and part in node:
                node = node[part]
            elif (isinstance(node, list) and isinstance(part, int) and not isinstance(part, bool)
                  and -len(node) <= part < len(node)):
                node = node[part]
            else:
                return default
        return copy.deepcopy(node) if isinstance(node, (dict, list)) else node

    def link_name(self, a: str, b: str) -> str | None:
        """The name of the link between ``a`` and ``b`` (``a-b`` or ``b-a``), or None."""
        links = self._table("links")
        for name in (f"{a}-{b}", f"{b}-{a}"):
            if name in links:
                return name
        return None

    def position(self, name: str) -> tuple[float, float] | None:
        """Where node ``name`` sits on the canvas, or None when the layout does not say."""
        value = self._table("layout").get(name)
        try:
            return layout_position(value)
        except ValueError:
            return None

    def _table(self, section: str) -> dict:
        t = self.raw.get(section)
        return t if isinstance(t, dict) else {}

    def _node_names(self, raw: dict | None = None) -> list[str]:
        raw = self.raw if raw is None else raw
        return [*_dict(raw.get("hosts")), *_dict(raw.get("routers"))]

    # ============================================================================ edits
    def _edit(self, change: Callable[[dict], T], path: tuple = ()) -> T:
        """Run ``change`` on a copy of ``raw`` and keep the copy only if it succeeds. Checks
        inside raise _Refused, reported relative to ``path``, or ValueError as it is."""
        new = copy.deepcopy(self.raw)
        try:
            result = change(new)
        except _Refused as r:
            raise ValueError(_message(r, path)) from None
        self.raw = new
        return result

    # -- nodes ------------------------------------------------------------------------------
    def add_node(self, kind: str, name: str | None = None,
                 pos: tuple[float, float] | None = None) -> str:
        """Add a host or router and return its name. Without ``name`` it is the first free of
        host1, host2... (r1, r2... for routers). Without ``pos`` it goes next to the drawing
        (if there is one yet; otherwise :meth:`ensure_layout` places everything)."""
        if kind not in NODE_TABLES:
            raise ValueError(f"unknown node kind {kind!r}; expected host or router")
        taken = set(self._node_names())
        if name is None:
            stem = "host" if kind == "host" else "r"
            name = next(f"{stem}{i}" for i in range(1, len(taken) + 2) if f"{stem}{i}" not in taken)
        else:
            self._check_new_node_name(name)
        where = _checked_position(pos) if pos is not None else None

        def change(raw: dict) -> str:
            _section(raw, NODE_TABLES[kind])[name] = {}
            spot = where or _free_spot(raw, name)
            if spot is not None:
                _section(raw, "layout")[name] = [_coordinate(spot[0]), _coordinate(spot[1])]
            return name
        return self._edit(change)

    def _check_new_node_name(self, name: Any) -> None:
        try:
            check_name(name, "name", _fail)
        except _Refused as r:
            raise ValueError(f"name: {r.why}") from None
        kind = self.node_kind(name)
        if kind is not None:
            raise ValueError(f"name: there is already a {kind} named {name}")

    def remove_nodes(self, names: Iterable[str]) -> dict[str, list]:
        """Delete nodes together with everything that needs them: links touching them,
        applications running on them, faults naming any of these, and their positions.

        Returns what went, for the caller to tell: ``{"nodes": [...], "links": [...],
        "apps": [...], "faults": [...]}`` (faults as short descriptions such as
        ``"crash server at 2.5 s"``)."""
        names = list(dict.fromkeys(names))
        for n in names:
            if self.node_kind(n) is None:
                raise ValueError(f"unknown node {n!r}")
        gone = set(names)

        def change(raw: dict) -> dict[str, list]:
            removed: dict[str, list] = {"nodes": names, "links": [], "apps": [], "faults": []}
            for section in NODE_TABLES.values():
                for n in names:
                    _dict(raw.get(section)).pop(n, None)
            pairs = set()
            for lname in list(_dict(raw.get("links"))):
                ends = _link_ends(lname)
                if ends and gone & set(ends):
                    del raw["links"][lname]
                    removed["links"].append(lname)
                    pairs.add(frozenset(ends))
            for aname, table in list(_dict(raw.get("apps")).items()):
                if isinstance(table, dict) and ({table.get("client"), table.get("server")} & gone):
                    del raw["apps"][aname]
                    removed["apps"].append(aname)
            removed["faults"] = _drop_faults(raw, gone, pairs, set(removed["apps"]))
            for n in names:
                _dict(raw.get("layout")).pop(n, None)
            _prune_sections(raw)
            return removed
        return self._edit(change)

    def rename_node(self, old: str, new: str) -> None:
        """Rename a node everywhere it is named: its table, link names, applications' client
        and server, faults (link, from, host, path) and the layout."""
        kind = self.node_kind(old)
        if kind is None:
            raise ValueError(f"unknown node {old!r}")
        if new == old:
            return
        self._check_new_node_name(new)

        def rename_link(lname: Any) -> Any:
            ends = _link_ends(lname)
            if not ends:
                return lname
            return "-".join(new if e == old else e for e in ends)

        def change(raw: dict) -> None:
            section = NODE_TABLES[kind]
            raw[section] = _rename_key(raw[section], old, new)
            if isinstance(raw.get("links"), dict):
                raw["links"] = {rename_link(k): v for k, v in raw["links"].items()}
            for table in _dict(raw.get("apps")).values():
                if isinstance(table, dict):
                    for side in ("client", "server"):
                        if table.get(side) == old:
                            table[side] = new
            for fault in _faults(raw):
                if "link" in fault:
                    fault["link"] = rename_link(fault["link"])
                for key in ("from", "host"):
                    if fault.get(key) == old:
                        fault[key] = new
                parts = fault.get("path").split(".") if isinstance(fault.get("path"), str) else []
                if len(parts) >= 2 and parts[0] == "links":
                    parts[1] = rename_link(parts[1])
                    fault["path"] = ".".join(parts)
            if isinstance(raw.get("layout"), dict):
                raw["layout"] = _rename_key(raw["layout"], old, new)
        self._edit(change)

    def move_node(self, name: str, x: float, y: float) -> None:
        """Put node ``name`` at canvas position (x, y)."""
        self.move_nodes({name: (x, y)})

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> None:
        """Put several nodes at once (``{name: (x, y)}``)."""
        checked = {}
        for name, pos in positions.items():
            if self.node_kind(name) is None:
                raise ValueError(f"unknown node {name!r}")
            checked[name] = _checked_position(pos)

        def change(raw: dict) -> None:
            layout = _section(raw, "layout")
            for name, (x, y) in checked.items():
                layout[name] = [_coordinate(x), _coordinate(y)]
        self._edit(change)

    # -- links ------------------------------------------------------------------------------
    def add_link(self, a: str, b: str, params: dict | None = None) -> str:
        """Link nodes ``a`` and ``b`` (named ``a-b``) with link keys ``params`` (file units;
        ``forward`` / ``reverse`` sub-tables allowed). Returns the link's name."""
        for end in (a, b):
            if self.node_kind(end) is None:
                raise ValueError(f"unknown node {end!r}")
        if a == b:
            raise ValueError("a link needs two different nodes")
        existing = self.link_name(a, b)
        if existing is not None:
            raise ValueError(f"{a} and {b} are already linked ({existing})")
        if params is not None and not isinstance(params, dict):
            raise ValueError(f"link parameters must be a table, got {params!r}")
        name = f"{a}-{b}"

        def change(raw: dict) -> str:
            _section(raw, "links")[name] = copy.deepcopy(params or {})
            link_spec(name, raw["links"][name], set(self._node_names(raw)), _fail)
            return name
        return self._edit(change, ("links", name))

    def remove_link(self, name: str) -> dict[str, list]:
        """Delete a link (named either way round) and the faults acting on it. Returns
        ``{"links": [name], "faults": [descriptions]}``."""
        ends = _link_ends(name)
        actual = self.link_name(*ends) if ends else None
        if actual is None:
            known = ", ".join(n for n, _a, _b in self.links()) or "none"
            raise ValueError(f"unknown link {name!r}; links: {known}")

        def change(raw: dict) -> dict[str, list]:
            del raw["links"][actual]
            faults = _drop_faults(raw, set(), {frozenset(_link_ends(actual))}, set())
            _prune_sections(raw)
            return {"links": [actual], "faults": faults}
        return self._edit(change)

    # -- applications -----------------------------------------------------------------------
    def add_app(self, type: str, client: str, server: str, port: int | None = None,
                name: str | None = None, **params: Any) -> str:
        """Add an application of ``type`` between hosts ``client`` and ``server`` and return its
        name (the first free of TYPE, TYPE2...). Without ``port`` it listens on the type's usual
        port (request 80, bulk 5001, echo 7, typing 23) or the next one free on that server.
        ``params`` are further application keys (``bytes=10000``, ``tcp={"cc": "reno"}``)."""
        if type not in APP_TYPES:
            raise ValueError(f"type: unknown application type {type!r}; types: {', '.join(APP_TYPES)}")
        apps = self._table("apps")
        if name is None:
            name = next(n for n in (type if i == 1 else f"{type}{i}" for i in range(1, len(apps) + 2))
                        if n not in apps)
        else:
            self._check_new_app_name(name)
        for key in params:
            if key in APP_REQUIRED:
                raise ValueError(f"{key}: give it as an argument of its own")
        if port is None:
            used = {t.get("port") for t in apps.values()
                    if isinstance(t, dict) and t.get("server") == server}
            port = DEFAULT_PORTS[type]
            while port in used and port < 65535:
                port += 1

        def change(raw: dict) -> str:
            table = {"type": type, "client": client, "server": server, "port": port,
                     **copy.deepcopy(params)}
            _section(raw, "apps")[name] = table
            self._check_app(raw, name)
            return name
        return self._edit(change, ("apps", name))

    def _check_new_app_name(self, name: Any) -> None:
        try:
            check_name(name, "name", _fail)
        except _Refused as r:
            raise ValueError(f"name: {r.why}") from None
        if name in self._table("apps"):
            raise ValueError(f"name: there is already an application named {name}")

    def remove_app(self, name: str) -> dict[str, list]:
        """Delete an application and the faults naming it. Returns ``{"apps": [name],
        "faults": [descriptions]}``."""
        if name not in self._table("apps"):
            raise ValueError(f"unknown application {name!r}")

        def change(raw: dict) -> dict[str, list]:
            del raw["apps"][name]
            faults = _drop_faults(raw, set(), set(), {name})
            _prune_sections(raw)
            return {"apps": [name], "faults": faults}
        return self._edit(change)

    def rename_app(self, old: str, new: str) -> None:
        """Rename an application, and the faults naming it."""
        if old not in self._table("apps"):
            raise ValueError(f"unknown application {old!r}")
        if new == old:
            return
        self._check_new_app_name(new)

        def change(raw: dict) -> None:
            raw["apps"] = _rename_key(raw["apps"], old, new)
            for fault in _faults(raw):
                if fault.get("app") == old:
                    fault["app"] = new
        self._edit(change)

    # -- values -----------------------------------------------------------------------------
    def set_value(self, path: Iterable, value: Any) -> None:
        """Set one field, in file units (``("links", "r1-r2", "delay")`` to ``"5ms"``).

        Fields: ``scenario.KEY``, ``tcp.OPTION``, ``hosts.NAME.KEY``, ``links.NAME.KEY``,
        ``links.NAME.forward|reverse.KEY``, ``apps.NAME.KEY``,
        ``apps.NAME.tcp|client_tcp|server_tcp.OPTION`` (or one of these tables whole), and
        ``layout.NODE`` (``[x, y]``). The value is checked as the file format checks it, together
        with what it affects (TCP options as a whole, both directions of a link, an
        application's hosts and port). Changing an application's ``type`` drops the keys the
        new type does not take. ``None`` unsets the field (:meth:`unset_value`)."""
        path = tuple(path)
        if value is None:
            self.unset_value(path)
            return
        if isinstance(value, tuple):
            value = list(value)
        self._check_path(path, for_unset=False)
        if path[0] == "layout":
            self.move_node(path[1], *_checked_position(value))
            return
        value = self._normalized(path, value)

        def change(raw: dict) -> None:
            try:
                node = table_for(raw, path)
            except ValueError as e:
                raise ValueError(f"{'.'.join(path)}: {e}") from None
            node[path[-1]] = copy.deepcopy(value)
            if path[0] == "apps" and path[2] == "type" and isinstance(value, str) and value in APP_KEYS:
                allowed = {**APP_COMMON, **APP_KEYS[value]}
                for key in [k for k in node if k not in allowed]:
                    del node[key]
            self._check_affected(raw, path)
        self._edit(change, path)

    def unset_value(self, path: Iterable) -> bool:
        """Remove one field (or a whole ``tcp`` / ``forward`` table and the like), so that its
        default applies again; tables left empty go too. Refused when the default does not fit
        (e.g. ``tcp.max_rto`` back to 60 s below a larger ``min_rto``) or the field is required
        (an application's type, client, server and port). Returns whether anything was set."""
        path = tuple(path)
        self._check_path(path, for_unset=True)
        if self.get(path, _MISSING) is _MISSING:
            return False
        if path[0] == "apps" and len(path) == 3 and path[2] in APP_REQUIRED:
            raise ValueError(f"{path[2]}: required; every application has a type, client, "
                             f"server and port")

        def change(raw: dict) -> bool:
            containers = [raw]
            for part in path[:-1]:
                containers.append(containers[-1][part])
            del containers[-1][path[-1]]
            # Empty option tables go with their last key; entity tables ([hosts.x]) stay.
            for depth in range(len(path) - 1, 0, -1):
                if containers[depth] or depth == 2:
                    break
                del containers[depth - 1][path[depth - 1]]
            self._check_affected(raw, path)
            return True
        return self._edit(change, path)

    def _check_path(self, path: tuple, for_unset: bool) -> None:
        """Refuse a field path the editor cannot set, before anything changes."""
        dotted = ".".join(str(p) for p in path)
        if not path or not all(isinstance(p, str) for p in path):
            raise ValueError(f"cannot set {dotted or 'nothing'}: a field is named by its key path, "
                             f"e.g. ('links', 'r1-r2', 'loss')")
        section = path[0]
        if section in ("scenario", "tcp"):
            if len(path) == 1 and for_unset:
                return
            if len(path) != 2:
                raise ValueError(f"cannot set {dotted}: {section} takes {section}.KEY")
            return
        if section == "layout":
            if len(path) != 2:
                raise ValueError(f"cannot set {dotted}: the layout takes layout.NODE = [x, y]")
            if self.node_kind(path[1]) is None:
                raise ValueError(f"unknown node {path[1]!r}")
            return
        if section not in ("hosts", "routers", "links", "apps"):
            raise ValueError(f"cannot set {dotted}: fields are in scenario, tcp, hosts, links, "
                             f"apps and layout")
        if len(path) < 2:
            raise ValueError(f"cannot set {dotted}: name the {section[:-1]} and the key")
        name = path[1]
        if name not in self._table(section):
            if section == "links":
                ends = _link_ends(name)
                other = self.link_name(*ends) if ends else None
                hint = f" (it is named {other})" if other else ""
                known = ", ".join(self._table("links")) or "none"
                raise ValueError(f"unknown link {name!r}{hint}; links: {known}")
            known = ", ".join(self._table(section)) or "none"
            noun = {"hosts": "host", "routers": "router", "apps": "application"}[section]
            raise ValueError(f"unknown {noun} {name!r}; {section}: {known}")
        if len(path) == 2:
            what = "remove_nodes" if section in ("hosts", "routers") else \
                   "remove_link" if section == "links" else "remove_app"
            raise ValueError(f"cannot set {dotted} as a whole: edit its keys (or use {what})")
        sub = {"links": ("forward", "reverse"), "apps": APP_OPTION_TABLES}.get(section, ())
        if len(path) == 4 and path[2] not in sub:
            raise ValueError(f"cannot set {dotted}: {path[2]} is not a table of {section[:-1]} "
                             f"settings" + (f" ({', '.join(sub)} are)" if sub else ""))
        if len(path) > 4:
            raise ValueError(f"cannot set {dotted}: too many parts")

    def _normalized(self, path: tuple, value: Any) -> Any:
        """The value as it will be stored: whole floats for integer fields as ints, the
        congestion control name in lower case; everything else as given."""
        kind = self._kind(path)
        if kind == "integer" and isinstance(value, float) and value.is_integer():
            return int(value)
        if path[-1] == "cc" and isinstance(value, str):
            return value.lower()
        return value

    def _check_affected(self, raw: dict, path: tuple) -> None:
        """Check what a change at ``path`` affects, with the file format's rules."""
        section = path[0]
        if section == "scenario":
            check_table(raw.get("scenario", {}), "scenario", SCENARIO_KEYS, _fail)
        elif section == "tcp":
            base = tcp_config(raw.get("tcp", {}), "tcp", TcpConfig(), _fail)
            for aname, table in _dict(raw.get("apps")).items():
                if isinstance(table, dict):
                    _app_tcp(aname, table, base)
        elif section == "hosts":
            name = path[1]
            values = host_values(name, raw["hosts"][name], _fail)
            if "address" in values:
                for other, table in _dict(raw.get("hosts")).items():
                    if other != name and isinstance(table, dict) and table.get("address") == values["address"]:
                        _fail(f"hosts.{name}.address", f"{values['address']} is already the address of {other}")
        elif section == "routers":
            check_table(raw["routers"][path[1]], f"routers.{path[1]}", ROUTER_KEYS, _fail)
        elif section == "links":
            link_spec(path[1], raw["links"][path[1]], set(self._node_names(raw)), _fail)
        elif section == "apps":
            self._check_app(raw, path[1])

    def _check_app(self, raw: dict, name: str) -> None:
        """Application ``name`` as a whole: keys, hosts, TCP options, and a port free on its
        server."""
        hosts = _dict(raw.get("hosts"))
        base = tcp_config(raw.get("tcp", {}), "tcp", TcpConfig(), _fail)
        spec = app_spec(name, raw["apps"][name], hosts, base, _fail)
        for other, table in raw["apps"].items():
            if (other != name and isinstance(table, dict) and table.get("server") == spec.server
                    and table.get("port") == spec.port):
                _fail(f"apps.{name}.port", f"{spec.server}:{spec.port} is already used by app {other}")

    # ============================================================================ layout
    def auto_layout(self, width: float = 800, height: float = 500) -> dict[str, tuple[float, float]]:
        """Place every node and store the positions in the layout; returns them.

        Each connected part of the network is drawn around its longest host-to-host path (the
        spine), laid out left to right with a client on the left: a chain client-router-server
        comes out as a horizontal line. Nodes off the spine hang beside the spine node they
        attach to, towards the nearer end, stacked below (then above) what is already there.
        Unconnected nodes share a row under the rest. The result depends only on the document."""
        positions = _layered_layout(self.nodes(), [(a, b) for _n, a, b in self.links()],
                                    self._roles(), width, height)
        if positions:
            self.move_nodes(positions)
        return {n: self.position(n) for n in positions}

    def ensure_layout(self) -> bool:
        """Give every node a position (used on opening). With no positions at all this is
        :meth:`auto_layout`; nodes missing from an existing layout are put beside their
        neighbours, leaving the others where they are. Returns whether anything changed."""
        names = [n for n, _k in self.nodes()]
        missing = [n for n in names if self.position(n) is None]
        if not missing:
            return False
        if len(missing) == len(names):
            self.auto_layout()
            return True

        def change(raw: dict) -> None:
            layout = _section(raw, "layout")
            for n in missing:
                layout.pop(n, None)          # a malformed entry is replaced
            for n in missing:
                x, y = _free_spot(raw, n)
                layout[n] = [_coordinate(x), _coordinate(y)]
        self._edit(change)
        return True

    def _roles(self) -> dict[str, int]:
        """How client-like each host is: +1 per application it is the client of, -1 per
        application it serves (the layout puts clients on the left)."""
        roles: dict[str, int] = {}
        for table in self._table("apps").values():
            if isinstance(table, dict):
                for side, score in (("client", 1), ("server", -1)):
                    host = table.get(side)
                    if isinstance(host, str):
                        roles[host] = roles.get(host, 0) + score
        return roles

    # ============================================================================ display
    def display_value(self, path: Iterable) -> str:
        """The field at ``path`` as text for a panel, with units where it has them:
        ``"5 ms"``, ``"10 Mb/s"``, ``"0.01"``, ``"true"``. An unset field shows the value that
        applies instead (its default, or what it inherits: a direction from the link, an
        application's TCP options from ``[tcp]``); ``"auto"`` when that is chosen at run time
        (a host's address, an ISN), ``""`` for a path that is no field. Durations and rates are
        written so that the file format reads them back."""
        path = tuple(path)
        if not path:
            return ""
        kind = self._kind(path)
        value = self.get(path, _MISSING)
        if value is _MISSING:
            value = self._default(path)
            if value is _MISSING:
                return ""
            if value is None:
                return "auto"
            return _format(kind, value, converted=True)
        return _format(kind, value, converted=False, tcp_table=path[-1] in APP_OPTION_TABLES
                       or path == ("tcp",))

    def _kind(self, path: tuple) -> str | None:
        """What the field at ``path`` holds (as spec.value_kind), None when unknown."""
        if not path:
            return None
        section, leaf = path[0], path[-1]
        if not isinstance(leaf, str):
            return None
        if section == "tcp" and len(path) == 2:
            return tcp_option_kind(leaf) if leaf in option_names() else None
        if section == "scenario" and len(path) == 2:
            return value_kind(SCENARIO_KEYS[leaf]) if leaf in SCENARIO_KEYS else None
        if section == "hosts" and len(path) == 3:
            return value_kind(HOST_KEYS[leaf]) if leaf in HOST_KEYS else None
        if section == "links" and len(path) in (3, 4):
            return value_kind(LINK_KEYS[leaf]) if leaf in LINK_KEYS else None
        if section == "apps" and len(path) == 4 and path[2] in APP_OPTION_TABLES:
            return tcp_option_kind(leaf) if leaf in option_names() else None
        if section == "apps" and len(path) == 3:
            kind = self.get(("apps", path[1], "type"))
            schema = {**APP_COMMON, **(APP_KEYS.get(kind, {}) if isinstance(kind, str) else {})}
            return value_kind(schema[leaf]) if leaf in schema else None
        if section == "faults" and len(path) == 3:
            if leaf == "value":
                target = str(self.get(path[:2] + ("path",), "")).split(".")[-1]
                return value_kind(LINK_KEYS[target]) if target in LINK_KEYS else None
            return value_kind(FAULT_KEYS[leaf]) if leaf in FAULT_KEYS else None
        if section == "layout" and len(path) == 2:
            return "position"
        return None

    def _default(self, path: tuple) -> Any:
        """The value an unset field takes, converted (ns, bits/s); None when chosen at run
        time, _MISSING when there is no such field."""
        section, leaf = path[0], path[-1]
        if self._kind(path) is None:
            return _MISSING
        if section == "scenario":
            return {"title": self.name, "description": "", "seed": 1,
                    "duration": 60 * 1_000_000_000}[leaf]
        if section == "tcp":
            return getattr(self._effective_tcp(()), leaf)
        if section == "hosts":
            return None
        if section == "links":
            if len(path) == 4:
                set_both = self.get(path[:2] + (leaf,), _MISSING)
                if set_both is not _MISSING:
                    return _converted(self._kind(path), set_both)
            if leaf in LINK_DEFAULTS:
                return LINK_DEFAULTS[leaf]
            return ChannelParams.__dataclass_fields__[leaf].default
        if section == "apps" and len(path) == 4:
            return getattr(self._effective_tcp(path[1:3]), leaf)
        if section == "apps":
            if leaf in APP_COMMON_DEFAULTS:
                return APP_COMMON_DEFAULTS[leaf]
            return _app_default(self.get(("apps", path[1], "type")), leaf)
        if section == "faults":
            return 0 if leaf == "at" else _MISSING
        return _MISSING

    def _effective_tcp(self, where: tuple) -> TcpConfig:
        """The TCP options in force at ``where``: () for ``[tcp]``, (APP, "tcp"), (APP,
        "client_tcp") or (APP, "server_tcp") for an application. Unusable tables count as
        empty."""
        def layered(table: Any, key: str, base: TcpConfig) -> TcpConfig:
            try:
                return tcp_config(table if isinstance(table, dict) else {}, key, base, _fail)
            except _Refused:
                return base
        cfg = layered(self.raw.get("tcp", {}), "tcp", TcpConfig())
        if not where:
            return cfg
        app = self.get(("apps", where[0]), {})
        app = app if isinstance(app, dict) else {}
        cfg = layered(app.get("tcp", {}), "tcp", cfg)
        if where[1] != "tcp":
            cfg = layered(app.get(where[1], {}), where[1], cfg)
        return cfg


# ================================================================================ helpers
def _check_partial(raw: dict, source: str, name: str) -> None:
    """Check ``raw`` as a scenario being built: :func:`validate`'s rules, except those on the
    scenario as a whole (two hosts or more, all connected; every application with a client,
    server and port).

    It validates a copy completed with stand-ins: two more hosts, a router linked to every
    host, and for an application without a client, server or port, a stand-in host or an unused
    port. Their names contain a token that occurs nowhere in ``raw``, so nothing in the file can
    name them, and they are left out of the lists of names in a refusal."""
    token = next(t for t in (f"standin{i}" for i in range(1, 1_000_000))
                 if not any(t in s for s in _strings(raw)) and t not in source)
    raw = copy.deepcopy(raw)
    extra_hosts = [f"{token}h1", f"{token}h2"]
    router = f"{token}r"
    hosts = raw.setdefault("hosts", {})
    if isinstance(hosts, dict):
        hosts.update({h: {} for h in extra_hosts})
    routers = raw.setdefault("routers", {})
    if isinstance(routers, dict):
        routers[router] = {}
    links = raw.setdefault("links", {})
    if isinstance(links, dict) and isinstance(hosts, dict):
        links.update({f"{router}-{h}": {} for h in hosts})
    apps = [t for t in _dict(raw.get("apps")).values() if isinstance(t, dict)]
    used = {t.get("port") for t in apps if isinstance(t.get("port"), (int, float))}
    ports = (p for p in range(65535, 0, -1) if p not in used)
    for table in apps:
        table.setdefault("client", extra_hosts[0])
        table.setdefault("server", extra_hosts[1])
        if "port" not in table:
            table["port"] = next(ports)
    try:
        validate(raw, source, name)
    except ScenarioError as e:
        head, sep, names = str(e).rpartition(": ")
        if token not in names:
            raise
        kept = ", ".join(n for n in names.split(", ") if token not in n)
        raise ScenarioError(f"{head}{sep}{kept or 'none'}") from None


def _strings(value: Any) -> Iterator[str]:
    """Every key and string in a TOML value, at any depth."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _section(raw: dict, name: str) -> dict:
    """Top-level table ``name`` of ``raw``, created when missing."""
    table = raw.setdefault(name, {})
    if not isinstance(table, dict):
        raise ValueError(f"{name}: expected a table, got {table!r}")
    return table


def _faults(raw: dict) -> list[dict]:
    faults = raw.get("faults")
    return [f for f in faults if isinstance(f, dict)] if isinstance(faults, list) else []


def _rename_key(table: dict, old: str, new: str) -> dict:
    """``table`` with key ``old`` called ``new``, in the same place."""
    return {new if k == old else k: v for k, v in table.items()}


def _prune_sections(raw: dict) -> None:
    """Drop top-level tables an edit has emptied (except ``scenario``)."""
    for name in ("hosts", "routers", "links", "apps", "faults", "layout"):
        if name in raw and not raw[name]:
            del raw[name]


def _checked_position(pos: Any) -> tuple[float, float]:
    try:
        return layout_position(list(pos) if isinstance(pos, (list, tuple)) else pos)
    except ValueError as e:
        raise ValueError(f"position: {e}") from None


def _fault_touches(fault: dict, nodes: set, pairs: set, apps: set) -> bool:
    """Whether ``fault`` names one of ``nodes``, a link between them or in ``pairs``
    (frozensets of ends), or one of ``apps``."""
    links = [fault.get("link")]
    path = fault.get("path")
    if isinstance(path, str) and path.startswith("links."):
        links.append(path.split(".")[1])
    for lname in links:
        ends = _link_ends(lname)
        if ends and (nodes & set(ends) or frozenset(ends) in pairs):
            return True
    for key, names in (("from", nodes), ("host", nodes), ("app", apps)):
        if isinstance(fault.get(key), str) and fault[key] in names:
            return True
    return False


def _drop_faults(raw: dict, nodes: set, pairs: set, apps: set) -> list[str]:
    """Remove the faults that name what is going; return their descriptions."""
    faults = raw.get("faults")
    if not isinstance(faults, list):
        return []
    kept, dropped = [], []
    for f in faults:
        if isinstance(f, dict) and _fault_touches(f, nodes, pairs, apps):
            dropped.append(describe_fault(f))
        else:
            kept.append(f)
    raw["faults"] = kept
    return dropped


def describe_fault(fault: dict) -> str:
    """A few words for a fault: ``"crash server at 2.5 s"``, ``"drop on router-client"``."""
    words = [str(fault.get("action", "fault"))]
    target = fault.get("link") or fault.get("host") or fault.get("path") or fault.get("app")
    if target:
        words.append(("on " if "link" in fault else "") + str(target))
    at = fault.get("at")
    if at:
        try:
            words.append(f"at {format_duration(parse_duration(at))}")
        except ValueError:
            words.append(f"at {at!r}")
    return " ".join(words)


def _app_tcp(name: str, table: dict, base: TcpConfig) -> None:
    """Check application ``name``'s TCP option tables layered on ``base``."""
    shared = tcp_config(table.get("tcp", {}), f"apps.{name}.tcp", base, _fail)
    for side in ("client_tcp", "server_tcp"):
        tcp_config(table.get(side, {}), f"apps.{name}.{side}", shared, _fail)


def _app_default(kind: Any, key: str) -> Any:
    """The default of application key ``key`` for type ``kind``, from the application class
    (``bytes`` is its ``nbytes``); durations there are already in ns."""
    cls = APP_CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return _MISSING
    param = inspect.signature(cls.__init__).parameters.get("nbytes" if key == "bytes" else key)
    if param is None or param.default is inspect.Parameter.empty:
        return _MISSING
    return param.default


def _free_spot(raw: dict, name: str) -> tuple[float, float] | None:
    """A position for node ``name`` that is not yet placed: below the middle of its placed
    neighbours, else under the drawing; moved right until no node is close. None when nothing
    is placed yet."""
    placed = {}
    for n, p in _dict(raw.get("layout")).items():
        try:
            placed[n] = layout_position(p)
        except ValueError:
            pass
    placed.pop(name, None)
    if not placed:
        return None
    near = []
    for lname in _dict(raw.get("links")):
        ends = _link_ends(lname)
        if ends and name in ends:
            other = ends[1] if ends[0] == name else ends[0]
            if other in placed:
                near.append(placed[other])
    if near:
        x = sum(p[0] for p in near) / len(near)
        y = sum(p[1] for p in near) / len(near) + 100
    else:
        xs = [p[0] for p in placed.values()]
        x = (min(xs) + max(xs)) / 2
        y = max(p[1] for p in placed.values()) + 100
    while any(math.hypot(x - px, y - py) < 60 for px, py in placed.values()):
        x += 90
    return x, y


def _layered_layout(nodes: list[tuple[str, str]], edges: list[tuple[str, str]],
                    roles: dict[str, int], width: float, height: float) -> dict[str, tuple[float, float]]:
    """Grid positions (column, row) per connected part, then scaled into the canvas."""
    order = {n: i for i, (n, _k) in enumerate(nodes)}
    hosts = [n for n, k in nodes if k == "host"]
    graph = nx.Graph()
    graph.add_nodes_from(order)
    graph.add_edges_from((a, b) for a, b in edges if a in order and b in order and a != b)
    parts = sorted((sorted(c, key=order.__getitem__) for c in nx.connected_components(graph)),
                   key=lambda c: (-len(c), order[c[0]]))
    grids = [_part_grid(graph.subgraph(c), c, [h for h in hosts if h in c], roles)
             for c in parts if len(c) > 1]
    singles = [c[0] for c in parts if len(c) == 1]
    if singles:
        grids.append({n: (i, 0) for i, n in enumerate(singles)})
    if not grids:
        return {}
    margin = 60.0
    bands = []          # (grid, first row, last row)
    total_rows = 0
    for grid in grids:
        rows = [r for _c, r in grid.values()]
        bands.append((grid, min(rows), max(rows)))
        total_rows += max(rows) - min(rows) + 1
    total_rows += len(bands) - 1          # an empty row between parts
    row_step = max(70.0, min(110.0, (height - 2 * margin) / max(1, total_rows - 1)))
    top = height / 2 - row_step * (total_rows - 1) / 2
    out: dict[str, tuple[float, float]] = {}
    for grid, first, last in bands:
        cols = [c for c, _r in grid.values()]
        ncols = max(cols) - min(cols) + 1
        col_step = max(90.0, min(280.0, (width - 2 * margin) / max(1, ncols - 1)))
        left = width / 2 - col_step * (ncols - 1) / 2
        for n, (c, r) in grid.items():
            out[n] = (left + (c - min(cols)) * col_step, top + (r - first) * row_step)
        top += (last - first + 2) * row_step
    return {n: out[n] for n, _k in nodes if n in out}


def _part_grid(graph: nx.Graph, members: list[str], hosts: list[str],
               roles: dict[str, int]) -> dict[str, tuple[int, float]]:
    """(column, row) of each node of one connected part: the spine on row 0, the rest hanging
    off it (see ScenarioDocument.auto_layout)."""
    ends = hosts if len(hosts) >= 2 else members
    dist = dict(nx.all_pairs_shortest_path_length(graph))
    best = None
    for i, u in enumerate(ends):
        for v in ends[i + 1:]:
            if best is None or dist[u][v] > dist[best[0]][best[1]]:
                best = (u, v)
    u, v = best
    if roles.get(v, 0) > roles.get(u, 0):
        u, v = v, u
    spine = nx.shortest_path(graph, u, v)
    mid = (len(spine) - 1) / 2
    col = {n: i for i, n in enumerate(spine)}
    row = {n: 0 for n in spine}
    step: dict[str, int] = {}
    rank = {n: i for i, n in enumerate(members)}
    taken = {(c, 0) for c in col.values()}
    queue = list(spine)
    while queue:
        parent = queue.pop(0)
        for child in sorted(graph.neighbors(parent), key=rank.__getitem__):
            if child in col:
                continue
            if parent in step:
                d = step[parent]
            else:
                d = -1 if col[parent] < mid else 1 if col[parent] > mid else 0
            step[child] = d
            col[child] = col[parent] + d
            for k in range(0, 2 * len(members) + 2):
                r = row[parent] + ((k + 1) // 2 if k % 2 else -(k // 2))
                if (col[child], r) not in taken:
                    break
            row[child] = r
            taken.add((col[child], r))
            queue.append(child)
    # A column of leaves that all hang from one node in another column (two clients on one
    # router) is centred on that node, so the fan is symmetric.
    columns: dict[int, list[str]] = {}
    for n in members:
        columns.setdefault(col[n], []).append(n)
    for c, group in columns.items():
        if len(group) < 2 or any(graph.degree(n) != 1 for n in group):
            continue
        parents = {next(iter(graph.neighbors(n))) for n in group}
        if len(parents) == 1:
            parent = parents.pop()
            if col[parent] != c:
                shift = row[parent] - sum(row[n] for n in group) / len(group)
                for n in group:
                    row[n] += shift
    return {n: (col[n], row[n]) for n in members}


# -- TOML text ------------------------------------------------------------------------------
_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _dumps(table: dict) -> str:
    return tomli_w.dumps(table, multiline_strings=True)


def _key(k: str) -> str:
    return k if _BARE.fullmatch(k) else tomli_w.dumps({k: 0}).rsplit(" = ", 1)[0]


def _literal(v: Any) -> str:
    return tomli_w.dumps({"v": v}).split(" = ", 1)[1].rstrip("\n")


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _is_flat(table: dict) -> bool:
    """No tables inside (so it can be written as ``key = value`` lines)."""
    return not any(isinstance(v, dict) or _is_table_array(v) for v in table.values())


def _is_position(p: Any) -> bool:
    try:
        layout_position(p)
    except ValueError:
        return False
    return True


def _app_block(section: str, name: str, table: Any) -> str:
    """``[apps.NAME]`` with its option tables inline (``tcp = { cc = "reno" }``), as the
    built-in scenarios write them."""
    if not isinstance(table, dict) or not all(_is_flat(v) for v in table.values() if isinstance(v, dict)) \
            or any(_is_table_array(v) for v in table.values()):
        return _dumps({section: {name: table}})
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    inline = {k: v for k, v in table.items() if isinstance(v, dict)}
    text = f"[{_key(section)}.{_key(name)}]\n" + (_dumps(scalars) if scalars else "")
    for k, sub in inline.items():
        body = ", ".join(f"{_key(ok)} = {_literal(ov)}" for ok, ov in sub.items())
        text += f"{_key(k)} = {{ {body} }}\n" if body else f"{_key(k)} = {{}}\n"
    return text


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); harmless where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- display --------------------------------------------------------------------------------
def _converted(kind: str | None, value: Any) -> Any:
    """A file value in engine units: durations in ns, rates in bits/s; others as they are."""
    if kind == "duration":
        return parse_duration(value)
    if kind == "rate":
        return parse_rate(value)
    return value


def _format(kind: str | None, value: Any, converted: bool, tcp_table: bool = False) -> str:
    """Text for a value of ``kind``; ``converted`` says it is already in engine units."""
    if isinstance(value, dict):
        parts = []
        for k, v in value.items():
            sub = tcp_option_kind(k) if tcp_table and k in option_names() else None
            parts.append(f"{k} = {_format(sub, v, converted=False)}")
        return ", ".join(parts)
    if not converted:
        try:
            value = _converted(kind, value)
        except ValueError:
            return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "duration" and isinstance(value, int):
        return format_duration(value)
    if kind == "rate" and isinstance(value, int):
        return format_rate(value)
    if kind == "position" and isinstance(value, (list, tuple)):
        return ", ".join(_format(None, c, converted=True) for c in value)
    if isinstance(value, float):
        return f"{value:.12g}"
    if isinstance(value, list):
        return ", ".join(_format(None, c, converted=True) for c in value)
    return str(value)
