"""Benchmark: the engine's bulk throughput against the Mathis et al. model (and PFTK's).

Runs the ``bulk`` scenario with 0.1%, 1% and 3% random loss on the r1-r2 link for a few seeds
per TCP variant and prints measured goodput next to the models' predictions. Run:

    python bench/bench_mathis.py [--seeds N] [--quick] [--variant LABEL]

Every figure printed is simulated time (wall-clock time is printed once at the end, for
information). bench/README.md ("Mathis et al.") records the table and how to read it;
tests/test_mathis.py asserts the comparison for NewReno without SACK.

The scenario is changed so that the path is loss-limited, which is what the model describes:

* every link runs at 1 Gb/s: the bandwidth-delay product (~1,200 segments) is far above any
  window these loss rates allow, so no link caps the rate and no standing queue forms (at the
  scenario's 10 Mb/s, 0.1% loss would be link-limited: the model's 30 Mb/s is not reachable);
* queues hold 100,000 packets, so the only losses are the link's Bernoulli draws;
* ``tcp.rcv_buf`` is 1 MB (see ``RCV_BUF``) and ``tcp.snd_buf`` 4 MB, so neither buffer limits
  the measured regime (the footer prints the share of time in which cwnd reached the peer's
  window);
* the reverse direction of r1-r2 (the ACK path) is lossless: ``loss`` on a link applies to both
  directions in this engine (docs/scenario-format.md), and the model's p is the loss of data
  packets. The ``+ack loss`` variant keeps the reverse loss to show its (small) effect.

Measurement, per run:

* the interval starts at the sender's fifth ssthresh reduction (slow start's overshoot takes a
  few halvings to settle to the loss-limited window) and ends at the sender's last segment of
  new data (after it a lost segment can only be repaired by a timeout: the end of a transfer,
  not its steady state);
* goodput: in-order bytes delivered to the receiving application in the interval / interval;
* p: the measured share of r1-r2's data-direction packets lost in the interval (close to the
  configured value; using the measurement removes the sampling noise of the draws);
* RTT: the time-weighted mean of the sender's SRTT over the interval (the base RTT is 14.04 ms:
  2 x 7 ms of propagation plus serialisation; delayed ACKs add their hold to the samples);
* the segment payload: the largest payload the sender sent, i.e. the MSS less the 12 bytes of
  the timestamps option (1448 bytes);
* timeout episodes: from the moment the retransmission timer that expired was armed until the
  sender's SND.UNA passes everything sent before the expiry. ``ratio w/o TO`` divides the
  goodput outside these episodes (bytes and time both excluded) by the model, which assumes no
  timeouts.

Seeds are pooled: total bytes over total time, interval-weighted RTT, mean p.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass

import numpy as np

from tcplab.scenario import load
from tcplab.scenario.runner import Run
from tcplab.sim.clock import SEC
from tcplab.trace.events import Detection, DropReason, EventKind, SendReason, TimerKind, Var

#: The receive buffer: 1 MB, 724 segments of 1448 bytes. The loss-limited window averages about
#: 1.3/sqrt(p) segments (41 at p = 0.1%, fewer at higher p); to climb from there to 724 segments
#: cwnd would need ~680 loss-free round trips. So the receive window never limits the measured
#: regime, but it stops slow start at the start from sending thousands of segments in one window.
RCV_BUF = 1 << 20

#: Overrides that make ``bulk`` loss-limited (see the module docstring).
PATH = ["links.client-r1.bandwidth=1Gbps", "links.r1-r2.bandwidth=1Gbps",
        "links.r2-server.bandwidth=1Gbps", "links.client-r1.queue=100000",
        "links.r1-r2.queue=100000", "links.r2-server.queue=100000",
        f"tcp.rcv_buf={RCV_BUF}", "tcp.snd_buf=4000000"]

#: (label, overrides, whether the ACK direction loses packets too)
VARIANTS = [
    ("newreno sack delack", [], False),                  # the engine's defaults
    ("newreno sack", ["tcp.delayed_ack=false"], False),
    ("newreno", ["tcp.sack=false", "tcp.delayed_ack=false"], False),
    ("newreno delack", ["tcp.sack=false"], False),
    ("reno", ["tcp.cc=reno", "tcp.sack=false", "tcp.delayed_ack=false"], False),
    ("newreno min_rto=0.2", ["tcp.sack=false", "tcp.delayed_ack=false", "tcp.min_rto=0.2"], False),
    ("newreno +ack loss", ["tcp.sack=false", "tcp.delayed_ack=false"], True),
]

#: Bytes per run by loss rate: ~20-60 loss events per run after the start-up transient.
BYTES = {0.001: 30_000_000, 0.01: 10_000_000, 0.03: 4_000_000}

#: The measurement starts at this ssthresh reduction (a change to a lower value).
WARMUP_REDUCTIONS = 5

#: Mathis et al. 1997, periodic loss: C = sqrt(3 / 2b), b segments acknowledged per ACK.
C_PERIODIC = {1: math.sqrt(3 / 2), 2: math.sqrt(3 / 4)}     # 1.22, 0.87


@dataclass
class Measure:
    goodput: float          # bits/s over the interval
    rtt: float              # s, time-weighted mean SRTT over the interval
    p: float                # measured loss share of data-direction packets on r1-r2
    seg: int                # data-segment payload, bytes
    interval: float         # s
    delivered: int          # bytes delivered in the interval
    timeouts: int           # RTO expirations in the interval
    episodes: int           # timeout episodes (a backed-off chain is one)
    episode_time: float     # s spent in timeout episodes
    episode_bytes: int      # bytes delivered during them
    loss_events: int        # fast-recovery entries plus timeout episodes
    t0: float               # mean duration of the expired timers (s), PFTK's T0
    rwnd_limited: float     # share of the interval with cwnd >= the peer's window

    @property
    def goodput_ca(self) -> float:
        """Goodput outside timeout episodes (bits/s): what the model describes."""
        return 8 * (self.delivered - self.episode_bytes) / (self.interval - self.episode_time)


def overrides(p: float, extra: list[str], nbytes: int, ack_loss: bool = False) -> list[str]:
    ov = [f"links.r1-r2.loss={p}", f"apps.bulk.bytes={nbytes}", *PATH, *extra]
    if not ack_loss:
        ov.append("links.r1-r2.reverse.loss=0")
    return ov


def measure(run: Run, warmup: int = WARMUP_REDUCTIONS) -> Measure:
    """Steady-state figures of the run's bulk connection (see the module docstring)."""
    s = run.summary()
    snd = next(c for c in s["connections"] if c["role"] == "client")["id"]
    rcv = next(c for c in s["connections"] if c["role"] == "server")["id"]
    tr = run.trace
    col = tr.columns()
    t, kind, conn, a, b, c, d = (col[k] for k in ("t", "kind", "conn", "a", "b", "c", "d"))
    sender_var = (kind == EventKind.VAR) & (conn == snd)

    def var_rows(var: Var) -> np.ndarray:
        return np.flatnonzero(sender_var & (a == var))

    def step(var: Var, at: np.ndarray) -> np.ndarray:
        """The sender's variable (piecewise constant) at times ``at``."""
        i = var_rows(var)
        k = np.searchsorted(t[i], at, side="right") - 1
        return c[i][np.maximum(k, 0)]

    ss = var_rows(Var.SSTHRESH)
    reductions = ss[c[ss] < b[ss]]               # new value below the old one
    if len(reductions) < warmup:
        raise RuntimeError(f"only {len(reductions)} window reductions: the run is too short")
    start = int(t[reductions[warmup - 1]])
    sent = (kind == EventKind.SEG_SENT) & (conn == snd) & (c > 0)
    new = np.flatnonzero(sent & ((d >> 16) == SendReason.NEW_DATA))
    end = int(t[new[-1]])
    win = (t >= start) & (t <= end)

    dl = np.flatnonzero((kind == EventKind.DELIVER) & (conn == rcv) & win & (t > start))
    delivered = int(np.sum(a[dl]))

    # Time-weighted means over [start, end]: evaluate at every change of the variables.
    changes = t[sender_var & (t > start) & (t < end)]
    edges = np.concatenate(([start], changes, [end]))
    dt = np.diff(edges)
    left = edges[:-1]
    rtt = float(np.sum(step(Var.SRTT, left) * dt)) / (end - start) / SEC
    limited = step(Var.CWND, left) >= step(Var.SND_WND, left)
    rwnd_limited = float(np.sum(dt[limited])) / (end - start)

    link = tr.link_id("r1-r2")
    hops = np.count_nonzero(win & (kind == EventKind.HOP) & (a == link) & (d == 0))
    lost = np.count_nonzero(win & (kind == EventKind.DROP) & (a == DropReason.LOSS)
                            & (b == link) & (d == 0))

    # Timeout episodes: [the expired timer's arming, SND.UNA >= SND.MAX at the expiry].
    rto = np.flatnonzero(win & (kind == EventKind.TIMER_EXPIRE) & (conn == snd)
                         & (a == TimerKind.RTO))
    una_i = var_rows(Var.SND_UNA)
    max_i = var_rows(Var.SND_MAX)
    eps: list[list[int]] = []
    for i in rto:
        armed = int(t[i] - b[i])
        top = int(c[max_i[np.searchsorted(t[max_i], t[i], side="right") - 1]])
        after = una_i[(t[una_i] > t[i]) & (((c[una_i] - top) & 0xFFFFFFFF) < 1 << 31)]
        done = int(t[after[0]]) if len(after) else end
        if eps and armed <= eps[-1][1]:
            eps[-1][1] = max(eps[-1][1], done)
        else:
            eps.append([armed, done])
    episode_time = 0
    episode_bytes = 0
    for lo, hi in eps:
        lo, hi = max(lo, start), min(hi, end)
        episode_time += hi - lo
        episode_bytes += int(np.sum(a[dl][(t[dl] > lo) & (t[dl] <= hi)]))

    recoveries = np.count_nonzero(win & (kind == EventKind.DETECT) & (conn == snd)
                             & (a == Detection.RECOVERY_START))
    return Measure(goodput=8 * delivered * SEC / (end - start), rtt=rtt, p=lost / hops,
                   seg=int(np.max(c[sent])), interval=(end - start) / SEC, delivered=delivered,
                   timeouts=len(rto), episodes=len(eps), episode_time=episode_time / SEC,
                   episode_bytes=episode_bytes, loss_events=int(recoveries) + len(eps),
                   t0=float(np.mean(b[rto])) / SEC if len(rto) else 1.0,
                   rwnd_limited=rwnd_limited)


