"""Build a validated scenario into a network and run it, headless or driven by the GUI.

``Run`` is what the CLI and the GUI controller hold: ``run(until)`` advances the engine,
``trace`` records everything, ``set_link`` and ``add_rule`` are the knobs and targeted faults
(recorded in the trace as they apply), ``summary()`` is the machine-readable outcome.

Live user actions (the GUI, between time slices) go through ``apply(action)``: a plain
JSON-able dict, checked, applied at ``now``, traced as a USER event and recorded in
``actions`` as ``(time ns, action)``. An action takes effect after every event due at or
before ``now`` has run, so its effect depends only on its time, not on how the run was sliced;
``replay_actions(actions)`` on a fresh ``Run`` of the same scenario and seed reproduces the
trace exactly. Actions (see ``apply`` for the checks):

``{"op": "set_link", "link": "r1-r2", "param": "loss", "value": 0.05, "direction": None}``
    change a link parameter, the value in scenario-file units (a bare number of a duration
    is seconds: 0.005 or "5ms"; bandwidth bits/s or "10Mbps"); direction 0/1 counts in the
    order the link is named in the action, None both. Durations over an hour are refused.
``{"op": "drop_next", "link": "r1-r2", "from": None}``
    drop the next segment to start onto the link (leaving node ``from``, or either way).
``{"op": "packet", "uid": 17, "what": "drop" | "duplicate" | "delay", "delay": 50_000_000}``
    act on a packet on a link now (see ``in_flight()``): take it off the link, copy it (the
    copy arrives 1 ns after it), or make it arrive ``delay`` ns (int) or "50ms" later.
"""

from __future__ import annotations

import copy
import gc
import time
from typing import Any

from tcplab.apps import APP_CLASSES, Application
from tcplab.net.faults import PacketRule, SegmentFilter, parse_flags
from tcplab.net.network import Network, TopologyError
from tcplab.net.node import Host
from tcplab.net.packet import ip_from_str, ip_str
from tcplab.scenario.spec import LINK_KEYS, Scenario, ScenarioError
from tcplab.scenario.units import parse_duration
from tcplab.sim.clock import SEC
from tcplab.trace.events import DropReason, EventKind, TcpState, UserOp
from tcplab.trace.store import Trace

ADDRESS_BASE = ip_from_str("192.0.2.0")   # TEST-NET-1 (RFC 5737): documentation addresses


