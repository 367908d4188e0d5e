"""The API client's transport: HTTP/2 to the API server, as client-go speaks it.

kubernetes_asyncio sends every request through aiohttp, which speaks HTTP/1.1 only: one TCP
and TLS connection per request in flight, each closed by the API server after 90 s of quiet. A
controller that sends nothing while idle then meets every burst (a hundred Canaries' targets
changed at once) with cold connections: up to `--max-parallel` TLS handshakes with an API
server that is busy with the burst itself (bench/README.md, "HTTP/2"). Over HTTP/2 every
request and every watch of one client shares one connection, which the watches keep busy, so
the server never closes it as idle and a burst needs no handshake at all.

`Http2RestClient` is the library's REST client (`ApiClient.rest_client`) with `request`
replaced: it sends over `canary.kube.h2connection.H2Connection`s when the server offers `h2` in
TLS ALPN (one, unless the open streams, watches included, exceed the server's per-connection
limit, when it opens another as Go's transport does), and falls back to the library's own
aiohttp client where it cannot:

- a plain-HTTP server (`kubectl proxy`, a test's recording proxy) or a configured proxy;
- a server that negotiates HTTP/1.1 (checked once, on the first connection);
- form bodies, which the controller never sends.

The answers keep the interface the library and its callers read: `status`, `reason`, `data`
and `getheaders()` for a body read whole; `content.readline()`, `read()`, `text()`, `json()`
and `release()` for a streamed one (watches, lists). A connection the server closes (GOAWAY,
idle) is replaced on the next request; a request the server never processed is sent again
once. It must not interpret answers: errors above 2xx are `ApiException`s as before.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from aiohttp import ClientTimeout
from kubernetes_asyncio.client import Configuration
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.client.rest import RESTClientObject
from multidict import CIMultiDict, CIMultiDictProxy
from typing_extensions import override

from canary.kube.h2connection import ConnectionLost, H2Connection, Refused, Stream
from canary.kube.metrics import API_CONNECTIONS

# A request without a timeout of its own is bounded as the library's aiohttp client bounds it.
DEFAULT_TIMEOUT: Final = 300.0
CONNECT_TIMEOUT: Final = 30.0  # client-go's dialer
MAX_LINE: Final = 16 * 2**20  # a watch event is one object; etcd holds at most 1.5 MiB
_NOT_SENT: Final = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "te"}
)
_JSON_TYPES: Final = ("json", "application/apply-patch+yaml")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class _Answer:
    """What the server answered: status and headers, then the body."""

    def __init__(self, status: int, headers: CIMultiDict[str]) -> None:
        self.status = status
        self.reason = _reason(status)
        self.headers = CIMultiDictProxy(headers)
        self.data = b""

    def getheaders(self) -> CIMultiDictProxy[str]:
        return self.headers

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)


class StreamedAnswer(_Answer):
    """An answer whose body is read as it arrives (aiohttp's `ClientResponse` reads)."""

    def __init__(self, status: int, headers: CIMultiDict[str], stream: Stream) -> None:
        super().__init__(status, headers)
        self._stream = stream
        self._buffer = bytearray()

    @property
    def content(self) -> StreamedAnswer:
        return self

    async def readline(self) -> bytes:
        """The next line, its newline included; b"" at the end of the body."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return line
            chunk = await self._stream.chunk()
            if chunk is None:
                rest = bytes(self._buffer)
                self._buffer.clear()
                return rest
            self._buffer += chunk
            if len(self._buffer) > MAX_LINE:
                self.release()
                raise ValueError(f"a line of more than {MAX_LINE} bytes in a streamed answer")

    async def read(self) -> bytes:
        """The rest of the body."""
        while (chunk := await self._stream.chunk()) is not None:
            self._buffer += chunk
        self.data = bytes(self._buffer)
        self._buffer.clear()
        return self.data

    async def text(self) -> str:
        return (await self.read()).decode("utf-8", errors="replace")

    async def json(self) -> Any:
        return json.loads(await self.read())

    def release(self) -> None:
        """Stop reading: the stream is reset unless it ended."""
        self._stream.close()

    close = release


def _ssl_context(configuration: Configuration) -> ssl.SSLContext:
    """The TLS settings of the library's own client, from the same configuration."""
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, keyfile=configuration.key_file)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if configuration.disable_strict_ssl_verification:
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


