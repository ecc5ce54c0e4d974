"""Hypothesis strategies that generate whole scenarios as TOML text.

The scenarios are written as scenario *files* (not built objects) so that every generated case
also goes through the real parser and validator (``tcplab.scenario.spec.loads``).

A generated case has 2 hosts (sometimes 3 or 4, with several applications) and 0-4 routers in a
chain, a random tree or a random graph with cycles; every host is a leaf hanging off a router
(hosts do not forward), except in the two-host, no-router case where one link joins them.
Each link gets random bandwidth, delay, jitter and impairments (loss, Gilbert-Elliott burst loss,
duplication, reordering, corruption), sometimes different per direction through the
``forward``/``reverse`` sub-tables, and sometimes a small queue. Corruption is enabled on one
link only (see ``scenarios``).

The impairments are bounded so that a run always completes: the summed per-direction chance of
losing a packet (random loss + burst loss + corruption) over *all* links is scaled down to at
most ``LOSS_BUDGET``, which bounds the loss on any path, and the retry limits are high
(``max_retries`` 30, ``syn_retries`` 20), so the chance that a connection legitimately gives up
is negligible (about 0.5**31 per segment).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from tcplab.tcp.config import BOOL_OPTIONS

#: Upper bound of the summed per-direction loss probability over every link of a topology.
LOSS_BUDGET = 0.3
#: TIME-WAIT lasts 2*MSL: short (shorter than a backed-off RTO, so a lost last ACK ends in
#: RST) or long enough to outlast the peer's FIN retransmissions.
MSLS = ["0.5 s", "3 s", "10 s"]
#: Simulated time allowed; a run that has not drained its event queue by then fails.
DURATION_S = 7200

APP_TYPES = ("bulk", "echo", "request", "typing")


@dataclass
class Case:
    """One generated scenario: its TOML text, the seed to run it with, and a short label."""

    toml: str
    seed: int
    label: str = ""
    apps: list[str] = field(default_factory=list)

    def __repr__(self) -> str:   # what hypothesis prints for a falsifying example
        return f"Case(seed={self.seed}, label={self.label!r}, toml=<<<\n{self.toml}>>>)"


# ------------------------------------------------------------------------------ TOML writing
def _val(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    raise TypeError(v)


def _inline(d: dict) -> str:
    return "{ " + ", ".join(f"{k} = {_val(v)}" for k, v in d.items()) + " }"


def _table(name: str, d: dict) -> str:
    lines = [f"[{name}]"]
    for k, v in d.items():
        lines.append(f"{k} = {_inline(v) if isinstance(v, dict) else _val(v)}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ values
def _duration_text(draw, us: int):
    """A duration of ``us`` microseconds, written in one of the accepted notations."""
    form = draw(st.sampled_from(["us", "ms", "float"]))
    if form == "us":
        return f"{us}us"
    if form == "ms":
        return f"{us / 1000:g} ms" if us % 1000 else f"{us // 1000}ms"
    return us / 1_000_000


def _rate_text(draw, mbps: int):
    form = draw(st.sampled_from(["Mbps", "Mb/s", "int"]))
    if form == "Mbps":
        return f"{mbps}Mbps"
    if form == "Mb/s":
        return f"{mbps} Mb/s"
    return mbps * 1_000_000


def _prob(draw, hi_thousandths: int) -> float:
    """0 half of the time, else up to ``hi_thousandths``/1000 (in steps of 0.001)."""
    if draw(st.booleans()):
        return 0.0
    return draw(st.integers(0, hi_thousandths)) / 1000


def sizes(hi: int) -> st.SearchStrategy[int]:
    """A byte count in 1..hi, in three classes drawn evenly (Hypothesis alone favours tiny
    values): a few bytes, a few segments, many segments."""
    return st.one_of(st.integers(1, 100), st.integers(100, 5000), st.integers(5000, hi))


isns = st.one_of(
    st.integers(0, 2**32 - 1),
    st.integers(0, 70_000).map(lambda k: 2**32 - 1 - k),      # data crosses 2**32
    st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**31 + 1, 2**32 - 1]),
)


@st.composite
def impairments(draw) -> dict:
    """Impairment keys (probabilities as floats, delays in us) for one link or one direction."""
    out: dict = {}
    out["loss"] = _prob(draw, 200)
    if draw(st.integers(0, 4)) == 0:
        out["ge_p"] = draw(st.integers(1, 30)) / 1000
        out["ge_r"] = draw(st.integers(300, 900)) / 1000
    out["dup"] = _prob(draw, 100)
    out["reorder"] = _prob(draw, 200)
    if out["reorder"]:
        out["reorder_delay_us"] = draw(st.integers(1_000, 50_000))
    out["corrupt"] = _prob(draw, 100)
    return out


@st.composite
def link_params(draw) -> dict:
    p: dict = {}
    p["bandwidth_mbps"] = draw(st.integers(1, 100))
    p["delay_us"] = draw(st.one_of(st.just(0), st.integers(0, 20_000)))
    if draw(st.booleans()):
        p["jitter_us"] = draw(st.integers(0, 5_000))
    p.update(draw(impairments()))
    q = draw(st.sampled_from(["default", "large", "small"]))
    if q == "large":
        p["queue"] = draw(st.integers(50, 500))
    elif q == "small":
        p["queue"] = draw(st.integers(2, 10))
    # Per-direction overrides.
    for d in ("forward", "reverse"):
        if draw(st.integers(0, 3)) == 0:
            p[d] = draw(impairments())
            if draw(st.booleans()):
                p[d]["delay_us"] = draw(st.integers(0, 20_000))
            if draw(st.booleans()):
                p[d]["bandwidth_mbps"] = draw(st.integers(1, 100))
    return p


def _fail_prob(p: dict) -> float:
    ge = 0.0
    if p.get("ge_p"):
        ge = p["ge_p"] / (p["ge_p"] + p.get("ge_r", 0.5))
    return p.get("loss", 0.0) + p.get("corrupt", 0.0) + ge


def _scale_losses(links: list[dict]) -> None:
    """Scale loss/corruption/burst entry so that the sum over links of the worse direction's
    failure probability is at most LOSS_BUDGET."""
    def direction(p, d):
        return {**{k: v for k, v in p.items() if k not in ("forward", "reverse")}, **p.get(d, {})}

    total = sum(max(_fail_prob(direction(p, "forward")), _fail_prob(direction(p, "reverse")))
                for p in links)
    if total <= LOSS_BUDGET:
        return
    f = LOSS_BUDGET / total
    for p in links:
        for t in (p, p.get("forward", {}), p.get("reverse", {})):
            for k in ("loss", "corrupt", "ge_p"):
                if k in t:
                    t[k] = round(t[k] * f, 5)


def _link_table(draw, p: dict) -> dict:
    def convert(src: dict) -> dict:
        t: dict = {}
        for k, v in src.items():
            if k in ("forward", "reverse"):
                continue
            if k == "bandwidth_mbps":
                t["bandwidth"] = _rate_text(draw, v)
            elif k.endswith("_us"):
                t[k[:-3]] = _duration_text(draw, v)
            elif isinstance(v, float) and v == 0.0 and draw(st.booleans()):
                continue                      # leave the default out sometimes
            else:
                t[k] = v
        return t

    table = convert(p)
    for d in ("forward", "reverse"):
        if d in p:
            table[d] = convert(p[d])
    return table


# ------------------------------------------------------------------------------ topology
@st.composite
def topologies(draw):
    """(hosts, routers, edges) with every host a leaf on a router (or two hosts joined)."""
    n_routers = draw(st.integers(0, 4))
    n_hosts = 2 if n_routers == 0 else draw(st.sampled_from([2, 2, 2, 3, 4]))
    hosts = [f"h{i}" for i in range(n_hosts)]
    routers = [f"r{i}" for i in range(n_routers)]
    if not routers:
        return hosts, routers, [("h0", "h1")], "direct"
    shape = draw(st.sampled_from(["chain", "tree", "graph"])) if n_routers >= 2 else "chain"
    edges = []
    if shape == "chain":
        for i in range(1, n_routers):
            edges.append((routers[i - 1], routers[i]))
    else:
        for i in range(1, n_routers):
            edges.append((routers[draw(st.integers(0, i - 1))], routers[i]))
        if shape == "graph":
            missing = [(a, b) for i, a in enumerate(routers) for b in routers[i + 1:]
                       if (a, b) not in edges and (b, a) not in edges]
            if missing:
                extra = draw(st.lists(st.sampled_from(missing), max_size=2, unique=True))
                edges.extend(extra)
    # Hosts: in a chain h0 and h1 sit at the two ends; others (and tree hosts) anywhere.
    for i, h in enumerate(hosts):
        if shape == "chain" and i == 0:
            r = routers[0]
        elif shape == "chain" and i == 1:
            r = routers[-1]
        else:
            r = draw(st.sampled_from(routers))
        edges.append((h, r))
    # Random orientation of each link name (which end is "forward").
    edges = [(b, a) if draw(st.booleans()) else (a, b) for a, b in edges]
    return hosts, routers, edges, shape


# ------------------------------------------------------------------------------ TCP options
#: TCP switches the property test turns on and off.
SWITCHES = sorted(BOOL_OPTIONS)


@st.composite
def tcp_options(draw, with_isn: bool = True) -> dict:
    t: dict = {}
    if draw(st.booleans()):
        t["mss"] = draw(st.integers(100, 1460))
    if draw(st.booleans()):
        t["rcv_buf"] = draw(st.one_of(st.integers(1000, 65535), st.integers(1000, 4000),
                                      st.integers(65536, 400_000)))
    if with_isn and draw(st.booleans()):
        t["isn"] = draw(isns)
    # Every switch, in any combination (each left at its default half of the time).
    for name in SWITCHES:
        if draw(st.booleans()):
            t[name] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        t["delack_time"] = draw(st.sampled_from([0.001, 0.04, 0.2, 0.5]))
    return t


# ------------------------------------------------------------------------------ apps
@st.composite
def app_table(draw, hosts: list[str], port: int) -> dict:
    kind = draw(st.sampled_from(APP_TYPES))
    client, server = draw(st.permutations(hosts))[:2]
    a: dict = {"type": kind, "client": client, "server": server, "port": port}
    if kind == "bulk":
        a["bytes"] = draw(sizes(60_000))
        if draw(st.booleans()):
            a["chunk"] = draw(st.integers(1, 20_000))
    elif kind == "echo":
        a["bytes"] = draw(sizes(20_000))
    elif kind == "request":
        a["request"] = draw(st.integers(1, 2000))
        a["response"] = draw(sizes(30_000))
        a["count"] = draw(st.integers(1, 3))
    else:
        a["chunk"] = draw(st.integers(1, 100))
        a["count"] = draw(st.integers(1, 8))
        a["interval"] = _duration_text(draw, draw(st.integers(1_000, 300_000)))
        a["echo"] = draw(st.booleans())
    if draw(st.booleans()):
        a["start"] = _duration_text(draw, draw(st.integers(0, 1_000_000)))
    if draw(st.integers(0, 3)) == 0:
        a["read_rate"] = draw(st.integers(2_000, 200_000))
    if draw(st.integers(0, 3)) == 0:
        a["client_read_rate"] = draw(st.integers(2_000, 200_000))
    if draw(st.integers(0, 3)) == 0:
        a["close_delay"] = _duration_text(draw, draw(st.integers(1, 1_000_000)))
    for key in ("tcp", "client_tcp", "server_tcp"):
        if draw(st.integers(0, 2)) == 0:
            opts = draw(tcp_options())
            if opts:
                a[key] = opts
    return a


# ------------------------------------------------------------------------------ scenario
@st.composite
def scenarios(draw) -> Case:
    hosts, routers, edges, shape = draw(topologies())
    params = [draw(link_params()) for _ in edges]
    # Corruption on one link only: a packet corrupted on two links can carry two bit flips
    # that cancel in the 16-bit one's complement checksum (same bit position, opposite
    # directions) and be accepted with wrong bytes, as on a real network.
    keep = draw(st.integers(0, len(edges) - 1))
    for i, p in enumerate(params):
        if i != keep:
            for t in (p, p.get("forward", {}), p.get("reverse", {})):
                if "corrupt" in t:
                    t["corrupt"] = 0.0
    _scale_losses(params)

    parts = []
    parts.append(_table("scenario", {"title": "hypothesis", "duration": f"{DURATION_S} s"}))
    tcp = {"msl": draw(st.sampled_from(MSLS)), "max_retries": 30, "syn_retries": 20}
    tcp["cc"] = draw(st.sampled_from(["newreno", "reno", "cubic"]))
    tcp["min_rto"] = draw(st.sampled_from([0.2, 0.5, 1]))
    tcp["max_rto"] = draw(st.sampled_from([10, 60]))
    if draw(st.booleans()):
        tcp["iw"] = draw(st.integers(1, 10))
    if draw(st.integers(0, 3)) == 0:
        tcp["snd_buf"] = draw(st.integers(4096, 131072))
    tcp.update(draw(tcp_options(with_isn=draw(st.integers(0, 3)) == 0)))
    if "mss" not in tcp or draw(st.booleans()):
        tcp["mss"] = draw(st.one_of(st.integers(100, 536), st.integers(536, 1460)))
    parts.append(_table("tcp", tcp))

    for h in hosts:
        t = {}
        if draw(st.booleans()):
            t["isn"] = draw(isns)
        parts.append(_table(f"hosts.{h}", t))
    for r in routers:
        parts.append(_table(f"routers.{r}", {}))
    for (a, b), p in zip(edges, params):
        table = _link_table(draw, p)
        sub = {d: table.pop(d) for d in ("forward", "reverse") if d in table}
        parts.append(_table(f"links.{a}-{b}", table))
        for d, t in sub.items():
            parts.append(_table(f"links.{a}-{b}.{d}", t))

    n_apps = draw(st.integers(1, 3)) if len(hosts) > 2 else draw(st.sampled_from([1, 1, 1, 2]))
    names = []
    for i in range(n_apps):
        a = draw(app_table(hosts, 1000 + i))
        name = f"{a['type']}{i}"
        names.append(name)
        parts.append(_table(f"apps.{name}", a))

    seed = draw(st.integers(0, 2**31 - 1))
    label = f"{shape}:{len(hosts)}h{len(routers)}r:" + ",".join(names)
    return Case("\n".join(parts), seed, label, names)
