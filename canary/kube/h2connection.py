"""One HTTP/2 connection to the API server: streams multiplexed over one TLS connection.

`H2Connection` opens a TLS connection that negotiated `h2` in ALPN and runs one reader task
that hands each frame to its stream. It follows Go's HTTP/2 transport as client-go configures
it, where that matters to a controller that runs for months:

- **A stream given up is reset.** A caller that stops reading (cancelled, timed out, or done
  early) sends RST_STREAM, so the server stops sending and both sides agree on which streams
  are open. The data still queued for it is acknowledged, so the connection's flow-control
  window never leaks.
- **A silent connection is pinged.** After `READ_IDLE_SECONDS` without a frame the reader sends
  a PING; without any frame for `PING_TIMEOUT_SECONDS` more the connection counts as dead, and
  every open stream fails at once (client-go: ReadIdleTimeout 30 s, PingTimeout 15 s). Without
  this, a connection whose peer vanished would take every later request down with it.
- **After a GOAWAY** no new stream goes out on the connection. The streams the server never
  processed fail as `Refused`, which the transport sends again on a new connection; the others
  fail as on a lost connection (the h2 package cannot go on reading after a GOAWAY). The API
  server sends one when it closes an idle connection (no streams then) and when it shuts down.
- **Flow control both ways.** A request body waits for the server's window; response data is
  acknowledged only as the caller reads it, so a slow reader holds back its own stream alone.
- **The server's concurrent-stream limit** (100 in kube-apiserver unless
  `--http2-max-streams-per-connection` says otherwise) is known before the first stream goes
  out: `open` waits for the server's SETTINGS. `has_slot` tells the transport when to open
  another connection, as Go's transport does; a stream that finds none free waits for one.

It speaks HTTP only: status codes, headers and bodies go to the caller uninterpreted
(`canary.kube.transport`). It must not retry, log or know about Kubernetes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from typing import Final

import aiohttp
import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

READ_IDLE_SECONDS: Final = 30.0
PING_TIMEOUT_SECONDS: Final = 15.0
# Receive windows, as Go's transport sets them: 4 MiB per stream, 1 GiB per connection. The
# default 64 KiB would make a large list wait for a WINDOW_UPDATE every 64 KiB.
STREAM_WINDOW: Final = 4 * 2**20
CONNECTION_WINDOW: Final = 2**30
_READ_SIZE: Final = 2**16
_DEFAULT_WINDOW: Final = 65_535


class ConnectionLost(aiohttp.ClientConnectionError):
    """The connection ended before the answer did (closed, reset, unanswered PING, GOAWAY).

    An aiohttp error, so that every caller that handles a broken HTTP/1.1 connection of the
    library's own client handles this one the same way."""


class Refused(ConnectionLost):
    """The server will not process this stream (a GOAWAY came before it): send it again."""


_Item = tuple[str, bytes, int] | list[tuple[str, str]] | BaseException | None


class Stream:
    """One request's answer as it arrives: its head once, then data until the end."""

    def __init__(self, connection: H2Connection, stream_id: int) -> None:
        self.connection = connection
        self.id = stream_id
        self.finished = False  # the server ended the stream, or it failed, or was reset
        self._items: asyncio.Queue[_Item] = asyncio.Queue()

    def put(self, item: _Item) -> None:
        self._items.put_nowait(item)

    async def head(self) -> list[tuple[str, str]]:
        """The response's headers, `:status` included."""
        item = await self._items.get()
        if isinstance(item, BaseException):
            self._finish()
            raise item
        if not isinstance(item, list):
            self._finish()
            raise ConnectionLost(f"stream {self.id}: data before the response headers")
        return item

    async def chunk(self) -> bytes | None:
        """The next piece of the body, or None at its end."""
        if self.finished:
            return None
        item = await self._items.get()
        if isinstance(item, tuple):
            _, data, flow_controlled = item
            self.connection.acknowledge(self.id, flow_controlled)
            return data
        self._finish()
        if isinstance(item, BaseException):
            raise item
        return None  # the end

    def close(self) -> None:
        """Stop reading: reset the stream unless the server ended it already."""
        if not self.finished:
            self.connection.reset(self)
            self._finish()

    def _finish(self) -> None:
        self.finished = True
        self.connection.forget(self)

    def discard(self) -> int:
        """Drop what is queued; the flow-controlled bytes dropped."""
        dropped = 0
        while not self._items.empty():
            item = self._items.get_nowait()
            if isinstance(item, tuple):
                dropped += item[2]
        return dropped