def _body(headers: dict[str, Any], body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    content_type = str(headers.get("Content-Type", "application/json"))
    if any(kind in content_type.lower() for kind in _JSON_TYPES):
        return json.dumps(body).encode()
    raise ApiException(status=0, reason=f"cannot send a {type(body).__name__} as {content_type}")


def _total(timeout: float | tuple[float] | ClientTimeout | None) -> float:
    if isinstance(timeout, int | float) and timeout > 0:
        return float(timeout)
    if isinstance(timeout, tuple) and timeout and timeout[-1]:
        return float(timeout[-1])
    if isinstance(timeout, ClientTimeout) and timeout.total:
        return float(timeout.total)
    return DEFAULT_TIMEOUT


class Http2RestClient(RESTClientObject):
    """kubernetes_asyncio's REST client over HTTP/2 where it can be; see the module docstring."""

    def __init__(self, configuration: Configuration) -> None:
        super().__init__(configuration)  # the aiohttp client: the fallback
        address = urlsplit(configuration.host or "")
        self._http2 = address.scheme == "https" and not configuration.proxy
        self._host = address.hostname or ""
        self._port = address.port or 443
        self._server_hostname = configuration.tls_server_name or self._host
        self._context = _ssl_context(configuration) if self._http2 else None
        self._connections: list[H2Connection] = []
        self._connecting = asyncio.Lock()

    @property
    def speaks_http2(self) -> bool:
        """Whether requests go over HTTP/2 (until the first connection, whether they may)."""
        return self._http2

    @property
    def connection(self) -> H2Connection | None:
        """The first connection new requests may go out on, if one is open."""
        return next((each for each in self._connections if each.usable), None)

    @property
    def connections(self) -> list[H2Connection]:
        """The open connections: one, unless the streams in use exceed the server's limit."""
        return [each for each in self._connections if each.usable]

    @override
    async def close(self) -> None:
        connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
            await connection.wait_closed()
        await super().close()

    @override
    async def request(
        self,
        method: Any,
        url: Any,
        query_params: Any = None,
        headers: dict[str, Any] | None = None,
        body: Any | None = None,
        post_params: dict[str, Any] | None = None,
        _preload_content: bool = True,
        _request_timeout: float | tuple[float] | ClientTimeout | None = None,
    ) -> Any:
        if not self._http2 or post_params:
            return await super().request(
                method, url, query_params, headers, body, post_params,
                _preload_content, _request_timeout,
            )  # fmt: skip
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "application/json")
        payload = _body(headers, body)
        target = urlsplit(str(url))
        path = target.path + (f"?{target.query}" if target.query else "")
        if query_params:
            path += ("&" if "?" in path else "?") + urlencode(query_params)
        async with asyncio.timeout(_total(_request_timeout)):
            answer = await self._send(str(method).upper(), path, headers, payload)
            if answer is None:  # the server speaks HTTP/1.1 only
                return await super().request(
                    method, url, query_params, headers, body, post_params,
                    _preload_content, _request_timeout,
                )  # fmt: skip
            if not _preload_content:
                return answer
            try:
                await answer.read()
            finally:
                answer.release()
        if not 200 <= answer.status <= 299:
            error = ApiException(status=answer.status, reason=answer.reason)
            error.body, error.headers = answer.data, answer.headers  # as from an aiohttp answer
            raise error
        return answer

    async def _send(
        self, method: str, path: str, headers: dict[str, Any], payload: bytes | None
    ) -> StreamedAnswer | None:
        """The answer's head; None when the server turned out to speak HTTP/1.1 only."""
        for attempt in range(2):
            connection = await self._usable_connection()
            if connection is None:
                return None
            fields = [
                (":method", method),
                (":scheme", "https"),
                (":authority", connection.authority),
                (":path", path),
            ]
            fields += [
                (name.lower(), str(value))
                for name, value in headers.items()
                if name.lower() not in _NOT_SENT
            ]
            if payload is not None:
                fields.append(("content-length", str(len(payload))))
            try:
                stream = await connection.start_stream(fields, payload)
                try:
                    head = await stream.head()
                except BaseException:
                    stream.close()  # given up (a timeout, a cancelled caller): reset it
                    raise
            except Refused:
                if attempt:
                    raise
                continue  # never processed: once more, on a new connection
            status = 0
            received: CIMultiDict[str] = CIMultiDict()
            for name, value in head:
                if name == ":status":
                    status = int(value)
                elif not name.startswith(":"):
                    received.add(name, value)
            return StreamedAnswer(status, received, stream)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _usable_connection(self) -> H2Connection | None:
        """A connection with a free stream slot: an open one, else a new one."""
        for connection in self._connections:
            if connection.has_slot:
                return connection
        async with self._connecting:
            self._connections = [each for each in self._connections if each.error is None]
            for connection in self._connections:
                if connection.has_slot:
                    return connection
            if self._context is None:
                return None
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    opened = await H2Connection.open(
                        self._host, self._port, self._context, self._server_hostname
                    )
            except (OSError, TimeoutError) as error:
                where = f"{self._host}:{self._port}"
                raise ConnectionLost(f"cannot connect to {where}: {error}") from error
            if opened is None:
                self._http2 = False
                return None
            API_CONNECTIONS.inc()
            self._connections.append(opened)
            return opened
