"""SignalFlow's server-sent events: the parser and the stream endpoint."""

from __future__ import annotations

import json
from typing import Any

import pytest

from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers.splunk import stream_address, value_of

END = ("control-message", {"event": "END_OF_CHANNEL", "timestampMs": 3})


def _stream(*messages: tuple[str, Any]) -> bytes:
    return "".join(f"event: {n}\r\ndata: {json.dumps(b)}\r\n\r\n" for n, b in messages).encode()


def _data(*points: tuple[str, Any]) -> tuple[str, Any]:
    return ("data", {"logicalTimestampMs": 1, "data": [{"tsId": t, "value": v} for t, v in points]})


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (_stream(END), FailureKind.NO_DATA),
        (_stream(_data(("A", None)), END), FailureKind.NO_DATA),
        (_stream(_data(("A", 1), ("B", 2)), END), FailureKind.SEVERAL_SERIES),
        (_stream(("error", {"errors": [{"code": "BAD_PROGRAM"}]})), FailureKind.QUERY_ERROR),
        (
            _stream(("control-message", {"event": "CHANNEL_ABORT", "abortInfo": {"sf": "x"}})),
            FailureKind.QUERY_ERROR,
        ),
        (_stream(("control-message", {"event": "STREAM_START"})), FailureKind.BAD_RESPONSE),
        (b"event: data\ndata: {not json\n\n", FailureKind.BAD_RESPONSE),
        (_stream(_data(("A", "NaN")), END), FailureKind.NAN),
    ],
)
def test_a_stream_without_one_number_says_why(body: bytes, kind: FailureKind) -> None:
    with pytest.raises(MetricError) as caught:
        value_of(body)
    assert caught.value.kind is kind


def test_the_value_is_the_last_datapoint_of_the_one_series() -> None:
    body = _stream(_data(("A", 1.0)), _data(("A", None)), _data(("A", 2.5)), END)
    assert value_of(body) == 2.5


@pytest.mark.parametrize(
    ("address", "stream"),
    [
        ("https://api.us1.signalfx.com", "https://stream.us1.signalfx.com"),
        ("wss://stream.eu0.signalfx.com/v2/signalflow", "https://stream.eu0.signalfx.com"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ],
)
def test_the_stream_endpoint_is_derived_as_flagger_does(address: str, stream: str) -> None:
    assert stream_address(address) == stream
