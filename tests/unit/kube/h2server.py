"""An HTTP/2 server on 127.0.0.1 (TLS, `h2` in ALPN) whose behaviour a test sets, for the
transport's tests: it answers by path, records what the client sent (streams, resets,
connections), and can go silent or send GOAWAY the way an API server does.

Paths:
- `/echo...`: 200 with `{"method", "path", "length"}` (the request body's length);
- `/status/<code>`: that status with a metav1.Status-like body;
- `/hold`: no answer until `answer_held()`;
- `/lines`: 200, then `lines` one DATA frame each, and the stream left open;
- `/goaway-once`: on the first connection that asks, a GOAWAY that leaves this stream
  unprocessed (last-stream-id below it) and no answer; anywhere else like `/echo`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.settings

from canary.sandbox.pki import create_pki


@dataclass
class _Peer:
    connection: h2.connection.H2Connection
    writer: asyncio.StreamWriter
    number: int
    headers: dict[int, dict[str, str]] = field(default_factory=dict)
    bodies: dict[int, bytearray] = field(default_factory=dict)

    def flush(self) -> None:
        self.writer.write(self.connection.data_to_send())


@dataclass
class H2Server:
    port: int = 0
    ca_cert: Path = Path()
    lines: list[bytes] = field(default_factory=list)
    connections: int = 0
    silent: bool = False
    max_streams: int = 100  # SETTINGS_MAX_CONCURRENT_STREAMS, kube-apiserver's default
    requests: list[tuple[int, str, str]] = field(default_factory=list)  # (connection, method, path)
    resets: list[int] = field(default_factory=list)
    held: list[tuple[_Peer, int]] = field(default_factory=list)
    holding: asyncio.Event = field(default_factory=asyncio.Event)  # set once one is held
    held_changed: asyncio.Event = field(default_factory=asyncio.Event)  # set as each is held
    _goaway_sent: bool = False
    _peers: list[_Peer] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        connection = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        peer = _Peer(connection, writer, self.connections)
        self._peers.append(peer)
        connection.local_settings = h2.settings.Settings(
            client=False,
            initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.max_streams},
        )
        connection.initiate_connection()
        peer.flush()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if self.silent:
                    continue  # swallows everything, PINGs included
                for event in connection.receive_data(data):
                    self._on(peer, event)
                peer.flush()
        writer.close()

    def _on(self, peer: _Peer, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            sid = event.stream_id or 0
            peer.headers[sid] = {str(k): str(v) for k, v in event.headers or ()}
            peer.bodies[sid] = bytearray()
        elif isinstance(event, h2.events.DataReceived):
            sid = event.stream_id or 0
            peer.bodies[sid] += event.data or b""
            peer.connection.acknowledge_received_data(event.flow_controlled_length or 0, sid)
        elif isinstance(event, h2.events.StreamEnded):
            self._answer(peer, event.stream_id or 0)
        elif isinstance(event, h2.events.StreamReset):
            self.resets.append(event.stream_id or 0)

    def _answer(self, peer: _Peer, sid: int) -> None:
        headers = peer.headers[sid]
        method, path = headers[":method"], headers[":path"]
        self.requests.append((peer.number, method, path))
        if path == "/hold":
            self.held.append((peer, sid))
            self.holding.set()
            self.held_changed.set()
        elif path == "/lines":
            peer.connection.send_headers(sid, [(":status", "200")])
            for line in self.lines:
                peer.connection.send_data(sid, line)
        elif path == "/goaway-once" and not self._goaway_sent:
            self._goaway_sent = True
            peer.connection.close_connection(last_stream_id=sid - 2)
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            _send(peer, sid, code, {"kind": "Status", "code": code, "message": f"said {code}"})
        else:
            _send(peer, sid, 200, {"method": method, "path": path, "length": len(peer.bodies[sid])})

    def answer_held(self) -> None:
        for peer, sid in self.held:
            with contextlib.suppress(Exception):  # the client may have reset it
                _send(peer, sid, 200, {"held": sid})
                peer.flush()
        self.held.clear()


def _send(peer: _Peer, sid: int, status: int, document: object) -> None:
    body = json.dumps(document).encode()
    peer.connection.send_headers(
        sid,
        [(":status", str(status)), ("content-type", "application/json"),
         ("content-length", str(len(body)))],
    )  # fmt: skip
    peer.connection.send_data(sid, body, end_stream=True)


@contextlib.asynccontextmanager
async def h2_server(directory: Path) -> AsyncIterator[H2Server]:
    pki = create_pki(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.serving_cert, pki.serving_key)
    context.set_alpn_protocols(["h2"])
    state = H2Server(ca_cert=pki.ca_cert)
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0, ssl=context)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        for peer in state._peers:
            peer.writer.close()