class H2Connection:
    """One HTTP/2 connection; see the module docstring. Open with `open`."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, authority: str
    ) -> None:
        self.authority = authority
        self._reader = reader
        self._writer = writer
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self._streams: dict[int, Stream] = {}
        self._changed = asyncio.Event()  # a window opened, a slot freed, or the connection ended
        self._ping_sent = False
        self.draining = False  # a GOAWAY came: no new streams
        self.error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()  # the server's first SETTINGS came

    @classmethod
    async def open(
        cls, host: str, port: int, context: ssl.SSLContext, server_hostname: str
    ) -> H2Connection | None:
        """A connection to `host:port`, or None when the server does not offer HTTP/2."""
        context.set_alpn_protocols(["h2", "http/1.1"])
        reader, writer = await asyncio.open_connection(
            host, port, ssl=context, server_hostname=server_hostname
        )
        tls = writer.get_extra_info("ssl_object")
        if tls is None or tls.selected_alpn_protocol() != "h2":
            writer.close()
            return None
        authority = host if port == 443 else f"{host}:{port}"
        connection = cls(reader, writer, authority)
        connection._start()
        try:
            await connection._settled.wait()  # bounded by the caller's connect timeout
        except BaseException:
            connection.close()
            raise
        if connection.error is not None:
            raise connection.error
        return connection

    def _start(self) -> None:
        self._h2.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
            },
        )
        self._h2.initiate_connection()
        self._h2.increment_flow_control_window(CONNECTION_WINDOW - _DEFAULT_WINDOW)
        self._flush()
        self._task = asyncio.get_running_loop().create_task(self._read_forever())

    @property
    def usable(self) -> bool:
        """Whether a new stream may go out on this connection."""
        return self.error is None and not self.draining

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    @property
    def has_slot(self) -> bool:
        """Whether the server takes one more stream now."""
        limit = self._h2.remote_settings.max_concurrent_streams
        return self.usable and self._h2.open_outbound_streams < limit

    async def start_stream(self, headers: list[tuple[str, str]], body: bytes | None) -> Stream:
        """Send a request; its `Stream`. Waits for a stream slot and for the server's window.
        Raises `Refused` when the connection may take no new stream."""
        while True:
            if not self.usable:
                raise Refused(f"the connection to {self.authority} takes no new streams")
            if self.has_slot:
                break
            self._changed.clear()
            await self._changed.wait()
        stream_id = self._h2.get_next_available_stream_id()
        stream = Stream(self, stream_id)
        self._streams[stream_id] = stream
        try:
            self._h2.send_headers(stream_id, headers, end_stream=not body)
            self._flush()
            if body:
                await self._send_body(stream, body)
        except BaseException:
            stream.close()
            raise
        return stream

    async def _send_body(self, stream: Stream, body: bytes) -> None:
        view = memoryview(body)
        sent = 0
        while sent < len(body):
            if self.error is not None:
                raise ConnectionLost(str(self.error))
            if stream.finished:
                raise ConnectionLost(f"stream {stream.id} ended while its body was being sent")
            window = min(
                self._h2.local_flow_control_window(stream.id), self._h2.max_outbound_frame_size
            )
            if window <= 0:
                self._changed.clear()
                await self._changed.wait()
                continue
            piece = view[sent : sent + window]
            sent += len(piece)
            self._h2.send_data(stream.id, bytes(piece), end_stream=sent >= len(body))
            self._flush()
            try:
                await self._writer.drain()
            except OSError as error:
                raise ConnectionLost(f"{self.authority}: {error}") from error

    def acknowledge(self, stream_id: int, flow_controlled: int) -> None:
        """The caller has read `flow_controlled` bytes of `stream_id`: let the server send more."""
        if flow_controlled and self.error is None:
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self._h2.acknowledge_received_data(flow_controlled, stream_id)
            self._flush()

    def reset(self, stream: Stream) -> None:
        """Reset a stream its caller gave up on, and release what was queued for it."""
        if self.error is not None:
            return
        with contextlib.suppress(h2.exceptions.ProtocolError):  # closed, or never sent
            self._h2.reset_stream(stream.id, h2.errors.ErrorCodes.CANCEL)
        self.acknowledge(stream.id, stream.discard())

    def forget(self, stream: Stream) -> None:
        if self._streams.pop(stream.id, None) is not None:
            self._changed.set()

    def close(self) -> None:
        """Close the connection now; open streams fail with `ConnectionLost`."""
        self._fail(ConnectionLost(f"the connection to {self.authority} was closed"))

    async def wait_closed(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _flush(self) -> None:
        data = self._h2.data_to_send()
        if data and self.error is None:
            self._writer.write(data)

    def _fail(self, error: BaseException) -> None:
        if self.error is not None:
            return
        self.error = error
        for stream in list(self._streams.values()):
            stream.put(error)
        self._streams.clear()
        self._changed.set()
        self._settled.set()
        self._writer.close()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()

    async def _read_forever(self) -> None:
        try:
            while True:
                wait = PING_TIMEOUT_SECONDS if self._ping_sent else READ_IDLE_SECONDS
                try:
                    async with asyncio.timeout(wait):
                        data = await self._reader.read(_READ_SIZE)
                except TimeoutError:
                    if self._ping_sent:
                        raise ConnectionLost(
                            f"{self.authority} answered no PING for {PING_TIMEOUT_SECONDS:g} s"
                        ) from None
                    self._h2.ping(os.urandom(8))
                    self._flush()
                    self._ping_sent = True
                    continue
                if not data:
                    self._fail(ConnectionLost(f"{self.authority} closed the connection"))
                    return
                self._ping_sent = False  # any frame shows the peer is there
                for event in self._h2.receive_data(data):
                    self._dispatch(event)
                self._flush()
        except asyncio.CancelledError:
            self._fail(ConnectionLost(f"the connection to {self.authority} was closed"))
        except ConnectionLost as error:
            self._fail(error)
        except Exception as error:  # noqa: BLE001 - whatever ends the reader ends the connection,
            # so that no stream waits for an answer that cannot come (OSError, h2's ProtocolError)
            self._fail(ConnectionLost(f"the connection to {self.authority} failed: {error!r}"))

    def _dispatch(self, event: h2.events.Event) -> None:  # noqa: PLR0912 - one branch per frame
        if isinstance(event, h2.events.ResponseReceived | h2.events.InformationalResponseReceived):
            stream = self._streams.get(event.stream_id or 0)
            if stream is not None and isinstance(event, h2.events.ResponseReceived):
                stream.put([(str(name), str(value)) for name, value in event.headers or ()])
        elif isinstance(event, h2.events.DataReceived):
            stream = self._streams.get(event.stream_id or 0)
            size = event.flow_controlled_length or 0
            if stream is not None:
                stream.put(("data", event.data or b"", size))
            else:  # a stream already given up: free the connection's window at once
                self.acknowledge(event.stream_id or 0, size)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self._streams.get(event.stream_id or 0)
            if stream is not None:
                stream.put(None)
        elif isinstance(event, h2.events.StreamReset):
            stream = self._streams.get(event.stream_id or 0)
            if stream is not None:
                code = event.error_code
                if code == h2.errors.ErrorCodes.REFUSED_STREAM:
                    stream.put(Refused(f"{self.authority} refused the stream"))
                else:
                    stream.put(ConnectionLost(f"{self.authority} reset the stream ({code!s})"))
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._goaway(event)
        elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
            self._changed.set()
            self._settled.set()

    def _goaway(self, event: h2.events.ConnectionTerminated) -> None:
        """The server will take no new stream. Those above its last-stream-id were never
        processed: `Refused`, so that they are sent again. The h2 package closes its side of
        the connection on a GOAWAY and can read nothing more (python-hyper/h2#1181), so the
        streams the server would still finish fail too, as on a lost connection."""
        self.draining = True
        last = event.last_stream_id or 0
        for stream_id in [stream_id for stream_id in self._streams if stream_id > last]:
            self._streams.pop(stream_id).put(
                Refused(f"{self.authority} is closing the connection (GOAWAY)")
            )
        raise ConnectionLost(
            f"{self.authority} closed the connection (GOAWAY, {event.error_code!s})"
        )
