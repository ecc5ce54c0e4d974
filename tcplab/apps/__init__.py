"""Applications that drive TCP: each is a client/server pair over one connection.

``bulk``      the client sends N bytes and closes; the server reads (at its read rate) and
              closes when the client has finished.
``request``   the client sends a request, the server answers with a response (``count`` times on
              the same connection), then the client closes: a tiny web fetch.
``echo``      the client sends N bytes, the server sends every byte back, the client closes
              once it has them all.
``typing``    interactive typing: the client writes ``chunk`` bytes every ``interval``,
              ``count`` times, then closes; the server may echo them.

Every receiving side reads at ``read_rate`` bytes per second (0 = as soon as data arrives), so a
slow reader lets the receive buffer fill and the advertised window shrink. Each side keeps a
running SHA-256 of what it sent and received, so a run can prove the bytes arrived intact.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tcplab.sim.clock import SEC
from tcplab.tcp.config import TcpConfig
from tcplab.tcp.connection import Connection, Note
from tcplab.trace.events import TcpState

if TYPE_CHECKING:
    from tcplab.net.network import Network
    from tcplab.net.node import Host

APP_TYPES = ("bulk", "request", "echo", "typing")

_PATTERN = b"tcplab: every byte has a sequence number. 0123456789 abcdefghijklmnopqrstuvwxyz\n"


def pattern(offset: int, n: int) -> bytes:
    """``n`` bytes of the repeating test pattern starting at stream offset ``offset``."""
    p = len(_PATTERN)
    start = offset % p
    reps = (start + n) // p + 1
    return (_PATTERN * reps)[start:start + n]


def http_like(kind: str, size: int, index: int = 0) -> bytes:
    """A readable request or response of exactly ``size`` bytes (for the packet inspector)."""
    if kind == "request":
        head = f"GET /page{index}.html HTTP/1.0\r\nHost: server\r\n\r\n".encode()
    else:
        head = (f"HTTP/1.0 200 OK\r\nContent-Length: {size}\r\n\r\n<html><body><p>"
                f"Page {index}: ").encode()
    if size <= len(head):
        return head[:size]
    return head + pattern(0, size - len(head))


class Digest:
    """A running SHA-256 of a byte stream that can be copied with the rest of the engine's
    state (``copy.deepcopy``: engine snapshots for rewinding a replay); hashlib's objects
    cannot be copied that way."""

    __slots__ = ("_h",)

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def digest(self) -> bytes:
        return self._h.digest()

    def hexdigest(self) -> str:
        return self._h.hexdigest()

    def __deepcopy__(self, memo) -> "Digest":
        twin = Digest.__new__(Digest)
        twin._h = self._h.copy()
        return twin


@dataclass
class SideStats:
    """What one side of an application did."""

    written: int = 0
    received: int = 0
    sent_digest: Digest = field(default_factory=Digest)
    recv_digest: Digest = field(default_factory=Digest)
    keep: bytearray | None = None      # the received bytes themselves, when asked for
    sent_keep: bytearray | None = None
    closed_at: int | None = None
    outcome: str = ""                  # closed / reset / refused / timeout / crashed

    def on_sent(self, data: bytes) -> None:
        self.written += len(data)
        self.sent_digest.update(data)
        if self.sent_keep is not None:
            self.sent_keep += data

    def on_received(self, data: bytes) -> None:
        self.received += len(data)
        self.recv_digest.update(data)
        if self.keep is not None:
            self.keep += data


class Side:
    """One application endpoint: reacts to its connection's notifications.

    Subclasses say what to send (``on_established``, ``on_data``, ``on_peer_fin``...). Reading
    is paced by ``read_rate`` (bytes/s, token bucket refilled continuously; 0 = unlimited).
    """

    def __init__(self, app: "Application", host: "Host", conn: Connection, read_rate: int) -> None:
        self.app = app
        self.host = host
        self.conn = conn
        self.read_rate = read_rate
        self.stats = SideStats()
        if app.keep_data:
            self.stats.keep = bytearray()
            self.stats.sent_keep = bytearray()
        self._tokens = 0
        self._last_refill = 0
        self._read_handle = None
        self._pending = b""     # data accepted by the app but not yet by the send buffer
        self._closing = False

    @property
    def sched(self):
        return self.host.net.sched

    # notifications from the connection
    def on_note(self, now: int, conn: Connection, note: str) -> None:
        if note == Note.ESTABLISHED:
            self.on_established(now)
        elif note == Note.READABLE:
            self._read(now)
        elif note == Note.WRITABLE:
            self._flush(now)
            self.on_writable(now)
        elif note == Note.PEER_FIN:
            if not conn.readable():
                self.on_peer_fin(now)
        elif note in (Note.CLOSED, Note.RESET, Note.REFUSED, Note.TIMEOUT, Note.CRASHED):
            self.stats.closed_at = now
            self.stats.outcome = note
            if note != Note.CRASHED and conn.readable():
                # What TCP already delivered in order stays readable after the TCB is gone,
                # as in a socket's receive queue: a slow reader finishes it at its own pace.
                self._read(now)
            elif self._read_handle is not None:
                self._read_handle.cancel()
                self._read_handle = None
            self.app.side_finished(now, self)

    def write(self, now: int, data: bytes) -> None:
        """Queue ``data`` for sending; what the send buffer cannot take waits for WRITABLE."""
        self._pending += data
        self._flush(now)

    def _flush(self, now: int) -> None:
        if not self._pending:
            return
        n = self.conn.send(now, self._pending)
        if n:
            self.stats.on_sent(self._pending[:n])
            self._pending = self._pending[n:]
            if not self._pending:
                self.on_all_written(now)
                if self.conn.peer_fin and not self.conn.readable():
                    self.on_peer_fin(now)     # it was waiting for this data to go

    def close(self, now: int) -> None:
        if self.conn.state not in (TcpState.CLOSED, TcpState.TIME_WAIT):
            self.conn.close(now)

    # reading
    def _read(self, now: int) -> None:
        conn = self.conn
        if self.read_rate <= 0:
            data = conn.read(now)
        else:
            if self._read_handle is not None:
                return
            elapsed = now - self._last_refill
            self._last_refill = now
            cap = conn.cfg.rcv_buf
            self._tokens = min(cap, self._tokens + elapsed * self.read_rate // SEC)
            data = conn.read(now, self._tokens) if self._tokens > 0 else b""
            self._tokens -= len(data)
            if conn.readable():
                need = min(conn.readable(), conn.smss) - self._tokens
                wait = max(1, -(-need * SEC // self.read_rate))
                self._read_handle = self.sched.schedule(wait, self._read_timer)
        if data:
            self.stats.on_received(data)
            self.on_data(now, data)
        if conn.peer_fin and not conn.readable():
            self.on_peer_fin(now)

    def _read_timer(self) -> None:
        self._read_handle = None
        now = self.sched.now
        if self.conn.state == TcpState.CLOSED and not self.conn.readable():
            return
        self._read(now)
        self.host.service(self.conn)

    # behaviour, overridden by applications
    def on_established(self, now: int) -> None:
        pass

    def on_data(self, now: int, data: bytes) -> None:
        pass

    def on_writable(self, now: int) -> None:
        pass

    def on_all_written(self, now: int) -> None:
        pass

    def on_peer_fin(self, now: int) -> None:
        """The peer finished sending and we read everything: close our side too, at once or
        after the application's ``close_delay``."""
        if self._pending or self._closing:
            return
        self._closing = True
        if self.app.close_delay:
            self.sched.schedule(self.app.close_delay, self._delayed_close)
        else:
            self.close(now)

    def _delayed_close(self) -> None:
        if self.conn.state == TcpState.CLOSE_WAIT:
            self.close(self.sched.now)
            self.host.service(self.conn)


