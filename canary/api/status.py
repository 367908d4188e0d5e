"""`status` of a Canary: where its rollout is, written only by the controller.

Everything the controller needs to resume after a restart lives here (phase, weight, counters,
revisions, the time of the last step), so nothing of a rollout is only in memory. The shape
follows kstatus (`observedGeneration`, `Ready`, and `Reconciling`/`Stalled` present only while
true), so Flux (kstatus) and Argo CD (with the health script in examples/argocd) tell healthy
from failed without knowing this API (see canary.core.conditions for the rules).

The phase enum is defined here, not imported from `canary.core`: the API is the lowest layer and
the core keeps its own vocabulary.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
)

from canary.api.base import ApiModel, Int, ShortText, Text, Timestamp, keyed_list


class Phase(StrEnum):
    """Flagger's phases, spelled as Flagger spells them (users' scripts grep for them)."""

    INITIALIZING = "Initializing"
    INITIALIZED = "Initialized"
    WAITING = "Waiting"
    PROGRESSING = "Progressing"
    WAITING_PROMOTION = "WaitingPromotion"
    PROMOTING = "Promoting"
    FINALISING = "Finalising"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"


class ConditionType(StrEnum):
    READY = "Ready"
    PROMOTED = "Promoted"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    ALERTS_READY = "AlertsReady"
    FIELDS_HONORED = "FieldsHonored"


class Condition(ApiModel):
    """A Kubernetes condition (the shape of metav1.Condition)."""

    type: Annotated[str, StringConstraints(min_length=1, max_length=316)]
    """The kind of condition: a Canary has `Ready`, `Promoted`, `Reconciling`, `Stalled`,
    `AlertsReady`, `FieldsHonored`."""
    status: Literal["True", "False", "Unknown"]
    reason: Annotated[
        str,
        StringConstraints(
            min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
        ),
    ]
    """A CamelCase word for programs, e.g. `InvalidSpec` or `Succeeded`."""
    message: Annotated[str, StringConstraints(max_length=32768)] = ""
    """What happened, for people."""
    last_transition_time: Timestamp
    """When `status` last changed."""
    observed_generation: Int | None = Field(default=None, ge=0)
    """The generation of the spec the condition is about."""


# The status of AlertProviders and MetricTemplates.
class ConditionsStatus(ApiModel):
    """Written by the controller, if at all; kstatus-compatible."""

    observed_generation: Int = Field(default=0, ge=0)
    conditions: Annotated[list[Condition], keyed_list("type", max_items=8)] = Field(
        default_factory=list
    )


class MetricCheck(ApiModel):
    """The latest result of one metric check."""

    name: ShortText
    """The metric's name in spec.analysis.metrics."""
    value: float | None = Field(default=None, json_schema_extra={"nullable": True})
    """The value measured; null when no single finite number could be had (see message)."""
    verdict: Literal["Pass", "Fail"]
    message: Text = ""
    """Why the check failed (no data, NaN, several series, query error), or the comparison."""
    min: float | None = None
    """The lower bound it was judged against."""
    max: float | None = None
    """The upper bound it was judged against."""
    time: Timestamp
    """When the check ran."""

    @model_serializer(mode="wrap")
    def _explicit_null(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # `value: null` says "no number could be had"; leaving the key out would say nothing.
        data: dict[str, Any] = handler(self)
        data.setdefault("value", None)
        return data


class CanaryStatus(ApiModel):
    """Where the rollout is. Written by the controller in one patch per cycle."""

    observed_generation: Int = Field(default=0, ge=0)
    """The generation of the spec this status was computed from."""
    phase: Phase | None = None
    """The phase of the rollout (Flagger's phases)."""
    canary_weight: Int = Field(default=0, ge=0, le=100)
    """Percent of the traffic routed to the canary."""
    failed_checks: Int = Field(default=0, ge=0)
    """Failed checks in the current analysis."""
    iterations: Int = Field(default=0, ge=0)
    """Rounds of checks done in the current analysis (blue/green and A/B)."""
    last_applied_spec: Annotated[str, StringConstraints(max_length=256)] = ""
    """The revision of the target the current (or last) analysis is about."""
    last_promoted_spec: Annotated[str, StringConstraints(max_length=256)] = ""
    """The revision the primary runs: the last one that passed analysis."""
    last_transition_time: Timestamp | None = None
    """When the status last changed."""
    last_step_time: Timestamp | None = None
    """When the weight last moved or checks last ran; paces steps across restarts."""
    phase_since: Timestamp | None = None
    """When the current phase began; the progress deadline counts from it."""
    tracked_configs: Annotated[
        dict[ShortText, Annotated[str, StringConstraints(max_length=256)]],
        Field(max_length=256),
    ] = Field(default_factory=dict)
    """Checksums of the ConfigMaps and Secrets the target uses, as `configmap/<name>` or
    `secret/<name>`."""
    conditions: Annotated[list[Condition], keyed_list("type", max_items=8)] = Field(
        default_factory=list
    )
    """`Ready` (the Canary is valid and healthy), `Promoted` (the last analysis passed),
    `Reconciling` (present while a release is in flight), `Stalled` (present while the
    controller cannot move the Canary: a rolled-back release, an invalid spec, failing cycles)
    `AlertsReady` (False while an alert's AlertProvider cannot be used) and `FieldsHonored`
    (False while the provider ignores fields of other providers the Canary sets)."""
    checks: Annotated[list[MetricCheck], keyed_list("name", max_items=20)] = Field(
        default_factory=list
    )
    """The latest result of every metric check."""

    def condition(self, kind: ConditionType) -> Condition | None:
        """The condition of type `kind`, if the controller has written one."""
        return next((c for c in self.conditions if c.type == kind), None)
