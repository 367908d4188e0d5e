"""Canary objects and events as the API server returns them, for the views' unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)


def stamp(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")


def check(
    name: str,
    value: float | None,
    *,
    passed: bool = True,
    minimum: float | None = None,
    maximum: float | None = None,
    message: str = "",
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": name,
        "value": value,
        "verdict": "Pass" if passed else "Fail",
        "message": message,
        "time": stamp(5),
    }
    if minimum is not None:
        found["min"] = minimum
    if maximum is not None:
        found["max"] = maximum
    return found


def canary(
    *,
    name: str = "podinfo",
    namespace: str = "shop",
    phase: str | None = "Progressing",
    weight: int = 30,
    failed: int = 1,
    threshold: int = 2,
    applied: str = "a1a1a1a1a1a1a1a1",
    promoted: str = "b2b2b2b2b2b2b2b2",
    generation: int = 1,
    observed: int = 1,
    ready: tuple[str, str, str] = ("Unknown", "Progressing", "Advanced canary weight to 30"),
    checks: list[dict[str, Any]] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": "uid-1",
        "generation": generation,
    }
    if deleting:
        metadata["deletionTimestamp"] = stamp(1)
    status: dict[str, Any] = {
        "observedGeneration": observed,
        "canaryWeight": weight,
        "failedChecks": failed,
        "lastAppliedSpec": applied,
        "lastPromotedSpec": promoted,
        "lastTransitionTime": stamp(95),
        "phaseSince": stamp(95),
        "conditions": [
            {
                "type": "Ready",
                "status": ready[0],
                "reason": ready[1],
                "message": ready[2],
                "observedGeneration": observed,
                "lastTransitionTime": stamp(95),
            }
        ],
        "checks": checks
        if checks is not None
        else [
            check("request-success-rate", 99.5, minimum=99),
            check("request-duration", None, passed=False, maximum=500, message="no data"),
        ],
    }
    if phase is not None:
        status["phase"] = phase
    return {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Canary",
        "metadata": metadata,
        "spec": {
            "provider": "linkerd",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "service": {"port": 9898},
            "analysis": {
                "interval": "10s",
                "threshold": threshold,
                "stepWeights": [10, 30, 50],
                "metrics": [
                    {
                        "name": "request-success-rate",
                        "interval": "30s",
                        "thresholdRange": {"min": 99},
                    }
                ],
            },
        },
        "status": status,
    }


def event(
    reason: str,
    message: str,
    *,
    seconds_ago: float,
    name: str = "podinfo",
    uid: str = "uid-1",
    warning: bool = False,
    version: int = 1,
) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{name}.{version}", "resourceVersion": str(version)},
        "involvedObject": {"kind": "Canary", "name": name, "uid": uid},
        "reason": reason,
        "message": message,
        "type": "Warning" if warning else "Normal",
        "lastTimestamp": stamp(seconds_ago),
        "count": 1,
    }
