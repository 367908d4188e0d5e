"""The API's Canary maps onto the core's policy and state, and the state back onto the status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from canary.api.canary import Canary
from canary.api.status import CanaryStatus
from canary.controller.convert import context_of, metric_specs, policy_of, state_of, status_of
from canary.core.model import CanaryState, CheckResult, Phase, Verdict

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "podinfo" / "canary.yaml"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _canary() -> Canary:
    manifest = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"].update(namespace="shop", uid="u-1", generation=3)
    return Canary.model_validate(manifest)


def test_policy_takes_the_spec_with_defaults_and_the_minimum_interval() -> None:
    policy = policy_of(_canary(), min_interval=1)
    assert (policy.interval, policy.threshold, policy.max_weight, policy.step_weight) == (
        10.0,
        2,
        50,
        10,
    )
    assert policy.progress_deadline == 60.0
    assert policy_of(_canary(), min_interval=30).interval == 30.0


def test_an_empty_status_is_a_new_canary() -> None:
    state = state_of(CanaryStatus())
    assert state.phase is Phase.INITIALIZING
    assert (state.canary_weight, state.last_applied_revision, state.last_step_at) == (0, "", None)


def test_state_survives_a_round_trip_through_the_status() -> None:
    state = CanaryState(
        phase=Phase.PROGRESSING,
        canary_weight=30,
        failed_checks=1,
        last_applied_revision="b" * 16,
        last_promoted_revision="a" * 16,
        phase_since=NOW - timedelta(seconds=40),
        last_step_at=NOW - timedelta(seconds=5),
        message="Advanced canary weight to 30",
        checks=(CheckResult("request-success-rate", Verdict.FAIL, None, "no data", 99.0, None),),
    )
    manifest = status_of(state, previous=CanaryStatus(), generation=3, now=NOW, checked_at=NOW)
    assert manifest["checks"][0]["value"] is None  # "no value" is said explicitly
    assert manifest["observedGeneration"] == 3
    assert state_of(CanaryStatus.model_validate(manifest)) == state


@pytest.mark.parametrize("stalled", [False, True])
def test_a_held_initialization_survives_a_round_trip(stalled: bool) -> None:  # noqa: FBT001 - a parameter of the table
    state = CanaryState(
        phase=Phase.INITIALIZING,
        phase_since=NOW - timedelta(seconds=700),
        message="The primary is not ready after 700s, beyond the progress deadline of 600s",
        hold_reason="PrimaryNotReady",
        stalled=stalled,
    )
    manifest = status_of(state, previous=CanaryStatus(), generation=1, now=NOW, checked_at=None)
    conditions = {c["type"]: (c["status"], c["reason"]) for c in manifest["conditions"]}
    assert conditions["Ready"] == ("False", "PrimaryNotReady")
    abnormal = "Stalled" if stalled else "Reconciling"
    assert conditions[abnormal] == ("True", "PrimaryNotReady")
    assert state_of(CanaryStatus.model_validate(manifest)) == state


def test_condition_times_are_kept_while_their_status_holds() -> None:
    progressing = CanaryState(phase=Phase.PROGRESSING, phase_since=NOW)
    first = CanaryStatus.model_validate(
        status_of(progressing, previous=CanaryStatus(), generation=1, now=NOW, checked_at=None)
    )
    later = NOW + timedelta(minutes=5)
    second = CanaryStatus.model_validate(
        status_of(progressing, previous=first, generation=1, now=later, checked_at=None)
    )
    assert [c.last_transition_time for c in second.conditions] == [NOW, NOW, NOW]
    assert second.last_transition_time == NOW


def test_metrics_resolve_templates_and_context_names_the_target() -> None:
    canary = _canary()
    specs = {spec.name: spec for spec in metric_specs(canary, {})}
    assert specs["request-success-rate"].min == 99
    assert specs["request-duration"].max == 500
    assert specs["error-rate"].template_query is None  # the template was not found
    context = context_of(canary, default_provider="smi:v1alpha3")
    assert (context.namespace, context.target, context.provider) == ("shop", "podinfo", "linkerd")


def test_a_message_the_shell_wrote_is_not_carried_into_the_next_phase() -> None:
    failed = CanaryStatus.model_validate(
        {
            "phase": "Succeeded",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "ReconcileFailed",
                    "message": "services is forbidden",
                    "lastTransitionTime": "2026-11-25T12:00:00Z",
                }
            ],
        }
    )
    assert state_of(failed).message == ""


def test_the_phase_replaces_stalled_and_keeps_the_shells_own_conditions() -> None:
    previous = CanaryStatus.model_validate(
        {
            "phase": "Progressing",
            "conditions": [
                {
                    "type": "Stalled",
                    "status": "True",
                    "reason": "ReconcileFailed",
                    "lastTransitionTime": "2026-11-25T12:00:00Z",
                },
                {
                    "type": "AlertsReady",
                    "status": "False",
                    "reason": "AlertProviderNotFound",
                    "message": "AlertProvider shop/slack does not exist",
                    "lastTransitionTime": "2026-11-25T11:00:00Z",
                },
            ],
        }
    )
    state = CanaryState(phase=Phase.PROGRESSING, phase_since=NOW)
    manifest = status_of(state, previous=previous, generation=2, now=NOW, checked_at=None)
    by_type = {c["type"]: c for c in manifest["conditions"]}
    assert set(by_type) == {"Ready", "Promoted", "Reconciling", "AlertsReady"}
    assert by_type["AlertsReady"]["message"] == "AlertProvider shop/slack does not exist"


def test_rewriting_an_unchanged_status_changes_nothing() -> None:
    """The cycle skips the write when the new status equals the stored one: that must hold
    with the shell's own conditions kept and the abnormal-true ones present."""
    state = CanaryState(phase=Phase.FAILED, phase_since=NOW, message="Rolling back")
    first = status_of(state, previous=CanaryStatus(), generation=2, now=NOW, checked_at=None)
    first["conditions"].append(
        {
            "type": "AlertsReady",
            "status": "False",
            "reason": "AlertProviderNotFound",
            "message": "alert 'team': AlertProvider shop/slack does not exist",
            "observedGeneration": 2,
            "lastTransitionTime": "2026-11-25T11:59:00.250000Z",
        }
    )
    later = NOW + timedelta(minutes=3)
    again = status_of(
        state,
        previous=CanaryStatus.model_validate(first),
        generation=2,
        now=later,
        checked_at=None,
    )
    assert again == first