class Run:
    """One execution of a scenario with a seed."""

    def __init__(self, scenario: Scenario, seed: int | None = None, keep_data: bool = False) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.trace = Trace()
        self.trace.meta.update(scenario=scenario.name, title=scenario.title, seed=self.seed)
        self.net = Network(self.seed, self.trace)
        self.apps: list[Application] = []
        self.keep_data = keep_data
        self.wall = 0.0
        #: Live user actions applied so far: (simulated time ns, action dict), in order.
        self.actions: list[tuple[int, dict[str, Any]]] = []
        try:
            self._build()
        except TopologyError as e:
            raise ScenarioError(f"{scenario.source}: {e}") from None

    # -- building ----------------------------------------------------------------------------
    def _build(self) -> None:
        sc = self.scenario
        net = self.net
        used = {ip_from_str(h["address"]) for h in sc.hosts.values() if "address" in h}
        nxt = ADDRESS_BASE + 1
        for name, h in sc.hosts.items():
            if "address" in h:
                ip = ip_from_str(h["address"])
            else:
                while nxt in used:
                    nxt += 1
                ip = nxt
                used.add(ip)
            net.add_host(name, ip, h.get("isn"))
        for name in sc.routers:
            net.add_router(name)
        for ls in sc.links:
            # The run's own copies: knobs change them (set_link) and the scenario must stay as
            # written for the next run of it.
            net.add_link(ls.a, ls.b, copy.copy(ls.ab), None if ls.ba is None else copy.copy(ls.ba))
        net.compute_routes()
        for spec in sc.apps:
            cls = APP_CLASSES[spec.type]
            params = dict(spec.params)
            if "bytes" in params:
                params["nbytes"] = params.pop("bytes")
            app = cls(spec.name, net, net.nodes[spec.client], net.nodes[spec.server], spec.port,
                      spec.client_tcp, spec.server_tcp, start=spec.start, read_rate=spec.read_rate,
                      client_read_rate=spec.client_read_rate, keep_data=self.keep_data,
                      client_port=spec.client_port, close_delay=spec.close_delay, **params)
            app.install()
            self.apps.append(app)
        for fault in sc.faults:
            self._schedule_fault(fault.action, fault.at, fault.options)

    def app(self, name: str) -> Application:
        for app in self.apps:
            if app.name == name:
                return app
        raise KeyError(f"unknown app {name!r}")

    def _schedule_fault(self, action: str, at: int, opts: dict[str, Any]) -> None:
        net = self.net
        sched = net.sched
        if action in ("drop", "delay"):
            filt = SegmentFilter(flags=parse_flags(opts.get("flags", "")), seq=opts.get("seq"),
                                 data=opts.get("data", False))
            if "app" in opts:
                app = self.app(opts["app"])
                filt.ports = (app.client_port, app.port)
            self.add_rule(opts["link"], PacketRule(filt, action, nth=opts.get("nth", 1),
                                                   count=opts.get("count", 1), start=at,
                                                   extra_delay=opts.get("delay", 0),
                                                   label=opts.get("label", "")),
                          opts.get("from"))
        elif action in ("link_down", "link_up"):
            link = net.link(opts["link"])
            sched.schedule_at(at, link.set, "up", action == "link_up")
        elif action in ("crash", "restart"):
            host = net.nodes[opts["host"]]
            sched.schedule_at(at, host.crash if action == "crash" else host.restart)
        elif action == "set":
            parts = opts["path"].split(".")
            direction = None
            if len(parts) == 4:
                direction = 0 if parts[2] == "forward" else 1
            sched.schedule_at(at, self.set_link, parts[1], parts[-1], opts["value"], direction)
        elif action in ("abort", "close"):
            sched.schedule_at(at, self._app_call, opts["app"], opts.get("side", "client"), action)

    def _app_call(self, app_name: str, side: str, action: str) -> None:
        app = self.app(app_name)
        sides = [app.client_side] if side == "client" else app.server_sides
        now = self.net.sched.now
        for s in sides:
            if s is None or s.conn.state == TcpState.CLOSED:
                continue
            getattr(s.conn, action)(now)
            s.host.service(s.conn)

    # -- knobs ---------------------------------------------------------------------------------
    def set_link(self, link_name: str, param: str, value, direction: int | None = None) -> None:
        """Change a link parameter now. ``value`` may be in file units ("5ms", "10Mbps", 0.01).
        Raises ValueError naming the problem; nothing changes then."""
        link, converted, direction = self._link_change(link_name, param, value, direction)
        link.set(param, converted, direction)

    def _link_change(self, link_name: str, param: str, value, direction: int | None):
        """(link, converted value, direction in the link's own order) for ``set_link``."""
        if param not in LINK_KEYS:
            raise ValueError(f"unknown link parameter {param!r}; known: {', '.join(LINK_KEYS)}")
        try:
            converted = LINK_KEYS[param](value)
        except ValueError as e:
            raise ValueError(f"link {link_name}: {param}: {e}") from None
        link = self.net.link(link_name)
        if direction is not None and link.name != link_name:
            direction = 1 - direction   # named the other way round
        return link, converted, direction

    def add_rule(self, link_name: str, rule: PacketRule, from_node: str | None = None) -> None:
        """Attach a targeted fault to a link: in the direction leaving ``from_node``, or both."""
        link = self.net.link(link_name)
        if from_node is None:
            # One rule object shared by both directions: "the next match" on the link.
            for ch in link.channels:
                ch.rules.append(rule)
        else:
            link.channel_from(self.net.nodes[from_node]).rules.append(rule)

    # -- live user actions ---------------------------------------------------------------------
    def apply(self, action: dict[str, Any]) -> None:
        """Apply one user action at the current simulated time (between slices), trace it as
        a USER event (the action in ``Trace.extra``) followed by the network's response, and
        append ``(now, action)`` to ``actions``, the action normalised: every key present, in a
        fixed order, values as given. Events due at ``now`` run first.

        Raises ValueError naming the problem (unknown op or key, missing key, bad value,
        unknown link or node, ``packet N is not on a link now``); nothing changes and nothing
        is recorded then."""
        if not isinstance(action, dict):
            raise ValueError(f"an action is a dict with an 'op', not {type(action).__name__}")
        self.run(until=self.now)   # what is due now happens before the user acts
        record, do = self._prepare(action)
        self.actions.append((self.now, record))
        do(record)

    def replay_actions(self, actions, until: int | None = None) -> None:
        """Apply recorded ``(time ns, action)`` pairs (``Run.actions`` of an earlier run, or as
        read back from JSON) in order, running the engine up to each time first, then on to
        ``until`` if given. On a fresh ``Run`` of the same scenario and seed the trace is
        identical to the recorded run's at every common time."""
        for t, action in actions:
            if t < self.now:
                raise ValueError(f"action {action!r} at {t} ns comes before now ({self.now} ns)")
            self.run(until=t)
            self.apply(action)
        if until is not None:
            self.run(until=until)

    def in_flight(self) -> list[tuple[int, int, int, int, int]]:
        """``(uid, link id, direction, start ns, arrival ns)`` of every packet on a link now
        (being serialised or propagating: its arrival is pending), in arrival order. Start is
        its HOP row's time; arrival includes any hold-back. Packets already doomed to be lost
        on the link are not listed. Scans the scheduler: call it when needed, not per event."""
        return self.net.in_flight()

    _ACTION_KEYS = {
        "set_link": (("link", "param", "value"), ("direction",)),
        "drop_next": (("link",), ("from",)),
        "packet": (("uid", "what"), ("delay",)),
    }

    def _prepare(self, action: dict[str, Any]):
        """Check ``action`` against the network as it is now; return (normalised record, a
        function that applies it). Changes nothing."""
        op = action.get("op")
        if not isinstance(op, str) or op not in self._ACTION_KEYS:
            raise ValueError(f"unknown action op {op!r}; known: {', '.join(self._ACTION_KEYS)}")
        required, optional = self._ACTION_KEYS[op]
        unknown = [k for k in action if k != "op" and k not in required and k not in optional]
        if unknown:
            raise ValueError(f"{op}: unknown key {unknown[0]!r}; "
                             f"expected {', '.join(required + optional)}")
        missing = [k for k in required if k not in action]
        if missing:
            raise ValueError(f"{op}: missing key {missing[0]!r}")
        return getattr(self, "_prepare_" + op)(action)

    def _user_row(self, op: UserOp, record: dict[str, Any], link: int = -1, c: int = 0,
                  direction: int = -1, pkt: int = -1) -> None:
        self.trace.emit(self.now, EventKind.USER, -1, -1, pkt, int(op), link, c, direction,
                        extra=dict(record))

    def _find_link(self, op: str, name) -> Any:
        if not isinstance(name, str):
            raise ValueError(f"{op}: link must be a name like 'r1-r2', not {name!r}")
        return self.net.link(name)   # TopologyError (a ValueError) names the known links

    def _prepare_set_link(self, action: dict[str, Any]):
        name, param, value = action["link"], action["param"], action["value"]
        direction = action.get("direction")
        link = self._find_link("set_link", name)
        if not isinstance(param, str):
            raise ValueError(f"set_link: param must be a parameter name, not {param!r}")
        if direction is not None and (isinstance(direction, bool) or direction not in (0, 1)):
            raise ValueError(f"set_link: direction must be None, 0 or 1, not {direction!r}")
        if not isinstance(value, (bool, int, float, str)):
            raise ValueError(f"set_link: value must be a number, a string or a boolean, "
                             f"not {type(value).__name__}")
        _, converted, own_dir = self._link_change(name, param, value, direction)
        if param in ("delay", "jitter", "reorder_delay") and converted > 3600 * SEC:
            # File units: a bare number of a duration is seconds. A number meant as ns would
            # silently become years; refuse it loudly instead.
            raise ValueError(f"set_link: {param} {value!r} is more than an hour: a number is in "
                             f"seconds (as in scenario files); write \"5ms\" or 0.005")
        link.check(param, converted, own_dir)
        record = {"op": "set_link", "link": name, "param": param, "value": value,
                  "direction": direction}

        def do(record):
            self._user_row(UserOp.SET_LINK, record, link.id,
                           direction=-1 if own_dir is None else own_dir)
            link.set(param, converted, own_dir)
        return record, do

    def _prepare_drop_next(self, action: dict[str, Any]):
        name, src = action["link"], action.get("from")
        link = self._find_link("drop_next", name)
        if src is not None:
            if not isinstance(src, str) or src not in self.net.nodes:
                raise ValueError(f"drop_next: unknown node {src!r}")
            node = self.net.nodes[src]
            if node is not link.a and node is not link.b:
                raise ValueError(f"drop_next: {src} is not an end of link {link.name}")
        record = {"op": "drop_next", "link": name, "from": src}

        def do(record):
            direction = -1 if src is None else link.channel_from(self.net.nodes[src]).direction
            self._user_row(UserOp.DROP_NEXT, record, link.id, direction=direction)
            rule = PacketRule(SegmentFilter(), "drop", start=self.now, label="user: drop next",
                              reason=DropReason.USER)
            self.add_rule(link.name, rule, src)
        return record, do

    def _prepare_packet(self, action: dict[str, Any]):
        uid, what = action["uid"], action["what"]
        if isinstance(uid, bool) or not isinstance(uid, int) or uid < 0:
            raise ValueError(f"packet: uid must be a packet number (an integer >= 0), not {uid!r}")
        if what not in ("drop", "duplicate", "delay"):
            raise ValueError(f"packet: what must be 'drop', 'duplicate' or 'delay', not {what!r}")
        record = {"op": "packet", "uid": uid, "what": what}
        delay = 0
        if what == "delay":
            if "delay" not in action:
                raise ValueError("packet: 'delay' needs a 'delay' (ns, or a string like \"50ms\")")
            raw = action["delay"]
            if isinstance(raw, str):
                try:
                    delay = parse_duration(raw)
                except ValueError as e:
                    raise ValueError(f"packet: delay: {e}") from None
            elif isinstance(raw, int) and not isinstance(raw, bool):
                delay = raw
            else:
                raise ValueError(f"packet: delay must be an integer number of ns or a string "
                                 f"like \"50ms\", not {raw!r}")
            if delay <= 0:
                raise ValueError(f"packet: delay must be positive, not {raw!r}")
            record["delay"] = raw
        elif "delay" in action:
            raise ValueError(f"packet: 'delay' only goes with what='delay', not {what!r}")
        found = self.net.arrival_of(uid)
        if found is None:
            raise ValueError(f"packet {uid} is not on a link now")
        handle, pkt, ch = found
        net = self.net

        def do(record):
            link, d = ch.link.id, ch.direction
            if what == "drop":
                self._user_row(UserOp.DROP, record, link, handle.time, d, uid)
                net.drop_in_flight(handle, pkt, ch)
            elif what == "duplicate":
                copy_uid = len(self.trace.packets)    # the uid the copy will get
                self._user_row(UserOp.DUPLICATE, record, link, copy_uid, d, uid)
                copy = net.duplicate_in_flight(handle, pkt, ch)
                assert copy.uid == copy_uid
            else:
                self._user_row(UserOp.DELAY, record, link, handle.time + delay, d, uid)
                net.delay_in_flight(handle, pkt, ch, delay)
        return record, do

    # -- running -------------------------------------------------------------------------------
    def run(self, until: int | None = None, max_events: int | None = None) -> int:
        """Advance the engine (to ``until`` ns, default the scenario's duration).

        While it runs, the cyclic garbage collector's youngest generation is collected less
        often: the engine allocates many short-lived packets and tuples but makes few cycles,
        and the default threshold (700 allocations) costs a run 5-8% (bench/README.md). The
        previous thresholds are restored afterwards."""
        start = time.perf_counter()
        thresholds = gc.get_threshold()
        gc.set_threshold(50_000, thresholds[1], thresholds[2])
        try:
            n = self.net.sched.run(until=self.scenario.duration if until is None else until,
                                   max_events=max_events, advance=False)
        finally:
            gc.set_threshold(*thresholds)
        self.wall += time.perf_counter() - start
        return n

    @property
    def now(self) -> int:
        return self.net.sched.now

    def next_time(self) -> int | None:
        """Simulated time of the next event that will run, or None when nothing is pending."""
        return self.net.sched.peek()

    def finished(self) -> bool:
        """No event is pending: nothing more can happen."""
        return self.net.sched.peek() is None

    # -- results -------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """The machine-readable outcome: per connection and totals (see README)."""
        conns = []
        done_at = {}
        for app in self.apps:
            done_at[app.name] = app.done_at
        for conn in self.net.conns:
            info = self.trace.conns[conn.id]
            host: Host = self.net.nodes[self.trace.nodes[info.node]]
            retx = dict(sorted(conn.stats["retransmissions"].items()))
            finished = done_at.get(info.app)
            state = getattr(conn, "state_at_crash", None)
            conns.append({
                "id": conn.id,
                "app": info.app,
                "role": info.role,
                "host": host.name,
                "local": f"{ip_str(conn.local_ip)}:{conn.local_port}",
                "remote": f"{ip_str(conn.remote_ip)}:{conn.remote_port}",
                "iss": conn.iss,
                "irs": conn.irs,
                "bytes_written": conn.written,
                "bytes_delivered": conn.received,
                "bytes_read": conn.read_total,
                "data_segments_sent": conn.stats["data_segments_sent"],
                "retransmissions": {"total": sum(retx.values()), "by_cause": retx},
                "dup_acks_received": conn.stats["dup_acks_received"],
                "spurious_retransmissions": conn.stats.get("spurious_retransmissions", 0),
                "cc": conn.cfg.cc,
                "options": {"sack": conn.sack_ok, "timestamps": conn.ts_ok,
                            "window_scale": ([conn.snd_wscale, conn.rcv_wscale]
                                             if conn.ws_ok else None)},
                "final_state": conn.state.label,
                "crashed_in_state": state.label if state is not None else None,
                "completion_time": None if finished is None else finished / SEC,
            })
        drops: dict[str, int] = {}
        from tcplab.trace.events import DropReason, EventKind
        for i in self.trace.indices(EventKind.DROP):
            name = DropReason(self.trace.a[i]).name.lower()
            drops[name] = drops.get(name, 0) + 1
        links = {name: {"forward" if ch.direction == 0 else "reverse":
                        {"packets": ch.tx_packets, "bytes": ch.tx_bytes} for ch in link.channels}
                 for name, link in self.net.links.items()}
        hosts = {h.name: dict(h.stats) for h in self.net.nodes.values() if isinstance(h, Host)}
        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "connections": conns,
            "drops": dict(sorted(drops.items())),
            "links": links,
            "hosts": hosts,
            "totals": {
                "events_processed": self.net.sched.events_processed,
                "trace_events": len(self.trace),
                "packets": len(self.trace.packets),
                "simulated_seconds": self.now / SEC,
                "wall_seconds": round(self.wall, 6),
            },
        }
