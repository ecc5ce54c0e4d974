"""Event kinds of the trace and the code tables their integer fields use.

A trace event is one row of integer columns (see ``tcplab.trace.store``):

``t``     simulated time in ns
``kind``  an :class:`EventKind`
``node``  index of the node where it happened (-1 when not tied to one)
``conn``  connection id (-1 when not tied to one)
``pkt``   packet uid (-1 when no packet is involved)
``a b c d`` kind-specific integers, documented on each kind below.

Rows are appended in time order, so any prefix of the trace is the run up to some moment.
"""

from __future__ import annotations

from enum import IntEnum


class EventKind(IntEnum):
    """What happened. Fields ``a b c d`` per kind:"""

    #: An endpoint handed a segment to IP. a=seq b=ack c=payload length
    #: d=flags | (SendReason << 16)
    SEG_SENT = 1
    #: An endpoint processed an arriving segment. a=seq b=ack c=payload length
    #: d=flags | (RecvOutcome << 16)
    SEG_RECV = 2
    #: A packet was discarded. a=DropReason b=link id (-1 if not on a link) c=detail
    #: (e.g. queue length, TTL) d=direction (0: a->b, 1: b->a) or -1
    DROP = 3
    #: In-order bytes became available to the application. a=bytes b=stream offset of the
    #: first byte (0 = first data byte) c=bytes now waiting to be read
    DELIVER = 4
    #: Connection state changed. a=old TcpState b=new TcpState c=packet uid that caused it or -1
    STATE = 5
    #: A timer was (re)armed. a=TimerKind b=deadline ns c=duration ns d=backoff count
    TIMER_ARM = 6
    #: A timer was stopped before it expired. a=TimerKind b=the deadline it had
    TIMER_CANCEL = 7
    #: A timer expired. a=TimerKind b=how long it ran (ns) c=SND.UNA d=SND.NXT at expiry
    TIMER_EXPIRE = 8
    #: A traced variable changed. a=Var b=old value c=new value
    VAR = 9
    #: The out-of-order queue changed. a=held bytes b=number of ranges; the ranges are in
    #: ``Trace.extra[index]`` as (start_seq, end_seq) pairs, sequence numbers absolute.
    OOO = 10
    #: The application wrote into the send buffer. a=bytes accepted b=total written so far
    #: c=bytes it asked to write
    APP_WRITE = 11
    #: The application read from the receive buffer. a=bytes b=total read so far
    APP_READ = 12
    #: A packet started onto a link. node=sending node a=link id b=arrival time at the far end
    #: (a later ALTER c=2 row for the packet may move it) c=TTL d=direction (0: a->b, 1: b->a)
    HOP = 13
    #: A packet arrived at a node from a link. a=link id b=TTL c=0 d=direction
    ARRIVE = 14
    #: A link parameter changed. a=link id d=direction (-1 both); ``Trace.extra`` holds
    #: (name, old, new)
    LINK_SET = 15
    #: A node crashed (a=0) or restarted (a=1).
    NODE = 16
    #: A packet was altered on a link. a=link id b=original uid c=what (0 duplicate, 1 corrupt,
    #: 2 reordered/delayed) d=direction. pkt is the packet that travels on: for a duplicate the
    #: copy (new uid, whose HOP row follows), otherwise the original. ``Trace.extra`` holds the
    #: damaged datagram bytes (c=1) or the packet's new arrival time in ns (c=2), which replaces
    #: the arrival time of its HOP row.
    ALTER = 17
    #: The application closed (a=0), aborted (a=1) or opened (a=2, active; 3 passive).
    #: A passive open is traced twice: when the application starts listening (conn=-1,
    #: b=port) and when a SYN creates the connection that will answer it (conn set).
    APP_CALL = 18
    #: The endpoint concluded something about the path or its own past decisions.
    #: a=Detection b..d per code (see :class:`Detection`)
    DETECT = 19
    #: The congestion-control algorithm's own state changed (e.g. CUBIC's W_max and K).
    #: ``Trace.extra`` holds ((name, value), ...) for every published quantity.
    CC_STATE = 20
    #: The sender's SACK scoreboard changed (RFC 6675). a=SACKed bytes b=number of ranges;
    #: ``Trace.extra`` holds the SACKed (start_seq, end_seq) ranges, absolute.
    SACKED = 21
    #: The user acted on the running network (``Run.apply``). a=:class:`UserOp` b=link id (-1
    #: none) c=per op: DROP the arrival time the packet would have had, DUPLICATE the copy's uid,
    #: DELAY the new arrival time, otherwise 0; d=direction (-1 both or not yet known);
    #: pkt=the packet acted on (-1 for link actions). ``Trace.extra`` holds the action dict as
    #: recorded in ``Run.actions``. The network's response follows in the same instant
    #: (LINK_SET; DROP with reason USER; ALTER and the copy's HOP; ALTER c=2).
    USER = 22
    #: A packet has to wait in a link's transmit queue (the transmitter is busy). node=sending
    #: node a=link id b=queue length in packets after adding it (never more than the link's
    #: ``queue`` parameter) c=0 d=direction. It leaves the queue at its HOP row on that link (or
    #: its DROP there when the link goes down or the sending host crashes), in FIFO order.
    QUEUE = 23


