"""Build a validated scenario into a network and run it, headless or driven by the GUI.

``Run`` is what the CLI and the GUI controller hold: ``run(until)`` advances the engine,
``trace`` records everything, ``set_link`` and ``add_rule`` are the knobs and targeted faults
(recorded in the trace as they apply), ``summary()`` is the machine-readable outcome.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from tcplab.apps import APP_CLASSES, Application
from tcplab.net.faults import PacketRule, SegmentFilter, parse_flags
from tcplab.net.network import Network, TopologyError
from tcplab.net.node import Host
from tcplab.net.packet import ip_from_str, ip_str
from tcplab.scenario.spec import LINK_KEYS, Scenario, ScenarioError
from tcplab.sim.clock import SEC
from tcplab.trace.events import TcpState
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
            net.add_link(ls.a, ls.b, ls.ab, ls.ba)
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
        if param not in LINK_KEYS:
            raise ValueError(f"unknown link parameter {param!r}; known: {', '.join(LINK_KEYS)}")
        try:
            converted = LINK_KEYS[param](value)
        except ValueError as e:
            raise ValueError(f"link {link_name}: {param}: {e}") from None
        link = self.net.link(link_name)
        if direction is not None and link.name != link_name:
            direction = 1 - direction   # named the other way round
        link.set(param, converted, direction)

    def add_rule(self, link_name: str, rule: PacketRule, from_node: str | None = None) -> None:
        """Attach a targeted fault to a link: in the direction leaving ``from_node``, or both."""
        link = self.net.link(link_name)
        if from_node is None:
            # One rule object shared by both directions: "the next match" on the link.
            for ch in link.channels:
                ch.rules.append(rule)
        else:
            link.channel_from(self.net.nodes[from_node]).rules.append(rule)

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