class Application:
    """A named client/server pair on ``client`` -> ``server:port``; subclasses define behaviour."""

    kind = ""

    def __init__(self, name: str, net: "Network", client: "Host", server: "Host", port: int,
                 client_cfg: TcpConfig, server_cfg: TcpConfig, start: int = 0,
                 read_rate: int = 0, client_read_rate: int = 0, keep_data: bool = False,
                 client_port: int | None = None, close_delay: int = 0) -> None:
        self.name = name
        self.net = net
        self.client = client
        self.server = server
        self.port = port
        self.client_cfg = client_cfg
        self.server_cfg = server_cfg
        self.start = start
        self.read_rate = read_rate
        self.client_read_rate = client_read_rate
        self.keep_data = keep_data
        self.close_delay = close_delay
        self.client_port = client_port if client_port is not None else client.allocate_port()
        self.client_side: Side | None = None
        self.server_sides: list[Side] = []
        self.done_at: int | None = None

    def install(self) -> None:
        """Listen on the server, schedule the client's connect, re-listen after a restart."""
        self._listen()
        self.server.restart_hooks.append(self._listen)
        self.net.sched.schedule_at(self.start, self._connect)

    def _listen(self) -> None:
        self.server.listen(self.port, self.server_cfg, self._make_server_side, self.name)

    def _make_server_side(self, host: "Host", conn: Connection) -> Side:
        side = self.server_side_class(self, host, conn, self.read_rate)
        self.server_sides.append(side)
        return side

    def _connect(self) -> None:
        self.client.connect(self.client_port, self.server.ip, self.port, self.client_cfg,
                            self._make_client_side, self.name)

    def _make_client_side(self, host: "Host", conn: Connection) -> Side:
        self.client_side = self.client_side_class(self, host, conn, self.client_read_rate)
        return self.client_side

    def side_finished(self, now: int, side: Side) -> None:
        pass

    def mark_done(self, now: int) -> None:
        if self.done_at is None:
            self.done_at = now

    client_side_class: type[Side] = Side
    server_side_class: type[Side] = Side

    def expected_bytes(self) -> tuple[int, int]:
        """(bytes the client should send, bytes the server should send) in a clean run."""
        raise NotImplementedError