def mathis(seg: int, rtt: float, p: float, b: int = 1) -> float:
    """Mathis et al. 1997: (MSS / RTT) * C / sqrt(p), periodic loss, C = sqrt(3 / 2b). bits/s"""
    return 8 * seg / rtt * C_PERIODIC[b] / math.sqrt(p)


def pftk(seg: int, rtt: float, p: float, t0: float, b: int = 1) -> float:
    """Padhye, Firoiu, Towsley, Kurose 1998, the approximate full model (their eq. 33, no
    window limit): congestion avoidance plus Reno's timeouts of length T0, with backoff.
    bits/s"""
    ca = rtt * math.sqrt(2 * b * p / 3)
    to = t0 * min(1.0, 3 * math.sqrt(3 * b * p / 8)) * p * (1 + 32 * p * p)
    return 8 * seg / (ca + to)


def run_one(p: float, extra: list[str], seed: int, nbytes: int, ack_loss: bool = False) -> Measure:
    run = Run(load("bulk", overrides(p, extra, nbytes, ack_loss)), seed=seed)
    run.run()
    return measure(run)


@dataclass
class Pooled:
    n: int
    goodput: float
    goodput_ca: float
    rtt: float
    p: float
    seg: int
    timeouts: float         # per run
    episode_share: float    # share of the time in timeout episodes
    loss_events: int
    t0: float
    rwnd_limited: float


