"""The Canary resource: which Deployment is released progressively, through which router, and how.

A Flagger user moves over by changing `apiVersion`: the spec keeps Flagger's field names and
meanings. Only the providers (routers) and target kinds this controller implements are accepted;
anything else is refused at admission rather than silently handled by a fallback.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from canary.api.analysis import Analysis
from canary.api.base import (
    API_VERSION,
    ApiModel,
    Bool,
    CelRule,
    Int,
    NamespaceName,
    ObjectMeta,
    ObjectName,
    ShortText,
    StringMap,
    Url,
    cel_rules,
    is_http_url,
)
from canary.api.durations import Duration
from canary.api.foreign import SERVICE_FIELDS, SPEC_FIELDS, refuse, schema_extra
from canary.api.status import CanaryStatus

Provider = Literal[
    "linkerd",
    "smi:v1alpha1",
    "smi:v1alpha2",
    "smi:v1alpha3",
    "smi:v1alpha4",
    "kubernetes",
    "gatewayapi:v1",
    "gatewayapi:v1beta1",
]

TARGET_IMMUTABLE_RULE = CelRule(
    rule="self == oldSelf",
    message="targetRef is immutable; create a new Canary",
)
METRICS_SERVER_RULE = CelRule(
    rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && "
    "url(self).getHostname() != ''",
    message="metricsServer must be an absolute http(s) URL",
)
SCALER_REPLICAS_RULE = CelRule(
    rule="!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas",
    message="primaryScalerReplicas.minReplicas must be <= primaryScalerReplicas.maxReplicas",
)

# The name of the apex Service; `<name>-primary` must still fit in a DNS label (63).
ServiceName = Annotated[
    str, StringConstraints(min_length=1, max_length=55, pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
]
PortNumber = Annotated[Int, Field(ge=1, le=65535)]


class TargetRef(ApiModel):
    """The workload released progressively. Immutable: a new target needs a new Canary."""

    api_version: ShortText = "apps/v1"
    kind: Literal["Deployment"]
    name: ObjectName


class ScalerReplicas(ApiModel):
    """Bounds for the primary's HPA in place of the target HPA's own (Flagger's names)."""

    min_replicas: Annotated[Int, Field(ge=1)] | None = None
    """The primary HPA's minReplicas; the target HPA's when left out."""
    max_replicas: Annotated[Int, Field(ge=1)] | None = None
    """The primary HPA's maxReplicas; the target HPA's when left out."""

    model_config = ConfigDict(json_schema_extra=cel_rules(SCALER_REPLICAS_RULE))

    @model_validator(mode="after")
    def _ordered(self) -> ScalerReplicas:
        low, high = self.min_replicas, self.max_replicas
        if low is not None and high is not None and low > high:
            raise ValueError(SCALER_REPLICAS_RULE.message)
        return self


class AutoscalerRef(ApiModel):
    """The target's HorizontalPodAutoscaler; the controller gives the primary a copy of it."""

    api_version: ShortText = "autoscaling/v2"
    kind: Literal["HorizontalPodAutoscaler"]
    name: ObjectName
    primary_scaler_replicas: ScalerReplicas | None = None
    """Replica bounds of the primary's copy, when they differ from the target HPA's."""


class GatewayRef(ApiModel):
    """A Gateway API parent reference: the Gateway (or listener) the HTTPRoute attaches to."""

    group: ShortText = "gateway.networking.k8s.io"
    kind: ShortText = "Gateway"
    name: ObjectName
    namespace: NamespaceName | None = None
    section_name: ShortText | None = None
    port: PortNumber | None = None


class HeaderOperations(ApiModel):
    """Header changes applied by the route (Gateway API header filters)."""

    add: StringMap = Field(default_factory=dict)
    set: StringMap = Field(default_factory=dict)
    remove: Annotated[list[ShortText], Field(max_length=32)] = Field(default_factory=list)


class Headers(ApiModel):
    request: HeaderOperations | None = None
    response: HeaderOperations | None = None


class CustomMetadata(ApiModel):
    """Labels and annotations added to one generated object (Flagger's `CustomMetadata`)."""

    labels: StringMap = Field(default_factory=dict)
    annotations: StringMap = Field(default_factory=dict)


class Service(ApiModel):
    """The Services the controller generates: `<name>`, `<name>-primary`, `<name>-canary`."""

    name: ServiceName | None = None
    """Name of the apex Service; the target's name when left out."""
    port: PortNumber
    """Port of the generated Services."""
    port_name: Annotated[str, StringConstraints(min_length=1, max_length=15)] = "http"
    """Name of that port."""
    target_port: (
        Annotated[Int, Field(ge=1, le=65535)]
        | Annotated[str, StringConstraints(min_length=1, max_length=15)]
        | None
    ) = None
    """Container port (number or name) the Services send to; `port` when left out."""
    app_protocol: ShortText | None = None
    """The port's appProtocol (e.g. `http`, `kubernetes.io/h2c`)."""
    port_discovery: Bool = False
    """Also expose every other container port of the target on the generated Services (mesh
    proxies' excepted), named after the container port, or `tcp-<container>-<index>`."""
    apex: CustomMetadata | None = None
    """Labels and annotations of the apex Service (`<name>`)."""
    primary: CustomMetadata | None = None
    """Labels and annotations of the `<name>-primary` Service."""
    canary: CustomMetadata | None = None
    """Labels and annotations of the `<name>-canary` Service."""
    hosts: Annotated[list[ShortText], Field(max_length=16)] = Field(default_factory=list)
    """Hostnames of the route (Gateway API); SMI uses the first as the TrafficSplit's service."""
    gateway_refs: Annotated[list[GatewayRef], Field(max_length=16)] = Field(default_factory=list)
    """Gateways the HTTPRoute attaches to (gatewayapi); without any, the HTTPRoute attaches to
    the apex Service itself (service-mesh routing, e.g. Linkerd 2.14+)."""
    timeout: Duration | None = None
    """Request timeout set on the route (Gateway API)."""
    headers: Headers | None = None
    """Header changes applied by the route (Gateway API)."""

    model_config = ConfigDict(json_schema_extra=schema_extra(SERVICE_FIELDS))

    @model_validator(mode="before")
    @classmethod
    def _no_foreign_fields(cls, data: object) -> object:
        return refuse(SERVICE_FIELDS, data)


class CanarySpec(ApiModel):
    """What to release progressively, and how."""

    provider: Provider | None = None
    """The router: linkerd or smi:* (SMI TrafficSplit), gatewayapi:* (HTTPRoute), kubernetes
    (blue/green with Services). The controller's default when left out."""
    metrics_server: Url | None = Field(
        default=None, json_schema_extra=cel_rules(METRICS_SERVER_RULE)
    )
    """Prometheus URL for builtin metrics and inline queries; the controller's when left out."""
    target_ref: TargetRef = Field(json_schema_extra=cel_rules(TARGET_IMMUTABLE_RULE))
    """The Deployment released progressively."""
    autoscaler_ref: AutoscalerRef | None = None
    """The target's HPA, copied for the primary."""
    service: Service
    """The Services (and route) the controller generates."""
    analysis: Analysis
    """How each new revision is judged and how traffic moves to it."""
    progress_deadline_seconds: Int = Field(default=600, ge=10, le=86400)
    """Seconds a phase may wait on workloads that do not become ready before the rollout fails."""
    skip_analysis: Bool = False
    """Promote new revisions without analysis."""
    suspend: Bool = False
    """Do nothing for this Canary until set back to false."""
    revert_on_deletion: Bool = False
    """On deletion, point traffic and the target back to the primary's version first."""

    model_config = ConfigDict(json_schema_extra=schema_extra(SPEC_FIELDS))

    @model_validator(mode="before")
    @classmethod
    def _no_foreign_fields(cls, data: object) -> object:
        return refuse(SPEC_FIELDS, data)

    @field_validator("metrics_server")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not is_http_url(url):
            raise ValueError(METRICS_SERVER_RULE.message)
        return url

    @property
    def service_name(self) -> str:
        """The apex Service's name: `service.name`, else the target's name."""
        return self.service.name or self.target_ref.name


class Canary(ApiModel):
    """A Deployment released progressively: `kubectl get canaries`."""

    api_version: Literal["canary.dev/v1alpha1"] = API_VERSION
    kind: Literal["Canary"] = "Canary"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: CanarySpec
    status: CanaryStatus = Field(default_factory=CanaryStatus)
