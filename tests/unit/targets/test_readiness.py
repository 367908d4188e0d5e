"""Deployment readiness, row by row of Flagger's rules, with messages a person can act on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from canary.core.model import WorkloadReadiness
from canary.targets.deployment import deployment_readiness

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
DEADLINE = 600.0


def stamp(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment(
    *,
    desired: int = 3,
    generation: int = 2,
    observed: int = 2,
    replicas: int = 3,
    updated: int = 3,
    available: int = 3,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": "podinfo-primary", "generation": generation},
        "spec": {"replicas": desired},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "conditions": conditions or [],
        },
    }


def judge(manifest: dict[str, Any] | None, *, threshold: int = 100) -> WorkloadReadiness:
    return deployment_readiness(
        manifest, progress_deadline_seconds=DEADLINE, ready_threshold_percent=threshold, now=NOW
    )


def unavailable_since(seconds_ago: float) -> list[dict[str, Any]]:
    return [
        {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"},
        {
            "type": "Available",
            "status": "False",
            "reason": "MinimumReplicasUnavailable",
            "lastTransitionTime": stamp(seconds_ago),
            "lastUpdateTime": stamp(seconds_ago),
        },
    ]


def test_a_missing_deployment_does_not_exist() -> None:
    assert judge(None) == WorkloadReadiness(
        exists=False, ready=False, message="deployment does not exist"
    )


def test_a_rolled_out_deployment_is_ready() -> None:
    readiness = judge(deployment())
    assert readiness == WorkloadReadiness(
        exists=True,
        ready=True,
        message="deployment podinfo-primary is ready: 3 of 3 replicas available",
    )


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (
            deployment(generation=3, observed=2),
            (
                "waiting for rollout of deployment podinfo-primary to finish: "
                "observed generation behind (2 of 3)"
            ),
        ),
        (
            deployment(updated=1, replicas=4, available=3),
            (
                "waiting for rollout of deployment podinfo-primary to finish: "
                "1 of 3 new replicas have been updated"
            ),
        ),
        (
            deployment(replicas=5, updated=3),
            (
                "waiting for rollout of deployment podinfo-primary to finish: "
                "2 old replicas are pending termination"
            ),
        ),
        (
            deployment(available=2),
            (
                "waiting for rollout of deployment podinfo-primary to finish: "
                "2 of 3 updated replicas are available (ready threshold 100%)"
            ),
        ),
        (
            deployment(available=1, conditions=unavailable_since(DEADLINE - 1)),
            (
                "waiting for rollout of deployment podinfo-primary to finish: "
                "1 of 3 updated replicas are available (ready threshold 100%)"
            ),
        ),
    ],
)
def test_a_deployment_still_rolling_out_is_not_ready_yet(
    manifest: dict[str, Any], message: str
) -> None:
    assert judge(manifest) == WorkloadReadiness(exists=True, ready=False, message=message)


def test_progress_deadline_exceeded_is_terminal() -> None:
    condition = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "podinfo-primary-5d4" has timed out progressing.',
    }
    readiness = judge(deployment(available=0, conditions=[condition]))
    assert readiness.exists
    assert not readiness.ready
    assert readiness.deadline_exceeded
    assert readiness.message == (
        "deployment podinfo-primary exceeded its progress deadline: "
        'ReplicaSet "podinfo-primary-5d4" has timed out progressing.'
    )


def test_unavailable_for_longer_than_the_canarys_deadline_is_terminal() -> None:
    readiness = judge(deployment(available=1, conditions=unavailable_since(DEADLINE + 1)))
    assert not readiness.ready
    assert readiness.deadline_exceeded
    assert readiness.message == (
        "deployment podinfo-primary has not been available for 600 s (the progress deadline): "
        "1 of 3 updated replicas are available (ready threshold 100%)"
    )


def test_an_observed_generation_behind_wins_over_an_old_deadline_condition() -> None:
    condition = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    readiness = judge(deployment(generation=4, observed=3, conditions=[condition]))
    assert not readiness.ready
    assert not readiness.deadline_exceeded


def test_a_long_unavailable_condition_does_not_matter_once_replicas_are_available() -> None:
    readiness = judge(deployment(conditions=unavailable_since(DEADLINE * 10)))
    assert readiness.ready
    assert not readiness.deadline_exceeded


def test_the_ready_threshold_is_a_percentage_of_updated_replicas_rounded_down() -> None:
    assert judge(deployment(available=2), threshold=67).ready  # needs int(3 * 0.67) = 2
    short = judge(deployment(available=1), threshold=67)
    assert not short.ready
    assert short.message.endswith("1 of 3 updated replicas are available (ready threshold 67%)")


def test_a_deployment_scaled_to_zero_is_ready() -> None:
    manifest = deployment(desired=0, replicas=0, updated=0, available=0)
    assert judge(manifest).ready
