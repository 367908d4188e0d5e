"""Parse a `hey` command line into a `LoadSpec`, so Flagger's usual load test runs without a shell.

Every flag hey has is accepted, with hey's meaning:
-z duration (Go syntax: 1m, 30s, 1m30s, 500ms), -q rate limit in queries per second *per
worker*, -c workers (default 50), -n requests (default 200, ignored with -z), -m method, -H
header (repeatable), -d body, -D body from a file, -T content type, -A accept header, -U user
agent, -a basic auth (`user:password`), -host the Host header, -x proxy (`host:port`), -t
per-request timeout in seconds (0: none; default 20), -disable-compression,
-disable-keepalive, -disable-redirects (hey follows redirects otherwise), and three that do not
change the load: -o csv (hey's output format; the report here is JSON), -cpus and -h2 (the
requests are HTTP/1.1: aiohttp has no HTTP/2; a server that needs HTTP/2 answers errors).
Flags are Go flags: `-z 1m`, `-z=1m` or `--z 1m`, booleans alone or as `-h2=true`, `--` ends
them; unlike Go, flags after the URL are honoured too. As hey does, arguments after the URL
that are not flags are ignored. Shell syntax and hey's own refusals (no URL, `-o` other than
csv, the removed `-h`) are refused with a precise `ValueError`: nothing here runs a program.
"""

from __future__ import annotations

import base64
import re
import shlex
from pathlib import Path
from typing import Final

from canary.hooks.loadtester.load import DEFAULT_CONCURRENCY, DEFAULT_REQUEST_TIMEOUT, LoadSpec

_VALUE_FLAGS: Final = frozenset(
    {"z", "q", "c", "n", "m", "H", "d", "D", "T", "A", "U", "a", "x", "t", "o", "cpus", "host"}
)
_BOOLEAN_FLAGS: Final = frozenset(
    {"h2", "disable-compression", "disable-keepalive", "disable-redirects"}
)
_GO_TRUE: Final = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_GO_FALSE: Final = frozenset({"0", "f", "F", "false", "FALSE", "False"})
# The largest body file -D reads (hey has no limit; a load test's body is small).
MAX_BODY_FILE_BYTES: Final = 16 << 20
_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_SHELL_SYNTAX: Final = frozenset({"|", "||", "&", "&&", ";", ">", ">>", "<", "$(", "`"})


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string (`1m30s`, `500ms`, `2h`); ValueError when it is not one."""
    if not text or _DURATION_PART.sub("", text) != "":
        raise ValueError(f"invalid duration {text!r} (expected e.g. 30s, 1m, 1m30s, 500ms)")
    return sum(float(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(text))


def is_hey_command(command: str) -> bool:
    """True when `command`'s program is hey (by name or path)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    return bool(words) and words[0].rsplit("/", 1)[-1] == "hey"


def _number(flag: str, value: str, kind: type[int] | type[float]) -> float:
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"hey -{flag}: expected a number, got {value!r}") from None


