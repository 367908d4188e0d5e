"""Parsing hey command lines and Go durations into load specs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from canary.hooks.loadtester.hey import is_hey_command, parse_go_duration, parse_hey
from canary.hooks.loadtester.load import LoadReport, LoadSpec


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1m", 60.0), ("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5), ("2h", 7200.0), ("1.5s", 1.5)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1", "1x", "m", "1m 2s", "-1s"])
def test_bad_go_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration(text)


def test_flaggers_usual_command() -> None:
    spec = parse_hey("hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/")
    assert spec == LoadSpec(
        url="http://podinfo-canary.test:9898/",
        duration=60.0,
        rate=20.0,  # -q is per worker
        concurrency=2,
        follow_redirects=True,  # hey follows redirects unless -disable-redirects
    )


def test_every_supported_flag() -> None:
    spec = parse_hey(
        "/usr/local/bin/hey -n 100 -c=4 --m post -H 'X-Canary: yes' -H 'Authorization: Bearer t'"
        " -d '{\"a\": 1}' -T application/json -A text/plain -t 3 https://example.test/api"
    )
    assert spec.url == "https://example.test/api"
    assert spec.method == "POST"
    assert spec.requests == 100
    assert spec.duration is None
    assert spec.limit == 100
    assert spec.rate is None
    assert spec.concurrency == 4
    assert spec.body == b'{"a": 1}'
    assert spec.request_timeout == 3.0
    assert dict(spec.headers) == {
        "X-Canary": "yes",
        "Authorization": "Bearer t",
        "Content-Type": "application/json",
        "Accept": "text/plain",
    }


def test_every_flag_hey_has_is_accepted_with_heys_meaning(tmp_path: Path) -> None:
    """Flagger's Gateway API scenarios pass -host; the rest is hey's whole flag set."""
    body = tmp_path / "body.json"
    body.write_bytes(b'{"from": "file"}')
    spec = parse_hey(
        "hey -z 30s -q 5 -c 2 -host app.example.com -H 'X-Canary: insider' -m post"
        f" -d ignored -D {body} -T application/json -A '*/*' -U tester -a user:secret"
        " -x 127.0.0.1:3128 -t 0 -h2 -disable-compression -disable-keepalive"
        " -disable-redirects=true -cpus 2 -o csv http://gateway.test/api"
    )
    assert spec.url == "http://gateway.test/api"
    assert (spec.method, spec.duration, spec.rate, spec.concurrency) == ("POST", 30.0, 10.0, 2)
    assert spec.body == b'{"from": "file"}'  # -D wins over -d, as in hey
    assert dict(spec.headers) == {
        "X-Canary": "insider",
        "Content-Type": "application/json",
        "Accept": "*/*",
        "Host": "app.example.com",
        "User-Agent": "tester",
        "Authorization": "Basic dXNlcjpzZWNyZXQ=",
    }
    assert spec.proxy == "http://127.0.0.1:3128"
    assert spec.request_timeout == 3600.0  # -t 0: no timeout
    assert (spec.follow_redirects, spec.compression, spec.keepalive) == (False, False, False)


def test_go_flag_forms_and_arguments_after_the_url() -> None:
    spec = parse_hey("hey --disable-keepalive=false -h2=1 -- http://a.test/ extra words")
    assert spec.url == "http://a.test/"  # hey ignores what follows its URL
    assert spec.keepalive
    assert parse_hey("hey http://a.test/ http://b.test/").url == "http://a.test/"


def test_hey_defaults() -> None:
    spec = parse_hey("hey http://a.test/")
    assert (spec.concurrency, spec.limit, spec.rate, spec.method) == (50, 200, None, "GET")


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("hey -z 1m", "hey needs a URL"),
        ("hey -y 1 http://a.test/", "unknown hey flag -y"),
        ("hey -h 'A: b' http://a.test/", "hey -h is deprecated"),
        ("hey -o json http://a.test/", "hey -o: only csv is supported, got 'json'"),
        ("hey -h2=maybe http://a.test/", "hey -h2: expected true or false, got 'maybe'"),
        ("hey -a nopassword http://a.test/", "hey -a: expected 'username:password'"),
        ("hey -cpus x http://a.test/", "hey -cpus: expected a number, got 'x'"),
        ("hey -t 1.5 http://a.test/", "hey -t: expected a number, got '1.5'"),
        ("hey -D /nonexistent/body http://a.test/", "hey -D: cannot read /nonexistent/body"),
        ("hey -c two http://a.test/", "hey -c: expected a number, got 'two'"),
        ("hey -z 1m http://a.test/ ; rm -rf /", "shell syntax ';' is not supported"),
        ("hey -H nocolon http://a.test/", "expected 'Name: value'"),
        ("hey http://a.test/ -z", "hey -z needs a value"),
        ("hey -c 0 http://a.test/", "concurrency must be at least 1"),
        ("hey ftp://a.test/", "http or https URL"),
        ("curl http://a.test/", "not a hey command"),
        ("hey 'unclosed", "cannot parse"),
    ],
)
def test_bad_commands_are_refused_precisely(command: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_hey(command)


def test_hey_is_recognised_by_program_name() -> None:
    assert is_hey_command("hey -z 1m http://a.test/")
    assert is_hey_command("/bin/hey http://a.test/")
    assert not is_hey_command("heyo http://a.test/")
    assert not is_hey_command("sh -c 'hey http://a.test/'")


def test_latency_percentiles_are_nearest_rank() -> None:
    report = LoadReport(
        requests=100,
        errors=0,
        status_codes={200: 100},
        duration=2.0,
        latencies=tuple(i / 1000 for i in range(1, 101)),
    )
    assert (report.percentile(50), report.percentile(90), report.percentile(99)) == (
        0.05,
        0.09,
        0.099,
    )
    document = report.to_json()
    assert document["latencyMs"] == {"p50": 50.0, "p90": 90.0, "p99": 99.0}
    assert document["rps"] == 50.0
    assert LoadReport(0, 0, {}, 0.0, ()).to_json()["latencyMs"] == {
        "p50": None,
        "p90": None,
        "p99": None,
    }