def test_the_ingress_of_queries_is_the_one_in_ingress_ref() -> None:
    """Flagger's `{{ ingress }}` is `spec.ingressRef.name` (the nginx builtins select on it),
    and `{{ route }}` `spec.routeRef.name`; both default to the target's name."""
    manifest = yaml.safe_load((EXAMPLE.parents[1] / "nginx" / "canary.yaml").read_text())
    manifest["metadata"].update(namespace="shop", uid="u-1")
    manifest["spec"]["ingressRef"]["name"] = "web"
    context = context_of(Canary.model_validate(manifest), default_provider="linkerd")
    assert (context.ingress_name, context.route_name, context.provider) == (
        "web",
        "podinfo",
        "nginx",
    )
    assert context_of(_canary(), default_provider="linkerd").ingress_name == "podinfo"


def _knative(**spec: object) -> Canary:
    manifest = yaml.safe_load((EXAMPLE.parents[1] / "knative" / "canary.yaml").read_text())
    manifest["metadata"].update(namespace="shop", uid="u-2", generation=1)
    manifest["spec"].update(spec)
    return Canary.model_validate(manifest)


def test_a_knative_targets_route_is_the_revision_under_analysis() -> None:
    canary = _knative()
    assert context_of(canary, default_provider="linkerd").route_name == "podinfo"
    canary.status.last_applied_spec = "podinfo-00002"
    context = context_of(canary, default_provider="linkerd")
    assert (context.route_name, context.provider, context.target_kind) == (
        "podinfo-00002",
        "knative",
        "Service",
    )


def test_ingress_and_route_are_named_by_ingress_ref_and_route_ref() -> None:
    manifest = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"].update(namespace="shop")
    manifest["spec"]["ingressRef"] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "name": "web",
    }
    manifest["spec"]["routeRef"] = {
        "apiVersion": "apisix.apache.org/v2",
        "kind": "ApisixRoute",
        "name": "r",
    }
    context = context_of(Canary.model_validate(manifest), default_provider="linkerd")
    assert (context.ingress_name, context.route_name) == ("web", "r")
    plain = context_of(_canary(), default_provider="linkerd")
    assert (plain.ingress_name, plain.route_name) == ("podinfo", "podinfo")
