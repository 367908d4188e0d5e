"""Parse a `hey` command line into a `LoadSpec`, so Flagger's usual load test runs without a shell.

Supported flags, with hey's meaning: -z duration (Go syntax: 1m, 30s, 1m30s, 500ms), -q rate
limit in queries per second *per worker*, -c workers (default 50), -n requests (default 200,
ignored with -z), -m method, -H header (repeatable), -d body, -T content type, -A accept header,
-t per-request timeout in seconds (0: none; default 20). Flags may be written `-z 1m`, `-z=1m` or
`--z 1m`. Anything else (other flags, several URLs, shell syntax) is refused with a precise
`ValueError`: nothing here runs a program.
"""

from __future__ import annotations

import re
import shlex
from typing import Final

from canary.hooks.loadtester.load import DEFAULT_CONCURRENCY, DEFAULT_REQUEST_TIMEOUT, LoadSpec

_VALUE_FLAGS: Final = frozenset({"z", "q", "c", "n", "m", "H", "d", "T", "A", "t"})
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


def parse_hey(command: str) -> LoadSpec:  # noqa: PLR0912 - one branch per flag reads best
    """The load `command` (a hey command line) asks for."""
    try:
        words = shlex.split(command)
    except ValueError as error:
        raise ValueError(f"cannot parse the command: {error}") from None
    if not words or words[0].rsplit("/", 1)[-1] != "hey":
        raise ValueError(f"not a hey command: {command!r}")
    options: dict[str, str] = {}
    headers: dict[str, str] = {}
    urls: list[str] = []
    index = 1
    while index < len(words):
        word = words[index]
        index += 1
        if word in _SHELL_SYNTAX or word.startswith(("$(", "`")):
            raise ValueError(f"shell syntax {word!r} is not supported; only one hey command runs")
        if not word.startswith("-") or word == "-":
            urls.append(word)
            continue
        name, equals, value = word.lstrip("-").partition("=")
        if name not in _VALUE_FLAGS:
            raise ValueError(f"unsupported hey flag -{name}")
        if not equals:
            if index >= len(words):
                raise ValueError(f"hey -{name} needs a value")
            value = words[index]
            index += 1
        if name == "H":
            header, colon, header_value = value.partition(":")
            if not colon or not header.strip():
                raise ValueError(f"hey -H: expected 'Name: value', got {value!r}")
            headers[header.strip()] = header_value.strip()
        else:
            options[name] = value
    if len(urls) != 1:
        raise ValueError(f"hey needs exactly one URL, got {len(urls)}: {urls}")
    concurrency = int(_number("c", options.get("c", str(DEFAULT_CONCURRENCY)), int))
    duration = parse_go_duration(options["z"]) if "z" in options else None
    requests = int(_number("n", options["n"], int)) if "n" in options else None
    per_worker = _number("q", options["q"], float) if "q" in options else 0.0
    if "T" in options:
        headers["Content-Type"] = options["T"]
    if "A" in options:
        headers["Accept"] = options["A"]
    timeout = _number("t", options["t"], float) if "t" in options else DEFAULT_REQUEST_TIMEOUT
    return LoadSpec(
        url=urls[0],
        method=options.get("m", "GET").upper(),
        headers=headers,
        body=options["d"].encode() if "d" in options else None,
        duration=duration,
        requests=requests,
        # hey's -q is per worker; 0 means no limit.
        rate=per_worker * concurrency if per_worker > 0 else None,
        concurrency=concurrency,
        request_timeout=timeout if timeout > 0 else 3600.0,
    )