class SendReason(IntEnum):
    """Why an endpoint sent a segment."""

    NEW_DATA = 0
    ACK = 1              # pure acknowledgment of in-order data
    DUP_ACK = 2          # ACK sent because an out-of-order or duplicate segment arrived
    SYN = 3
    SYN_ACK = 4
    SYN_RETRY = 5        # SYN or SYN-ACK retransmitted after the timer expired
    FIN = 6
    RTO_RETX = 7         # RFC 6298 5.4: earliest unacknowledged segment after a timeout
    GO_BACK_N = 8        # further retransmission after a timeout, resent in slow start
    FAST_RETX = 9        # RFC 5681 3.2: third duplicate ACK
    RST_CLOSED = 10      # RFC 9293 3.10.7.1: no connection for the segment
    RST_ABORT = 11       # the application aborted
    RST_BAD_ACK = 12     # RFC 9293 3.10.7.3/3.10.7.2: ACK for something not sent
    WINDOW_PROBE = 13    # RFC 9293 3.8.6.1: zero window probe
    WINDOW_UPDATE = 14   # the window opened
    CHALLENGE_ACK = 15   # RFC 5961: an in-window RST or SYN that was not exact
    FIN_RETX = 16        # FIN retransmitted after a timeout
    KEEPALIVE = 17
    TIME_WAIT_ACK = 18   # ACK of a retransmitted FIN while in TIME-WAIT
    PARTIAL_ACK_RETX = 19  # RFC 6582 3.2 step 5: the next hole after a partial ACK
    LIMITED_TRANSMIT = 20  # RFC 3042: new data on the first or second duplicate ACK
    DELAYED_ACK = 21     # the delayed-ACK timer expired (RFC 9293 3.8.6.3)
    SACK_RETX = 22       # RFC 6675 NextSeg(): a segment the SACK scoreboard shows missing
    AFTER_PROBE = 23     # RFC 9293 3.8.6.1: the window reopened; data resumes with the byte of
    #                      the window probe the peer had refused (new data, not a retransmission)


class RecvOutcome(IntEnum):
    """What the receiving endpoint made of a segment."""

    ACCEPTED = 0         # processed normally
    IN_ORDER = 1         # data at RCV.NXT, appended to the receive buffer
    OUT_OF_ORDER = 2     # data beyond RCV.NXT, held in the out-of-order queue
    DUPLICATE = 3        # data entirely already received
    OUT_OF_WINDOW = 4    # failed the acceptability test (RFC 9293 3.10.7.4)
    DUP_ACK = 5          # duplicate acknowledgment (RFC 5681 section 2)
    RST_ACCEPTED = 6
    RST_IGNORED = 7
    NO_CONNECTION = 8    # no connection and no listener
    FILLED_HOLE = 9      # data at RCV.NXT that made held segments contiguous
    BAD_ACK = 10         # acknowledges something not yet sent
    SYN_ACCEPTED = 11
    STALE = 12           # e.g. an old duplicate ignored
    PAWS_REJECTED = 13   # RFC 7323 5.3: timestamp older than TS.Recent, an old duplicate
    NO_TIMESTAMP = 14    # RFC 7323 3.2: no timestamps option although they are in use: dropped


