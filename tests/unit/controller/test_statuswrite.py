"""When a cycle's status may be written again after a 409 (`canary.controller.statuswrite`):
only on the same Canary, with the status the cycle decided from."""

from __future__ import annotations

from typing import Any

import pytest

from canary.controller.statuswrite import same_state

READ: dict[str, Any] = {
    "metadata": {"uid": "u-1", "resourceVersion": "10", "labels": {}},
    "spec": {"suspend": False},
    "status": {"phase": "Progressing", "canaryWeight": 10},
}


@pytest.mark.parametrize(
    ("fresh", "same"),
    [
        (READ, True),
        ({**READ, "metadata": {**READ["metadata"], "resourceVersion": "11"}}, True),
        ({**READ, "metadata": {**READ["metadata"], "annotations": {"p": "true"}}}, True),
        ({**READ, "spec": {"suspend": True}}, True),
        ({**READ, "status": {"phase": "Progressing", "canaryWeight": 20}}, False),
        ({**READ, "status": None}, False),
        ({**READ, "metadata": {**READ["metadata"], "uid": "u-2"}}, False),
    ],
    ids=[
        "unchanged",
        "new-version",
        "annotated",
        "spec-edited",
        "status-moved",
        "no-status",
        "recreated",
    ],
)
def test_only_metadata_or_spec_edits_keep_the_state(
    fresh: dict[str, Any],
    same: bool,  # noqa: FBT001 - a parameter of the table
) -> None:
    assert same_state(READ, fresh) is same