def parse_hey(command: str) -> LoadSpec:
    """The load `command` (a hey command line) asks for."""
    try:
        words = shlex.split(command)
    except ValueError as error:
        raise ValueError(f"cannot parse the command: {error}") from None
    if not words or words[0].rsplit("/", 1)[-1] != "hey":
        raise ValueError(f"not a hey command: {command!r}")
    options, flags, headers, urls = _parse_flags(words[1:])
    if not urls:
        raise ValueError("hey needs a URL")
    if options.get("o", "csv") != "csv":
        raise ValueError(f"hey -o: only csv is supported, got {options['o']!r}")
    if "cpus" in options:
        _number("cpus", options["cpus"], int)
    concurrency = int(_number("c", options.get("c", str(DEFAULT_CONCURRENCY)), int))
    duration = parse_go_duration(options["z"]) if "z" in options else None
    requests = int(_number("n", options["n"], int)) if "n" in options else None
    per_worker = _number("q", options["q"], float) if "q" in options else 0.0
    for flag, header in (("T", "Content-Type"), ("A", "Accept"), ("host", "Host")):
        if options.get(flag):
            headers[header] = options[flag]
    if options.get("U"):
        headers["User-Agent"] = options["U"]
    if options.get("a"):
        headers["Authorization"] = _basic_auth(options["a"])
    timeout = _number("t", options["t"], int) if "t" in options else DEFAULT_REQUEST_TIMEOUT
    return LoadSpec(
        url=urls[0],
        method=options.get("m", "GET").upper(),
        headers=headers,
        body=_body(options),
        duration=duration,
        requests=requests,
        # hey's -q is per worker; 0 means no limit.
        rate=per_worker * concurrency if per_worker > 0 else None,
        concurrency=concurrency,
        request_timeout=timeout if timeout > 0 else 3600.0,
        proxy=_proxy(options["x"]) if options.get("x") else None,
        follow_redirects="disable-redirects" not in flags,
        compression="disable-compression" not in flags,
        keepalive="disable-keepalive" not in flags,
    )


def _parse_flags(
    words: list[str],
) -> tuple[dict[str, str], set[str], dict[str, str], list[str]]:
    """(value flags, boolean flags set, headers, URLs) of hey's arguments, as Go parses them."""
    options: dict[str, str] = {}
    flags: set[str] = set()
    headers: dict[str, str] = {}
    urls: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word in _SHELL_SYNTAX or word.startswith(("$(", "`")):
            raise ValueError(f"shell syntax {word!r} is not supported; only one hey command runs")
        if word == "--":
            urls += words[index : index + 1]
            break
        if not word.startswith("-") or word == "-":
            urls.append(word)
            continue
        name, equals, value = word.removeprefix("-").removeprefix("-").partition("=")
        if name in _BOOLEAN_FLAGS:
            _set_boolean(flags, name, value if equals else "true")
            continue
        _refuse_unknown(name)
        if not equals:
            if index >= len(words):
                raise ValueError(f"hey -{name} needs a value")
            value = words[index]
            index += 1
        if name == "H":
            header, colon, header_value = value.partition(":")
            if not colon or not header.strip() or not header_value.strip():
                raise ValueError(f"hey -H: expected 'Name: value', got {value!r}")
            headers[header.strip()] = header_value.strip()
        else:
            options[name] = value
    return options, flags, headers, urls


def _set_boolean(flags: set[str], name: str, value: str) -> None:
    if value in _GO_TRUE:
        flags.add(name)
    elif value in _GO_FALSE:
        flags.discard(name)
    else:
        raise ValueError(f"hey -{name}: expected true or false, got {value!r}")


def _refuse_unknown(name: str) -> None:
    if name == "h":
        raise ValueError("hey -h is deprecated and refused by hey; use -H 'Name: value'")
    if name not in _VALUE_FLAGS:
        raise ValueError(f"unknown hey flag -{name}")


def _basic_auth(value: str) -> str:
    user, colon, password = value.partition(":")
    if not colon or not user or not password or password[0].isspace():
        raise ValueError("hey -a: expected 'username:password'")
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _proxy(address: str) -> str:
    """hey's `host:port` (or a URL) as the proxy URL aiohttp takes."""
    return address if "://" in address else f"http://{address}"


def _body(options: dict[str, str]) -> bytes | None:
    """-D's file (read now, so a missing one is refused before any request) or -d's text."""
    if options.get("D"):
        path = Path(options["D"])
        try:
            with path.open("rb") as file:
                data = file.read(MAX_BODY_FILE_BYTES + 1)
        except OSError as error:
            raise ValueError(f"hey -D: cannot read {path}: {error.strerror}") from None
        if len(data) > MAX_BODY_FILE_BYTES:
            raise ValueError(f"hey -D: {path} is larger than {MAX_BODY_FILE_BYTES >> 20} MiB")
        return data
    return options["d"].encode() if options.get("d") else None