class Detection(IntEnum):
    """What a DETECT event reports."""

    #: The ACK for a retransmitted segment echoes a timestamp older than the retransmission:
    #: the original arrived and the retransmission was needless (Eifel, RFC 3522).
    #: b=sequence number retransmitted c=SendReason of the retransmission d=its TSval minus
    #: the TSecr (ms)
    SPURIOUS_RETX = 0
    #: The ACK for a retransmitted segment echoes the retransmission's own timestamp: the
    #: retransmission was needed. b=sequence number c=SendReason
    GENUINE_RETX = 1
    #: Loss recovery begins. b=recover (highest sequence sent) c=0 NewReno, 1 SACK (RFC 6675)
    #: d=FlightSize in bytes
    RECOVERY_START = 2
    #: Loss recovery ends: an ACK covers ``recover``. b=the ACK
    RECOVERY_END = 3
    #: Keep-alive probes or the user timeout gave up on the peer. b=probes sent or ms waited
    PEER_DEAD = 4


class DropReason(IntEnum):
    """Where and why a packet was discarded."""

    LOSS = 0             # random loss on the link
    BURST_LOSS = 1       # Gilbert-Elliott bad state
    QUEUE_FULL = 2       # drop-tail: the link's transmit queue was full
    LINK_DOWN = 3
    NO_ROUTE = 4
    TTL_EXPIRED = 5
    CHECKSUM = 6         # corrupted: checksum check failed at the receiver
    FAULT = 7            # an instructor's targeted drop
    HOST_DOWN = 8        # the node had crashed
    MTU = 9              # larger than the link MTU with DF set
    NOT_FOR_US = 10
    USER = 11            # the user dropped it live (Run.apply: a packet on a link, or drop_next)


class UserOp(IntEnum):
    """Which live user action a USER event records (``Run.apply``)."""

    SET_LINK = 0         # a link parameter changed (LINK_SET rows follow)
    DROP_NEXT = 1        # the next segment to start onto the link will be dropped
    DROP = 2             # a packet on a link was dropped
    DUPLICATE = 3        # a packet on a link was duplicated
    DELAY = 4            # a packet on a link was held back


class TimerKind(IntEnum):
    """Timers an endpoint can run (several at once)."""

    RTO = 0              # retransmission timer, RFC 6298
    SYN = 1              # SYN / SYN-ACK retry (the RTO while connecting)
    DELACK = 2           # delayed ACK, RFC 9293 3.8.6.3 / RFC 1122 4.2.3.2
    PERSIST = 3          # zero-window probe, RFC 9293 3.8.6.1
    KEEPALIVE = 4        # RFC 9293 3.8.4
    TIME_WAIT = 5        # 2*MSL, RFC 9293 3.6
    APP = 6              # application-level pacing (e.g. a slow reader)


class TcpState(IntEnum):
    """The eleven states of RFC 9293 3.3.2."""

    CLOSED = 0
    LISTEN = 1
    SYN_SENT = 2
    SYN_RECEIVED = 3
    ESTABLISHED = 4
    FIN_WAIT_1 = 5
    FIN_WAIT_2 = 6
    CLOSE_WAIT = 7
    CLOSING = 8
    LAST_ACK = 9
    TIME_WAIT = 10

    @property
    def label(self) -> str:
        return self.name.replace("_", "-")


class Var(IntEnum):
    """Traced connection variables (RFC 9293 3.3.1, RFC 5681, RFC 6298 names).

    Sequence variables hold absolute 32-bit sequence numbers; times are ns; sizes are bytes.
    """

    SND_UNA = 0
    SND_NXT = 1
    SND_WND = 2
    RCV_NXT = 3
    RCV_WND = 4
    CWND = 5
    SSTHRESH = 6
    SRTT = 7
    RTTVAR = 8
    RTO = 9
    SND_MAX = 10         # highest sequence number sent + 1 (SND.NXT rewinds after a timeout)

    # Buffer occupancy is not traced separately: the send buffer holds APP_WRITE's running
    # total minus what SND.UNA acknowledges; the receive buffer holds DELIVER's running total
    # minus APP_READ's.

    @property
    def label(self) -> str:
        return self.name.replace("_", ".") if self.name.startswith(("SND", "RCV")) else self.name.lower()


TIME_VARS = frozenset({Var.SRTT, Var.RTTVAR, Var.RTO})
