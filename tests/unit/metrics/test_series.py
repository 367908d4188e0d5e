"""Range query answers as series for charts: gaps kept, malformed answers refused."""

from __future__ import annotations

import pytest

from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.series import Series, matrix


def test_a_matrix_becomes_series_with_gaps_for_nan_and_infinity() -> None:
    result = [
        {"metric": {"deployment": "podinfo"}, "values": [[10, "1.5"], [20, "NaN"], [30, "+Inf"]]},
        {"metric": {}, "values": []},
    ]
    assert matrix(result) == (
        Series({"deployment": "podinfo"}, ((10.0, 1.5), (20.0, None), (30.0, None))),
        Series({}, ()),
    )


@pytest.mark.parametrize(
    "result",
    [{"not": "a list"}, [{"metric": {}}], [{"values": [["x", "1"]]}], [{"values": [[1]]}]],
)
def test_anything_else_is_a_bad_response(result: object) -> None:
    with pytest.raises(MetricError) as caught:
        matrix(result)
    assert caught.value.kind is FailureKind.BAD_RESPONSE