def pool(ms: list[Measure]) -> Pooled:
    total = sum(m.interval for m in ms)
    ep_time = sum(m.episode_time for m in ms)
    delivered = sum(m.delivered for m in ms)
    ep_bytes = sum(m.episode_bytes for m in ms)
    tos = sum(m.timeouts for m in ms)
    return Pooled(
        n=len(ms), goodput=8 * delivered / total,
        goodput_ca=8 * (delivered - ep_bytes) / (total - ep_time),
        rtt=sum(m.rtt * m.interval for m in ms) / total,
        p=float(np.mean([m.p for m in ms])), seg=ms[0].seg, timeouts=tos / len(ms),
        episode_share=ep_time / total, loss_events=sum(m.loss_events for m in ms),
        t0=sum(m.t0 * m.timeouts for m in ms) / tos if tos else 1.0,
        rwnd_limited=max(m.rwnd_limited for m in ms))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="half the bytes, 2 seeds")
    ap.add_argument("--variant", action="append", help="only this variant (by label)")
    args = ap.parse_args(argv)
    seeds = 2 if args.quick else args.seeds
    wall0 = time.perf_counter()
    head = ("| variant | p set | p meas | goodput Mb/s | RTT ms | Mathis b=1 | Mathis b=2 "
            "| ratio (b=1) | ratio w/o TO | TO/run | time in TO | PFTK | goodput/PFTK |")
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    rwnd = 0.0
    for label, extra, ack_loss in VARIANTS:
        if args.variant and label not in args.variant:
            continue
        for p, nbytes in BYTES.items():
            if args.quick:
                nbytes //= 2
            r = pool([run_one(p, extra, seed, nbytes, ack_loss) for seed in range(1, seeds + 1)])
            rwnd = max(rwnd, r.rwnd_limited)
            m1, m2 = mathis(r.seg, r.rtt, r.p, 1), mathis(r.seg, r.rtt, r.p, 2)
            pf = pftk(r.seg, r.rtt, r.p, r.t0)
            print(f"| {label} | {p:.3f} | {r.p:.4f} | {r.goodput / 1e6:.2f} | {r.rtt * 1e3:.2f} "
                  f"| {m1 / 1e6:.2f} | {m2 / 1e6:.2f} | {r.goodput / m1:.2f} "
                  f"| {r.goodput_ca / m1:.2f} | {r.timeouts:.1f} | {100 * r.episode_share:.0f}% "
                  f"| {pf / 1e6:.2f} | {r.goodput / pf:.2f} |", flush=True)
    print(f"\n{seeds} seeds per row. Largest share of a run's interval with cwnd >= the peer's "
          f"window: {100 * rwnd:.1f}%.")
    print(f"(wall {time.perf_counter() - wall0:.0f} s; every other figure is simulated)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
