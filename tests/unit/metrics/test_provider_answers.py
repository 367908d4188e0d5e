"""The strict parsers of each provider's answer: every way an answer is not one finite number
gets its own kind (the happy paths and HTTP faults are tested against servers in
tests/integration/test_metric_providers.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers import datadog, dynatrace, graphite, influxdb, newrelic

NO_DATA, NAN, SEVERAL, BAD, QUERY, INF = (
    FailureKind.NO_DATA,
    FailureKind.NAN,
    FailureKind.SEVERAL_SERIES,
    FailureKind.BAD_RESPONSE,
    FailureKind.QUERY_ERROR,
    FailureKind.INFINITE,
)


def _csv(*rows: str, datatype: str = "double", header: str = ",result,table,_value") -> bytes:
    lines = [f"#datatype,string,long,{datatype}", "#group,false,false,false", "#default,_result,,"]
    return "\r\n".join([*lines, header, *rows, ""]).encode()


@pytest.mark.parametrize(
    ("parse", "answer", "kind"),
    [
        (graphite.value_of, [], NO_DATA),
        (graphite.value_of, [{"target": "a", "datapoints": [[None, 1]]}], NO_DATA),
        (graphite.value_of, [{"target": "a", "datapoints": [["nan", 1]]}], NAN),
        (graphite.value_of, [{"target": "a", "datapoints": [["inf", 1]]}], INF),
        (graphite.value_of, [{"target": "a", "datapoints": [[1, 1]]}] * 2, SEVERAL),
        (graphite.value_of, {"error": "x"}, BAD),
        (graphite.value_of, [{"target": "a", "datapoints": [[1]]}], BAD),
        (graphite.value_of, [{"target": "a", "datapoints": [["x", 1]]}], BAD),
        (datadog.value_of, {"status": "error", "error": "bad query"}, QUERY),
        (datadog.value_of, {"status": "ok", "series": []}, NO_DATA),
        (datadog.value_of, {"status": "ok", "series": [{"pointlist": [[1, None]]}]}, NO_DATA),
        (datadog.value_of, {"status": "ok", "series": [{"pointlist": [[1, 1.0]]}] * 2}, SEVERAL),
        (datadog.value_of, {"status": "ok"}, BAD),
        (datadog.value_of, {"series": [{"pointlist": [[1, True]]}]}, BAD),
        (newrelic.value_of, {"results": []}, NO_DATA),
        (newrelic.value_of, {"results": [{"result": None}]}, NO_DATA),
        (newrelic.value_of, {"results": [{"result": "NaN"}]}, NAN),
        (newrelic.value_of, {"results": [{"result": 1}, {"result": 2}]}, SEVERAL),
        (newrelic.value_of, {"results": [{"a": 1, "b": 2}]}, BAD),
        (newrelic.value_of, {"error": "NRQL Syntax Error"}, QUERY),
        (dynatrace.value_of, {"result": []}, NO_DATA),
        (dynatrace.value_of, {"result": [{"data": []}]}, NO_DATA),
        (dynatrace.value_of, {"result": [{"data": [{"values": [None]}]}]}, NO_DATA),
        (dynatrace.value_of, {"result": [{"data": [{"values": [1]}, {"values": [2]}]}]}, SEVERAL),
        (dynatrace.value_of, {"result": [{"data": [{"values": [1]}]}] * 2}, SEVERAL),
        (dynatrace.value_of, {"error": {"code": 400, "message": "bad selector"}}, QUERY),
        (influxdb.value_of, b"\r\n", NO_DATA),
        (influxdb.value_of, _csv(",_result,0,"), NO_DATA),
        (influxdb.value_of, _csv(",_result,0,NaN"), NAN),
        (influxdb.value_of, _csv(",_result,0,1", ",_result,1,2"), SEVERAL),
        (influxdb.value_of, _csv(",_result,0,up", datatype="string"), BAD),
        (influxdb.value_of, _csv(",_result,0,1", header=",result,table,_field"), BAD),
        (influxdb.value_of, b"#datatype,string,string\r\n,error,reference\r\n,boom,\r\n", QUERY),
        (influxdb.value_of, b"\xff\xfe", BAD),
    ],
)
def test_an_answer_without_one_number_says_why(
    parse: Callable[[Any], float], answer: Any, kind: FailureKind
) -> None:
    with pytest.raises(MetricError) as caught:
        parse(answer)
    assert caught.value.kind is kind, caught.value.message


@pytest.mark.parametrize(
    ("parse", "answer", "value"),
    [
        (graphite.value_of, [{"target": "a", "datapoints": [[1, 1], ["2.5", 2], [None, 3]]}], 2.5),
        (graphite.value_of, [{"target": "a", "datapoints": [[1, 1]]}, {"datapoints": []}], 1.0),
        (datadog.value_of, {"series": [{"pointlist": [[1, None], [2, 3.0], [3, 9.0]]}]}, 3.0),
        (newrelic.value_of, {"results": [{"average": 4}]}, 4.0),
        (dynatrace.value_of, {"result": [{"data": [{"values": [None, 5]}]}]}, 5.0),
        (influxdb.value_of, _csv(",_result,0,6", datatype="long"), 6.0),
    ],
)
def test_the_value_is_the_documented_one(
    parse: Callable[[Any], float], answer: Any, value: float
) -> None:
    assert parse(answer) == value