# --------------------------------------------------------------------------------- bulk
class _BulkClient(Side):
    def on_established(self, now: int) -> None:
        self._fill(now)

    def on_writable(self, now: int) -> None:
        self._fill(now)

    def _fill(self, now: int) -> None:
        app: BulkApp = self.app  # type: ignore[assignment]
        while self.stats.written + len(self._pending) < app.nbytes and not self._pending:
            off = self.stats.written
            n = min(app.chunk, app.nbytes - off)
            self.write(now, pattern(off, n))
            if self._pending:
                break

    def on_all_written(self, now: int) -> None:
        app: BulkApp = self.app  # type: ignore[assignment]
        if self.stats.written >= app.nbytes and app.close:
            self.close(now)


class _BulkServer(Side):
    def on_data(self, now: int, data: bytes) -> None:
        app: BulkApp = self.app  # type: ignore[assignment]
        if self.stats.received >= app.nbytes:
            app.mark_done(now)


class BulkApp(Application):
    """The client sends ``nbytes`` as fast as TCP lets it, then closes."""

    kind = "bulk"
    client_side_class = _BulkClient
    server_side_class = _BulkServer

    def __init__(self, *args, nbytes: int = 1_000_000, chunk: int = 65536, close: bool = True,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.nbytes = nbytes
        self.chunk = chunk
        self.close = close

    def expected_bytes(self) -> tuple[int, int]:
        return self.nbytes, 0


# --------------------------------------------------------------------------------- request
class _RequestClient(Side):
    def on_established(self, now: int) -> None:
        self._index = 0
        self._ask(now)

    def _ask(self, now: int) -> None:
        app: RequestApp = self.app  # type: ignore[assignment]
        self._want = self.stats.received + app.response
        self.write(now, http_like("request", app.request, self._index))

    def on_data(self, now: int, data: bytes) -> None:
        app: RequestApp = self.app  # type: ignore[assignment]
        if self.stats.received >= self._want:
            self._index += 1
            if self._index < app.count:
                self._ask(now)
            else:
                app.mark_done(now)
                self.close(now)


class _RequestServer(Side):
    def on_established(self, now: int) -> None:
        self._answered = 0

    def on_data(self, now: int, data: bytes) -> None:
        app: RequestApp = self.app  # type: ignore[assignment]
        while self.stats.received >= (self._answered + 1) * app.request:
            self.write(now, http_like("response", app.response, self._answered))
            self._answered += 1


class RequestApp(Application):
    """The client asks (``request`` bytes), the server answers (``response`` bytes), ``count``
    times; then the client closes first, as in the article's tear-down."""

    kind = "request"
    client_side_class = _RequestClient
    server_side_class = _RequestServer

    def __init__(self, *args, request: int = 64, response: int = 2000, count: int = 1, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.response = response
        self.count = count

    def expected_bytes(self) -> tuple[int, int]:
        return self.request * self.count, self.response * self.count


# --------------------------------------------------------------------------------- echo
class _EchoClient(Side):
    def on_established(self, now: int) -> None:
        self.write(now, pattern(0, self.app.nbytes))  # type: ignore[attr-defined]

    def on_data(self, now: int, data: bytes) -> None:
        if self.stats.received >= self.app.nbytes:  # type: ignore[attr-defined]
            self.app.mark_done(now)
            self.close(now)


class _EchoServer(Side):
    def on_data(self, now: int, data: bytes) -> None:
        self.write(now, data)


class EchoApp(Application):
    """The client sends ``nbytes``; the server returns every byte; the client closes."""

    kind = "echo"
    client_side_class = _EchoClient
    server_side_class = _EchoServer

    def __init__(self, *args, nbytes: int = 1000, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.nbytes = nbytes

    def expected_bytes(self) -> tuple[int, int]:
        return self.nbytes, self.nbytes


# --------------------------------------------------------------------------------- typing
class _TypingClient(Side):
    def on_established(self, now: int) -> None:
        self._typed = 0
        self._key(now)

    def _key(self, now: int) -> None:
        app: TypingApp = self.app  # type: ignore[assignment]
        self._typed += 1
        self.write(now, pattern((self._typed - 1) * app.chunk, app.chunk))
        if self._typed < app.count:
            self.sched.schedule(app.interval, self._tick)

    def on_all_written(self, now: int) -> None:
        """Close once the last keystroke is in the send buffer (not before: bytes still
        waiting for buffer space would be lost)."""
        if self._typed >= self.app.count:  # type: ignore[attr-defined]
            self.close(now)

    def _tick(self) -> None:
        if self.conn.state in (TcpState.ESTABLISHED, TcpState.CLOSE_WAIT):
            self._key(self.sched.now)
            self.host.service(self.conn)


class _TypingServer(Side):
    def on_data(self, now: int, data: bytes) -> None:
        app: TypingApp = self.app  # type: ignore[assignment]
        if app.echo:
            self.write(now, data)
        if self.stats.received >= app.chunk * app.count:
            app.mark_done(now)


class TypingApp(Application):
    """Keystrokes: ``chunk`` bytes every ``interval`` ns, ``count`` times, optionally echoed."""

    kind = "typing"
    client_side_class = _TypingClient
    server_side_class = _TypingServer

    def __init__(self, *args, chunk: int = 1, interval: int = SEC // 5, count: int = 10,
                 echo: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.chunk = chunk
        self.interval = interval
        self.count = count
        self.echo = echo

    def expected_bytes(self) -> tuple[int, int]:
        n = self.chunk * self.count
        return n, n if self.echo else 0


APP_CLASSES: dict[str, type[Application]] = {
    "bulk": BulkApp, "request": RequestApp, "echo": EchoApp, "typing": TypingApp,
}
