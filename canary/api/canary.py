"""The Canary resource: which Deployment is released progressively, through which router, and how.

A Flagger user moves over by changing `apiVersion`: the spec keeps Flagger's field names and
meanings. Only the providers (routers) and target kinds this controller implements are accepted;
anything else is refused at admission rather than silently handled by a fallback.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

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
)
from canary.api.durations import Duration
from canary.api.foreign import (
    PROVIDER_MAX,
    PROVIDER_RULE,
    PROVIDERS,
    SERVICE_FIELDS,
    SPEC_FIELDS,
    Foreign,
    provider_message,
    schema_extra,
    set_aside,
    set_fields,
)
from canary.api.status import CanaryStatus
from canary.api.urls import is_http_url

# One of PROVIDERS; a string with a CEL rule rather than an enum, so that the refusal names the
# provider ("provider istio is not supported yet; supported providers: ...").
Provider = Annotated[
    str,
    StringConstraints(max_length=PROVIDER_MAX),
    Field(json_schema_extra=cel_rules(PROVIDER_RULE)),
]
# The names of the foreign fields (canary.api.foreign) a spec or service sets, kept out of the
# schema and of what the model writes.
ForeignNames = Annotated[tuple[str, ...], SkipJsonSchema()]
# Their values as written (free-form; the router that applies a field validates it).
ForeignValues = Annotated[dict[str, Any], SkipJsonSchema()]

TARGET_IMMUTABLE_RULE = CelRule(
    rule="self == oldSelf",
    message="targetRef is immutable; create a new Canary",
)
METRICS_SERVER_RULE = CelRule(
    rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && "
    "url(self).getHostname() != ''",
    message="metricsServer must be an absolute http(s) URL",
)
# A Service's targetPort: a port number, or the name of a container port (an IANA_SVC_NAME: at
# most 15 characters of a-z, 0-9 and '-', with a letter, no '--', no '-' at either end).
TARGET_PORT_RULE = CelRule(
    rule="type(self) == int ? self >= 1 && self <= 65535 : "
    "size(self) <= 15 && self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && "
    "self.matches('[a-z]') && !self.contains('--')",
    message="service.targetPort must be a port number (1 to 65535) or a container port's name "
    "(at most 15 characters: a-z, 0-9 and '-', with at least one letter)",
)
_PORT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
SCALER_REPLICAS_RULE = CelRule(
    rule="!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas",
    message="primaryScalerReplicas.minReplicas must be <= primaryScalerReplicas.maxReplicas",
)

# The name of the apex Service; `<name>-primary` must still fit in a DNS label (63).
SERVICE_NAME_MAX = 55
# A DNS-1123 label: what Kubernetes 1.34+ accepts as a Service name (no dots, at most 63).
SERVICE_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
ServiceName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=SERVICE_NAME_MAX, pattern=SERVICE_NAME_PATTERN),
]
# Without service.name, the target's name names the Services: it must be a valid Service name.
TARGET_AS_SERVICE_NAME_RULE = CelRule(
    rule="self.targetRef.kind == 'Service' || (has(self.service) && has(self.service.name)) || "
    f"(size(self.targetRef.name) <= {SERVICE_NAME_MAX} && "
    f"self.targetRef.name.matches('{SERVICE_NAME_PATTERN}'))",
    message=f"targetRef.name must be at most {SERVICE_NAME_MAX} characters of a-z, 0-9 and '-' "
    "(no dots) when service.name is not set: it names the Services <name>, <name>-primary and "
    "<name>-canary (or set service.name)",
)
# A Knative Service (targetRef kind Service) routes itself: no Services are generated for it, so
# `service` may be left out (Flagger's Knative Canaries have none); any other target needs it.
KNATIVE_API_VERSION = "serving.knative.dev/v1"
KNATIVE_KIND = "Service"
KNATIVE_PROVIDER = "knative"
SERVICE_REQUIRED_RULE = CelRule(
    rule="has(self.service) || self.targetRef.kind == 'Service'",
    message="service is required (service.port: the port of the generated Services) unless the "
    "target is a Knative Service (targetRef kind Service)",
)
KNATIVE_TARGET_RULE = CelRule(
    rule=f"self.kind != '{KNATIVE_KIND}' || "
    f"(has(self.apiVersion) && self.apiVersion == '{KNATIVE_API_VERSION}')",
    message=f"targetRef kind Service must be a Knative Service (apiVersion {KNATIVE_API_VERSION})"
    "; a core Service cannot be released",
)
KNATIVE_PROVIDER_RULE = CelRule(
    rule=f"!has(self.provider) || (self.provider == '{KNATIVE_PROVIDER}') == "
    f"(self.targetRef.kind == '{KNATIVE_KIND}')",
    message="provider knative releases a Knative Service (targetRef kind Service, apiVersion "
    f"{KNATIVE_API_VERSION}), and a Knative Service is released only with provider knative",
)
# `<name>-primary` (the primary Deployment, the primary's HPA) must fit in 253 characters.
PRIMARY_COPY_NAME_MAX = 245
PortNumber = Annotated[Int, Field(ge=1, le=65535)]


def _copy_name_rule(field: str) -> CelRule:
    return CelRule(
        rule=f"size(self) <= {PRIMARY_COPY_NAME_MAX}",
        message=f"{field} must be at most {PRIMARY_COPY_NAME_MAX} characters: the controller "
        "names its copy <name>-primary, and an object name has at most 253",
    )


TARGET_NAME_RULE = _copy_name_rule("targetRef.name")
AUTOSCALER_NAME_RULE = _copy_name_rule("autoscalerRef.name")


def _fits_a_copy(name: str, rule: CelRule) -> str:
    if len(name) > PRIMARY_COPY_NAME_MAX:
        raise ValueError(rule.message)
    return name


class TargetRef(ApiModel):
    """The workload released progressively. Immutable: a new target needs a new Canary."""

    api_version: ShortText = "apps/v1"
    kind: Literal["Deployment", "DaemonSet", "Service"]
    """Deployment, DaemonSet, or Service: a Knative Service (serving.knative.dev/v1)."""
    name: ObjectName = Field(json_schema_extra=cel_rules(TARGET_NAME_RULE))

    model_config = ConfigDict(json_schema_extra=cel_rules(KNATIVE_TARGET_RULE))

    @model_validator(mode="after")
    def _knative_service(self) -> TargetRef:
        if self.kind == KNATIVE_KIND and self.api_version != KNATIVE_API_VERSION:
            raise ValueError(KNATIVE_TARGET_RULE.message)
        return self

    @field_validator("name")
    @classmethod
    def _name_fits(cls, name: str) -> str:
        return _fits_a_copy(name, TARGET_NAME_RULE)


class ScalerReplicas(ApiModel):
    """Bounds for the primary's autoscaler in place of the target's own (Flagger's names)."""

    min_replicas: Annotated[Int, Field(ge=1)] | None = None
    """The primary's minReplicas (minReplicaCount); the target autoscaler's when left out."""
    max_replicas: Annotated[Int, Field(ge=1)] | None = None
    """The primary's maxReplicas (maxReplicaCount); the target autoscaler's when left out."""

    model_config = ConfigDict(json_schema_extra=cel_rules(SCALER_REPLICAS_RULE))

    @model_validator(mode="after")
    def _ordered(self) -> ScalerReplicas:
        low, high = self.min_replicas, self.max_replicas
        if low is not None and high is not None and low > high:
            raise ValueError(SCALER_REPLICAS_RULE.message)
        return self


class AutoscalerRef(ApiModel):
    """The target's autoscaler: a HorizontalPodAutoscaler or a KEDA ScaledObject
    (keda.sh/v1alpha1). The controller gives the primary a copy of it, `<name>-primary`."""

    api_version: ShortText = "autoscaling/v2"
    kind: Literal["HorizontalPodAutoscaler", "ScaledObject"]
    name: ObjectName = Field(json_schema_extra=cel_rules(AUTOSCALER_NAME_RULE))
    primary_scaler_replicas: ScalerReplicas | None = None
    """Replica bounds of the primary's copy, when they differ from the target autoscaler's."""
    primary_scaler_queries: StringMap | None = None
    """ScaledObject only: the query of each named trigger of the primary's copy, by trigger
    name. Without it, every trigger's query is copied with the target's name (and
    `<target>-canary`) replaced by `<target>-primary`, as Flagger does."""

    @field_validator("name")
    @classmethod
    def _name_fits(cls, name: str) -> str:
        return _fits_a_copy(name, AUTOSCALER_NAME_RULE)


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
    target_port: Int | str | None = Field(
        default=None, json_schema_extra=cel_rules(TARGET_PORT_RULE)
    )
    """Container port the Services send to, by number (1 to 65535) or by name (`http`); `port`
    when left out."""
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
    """Hostnames of the route (Gateway API, Istio; other providers warn that they do not apply
    them)."""
    gateway_refs: Annotated[list[GatewayRef], Field(max_length=16)] = Field(default_factory=list)
    """Gateways the HTTPRoute attaches to (gatewayapi); without any, the HTTPRoute attaches to
    the apex Service itself (service-mesh routing, e.g. Linkerd 2.14+)."""
    timeout: Duration | None = None
    """Request timeout set on the route (Gateway API, Istio, Contour)."""
    headers: Headers | None = None
    """Header changes applied by the route (Gateway API, Istio, Contour)."""

    foreign_fields: ForeignNames = Field(default=(), exclude=True)
    """Flagger's fields of other providers it sets (see canary.api.foreign)."""
    foreign_values: ForeignValues = Field(default_factory=dict, exclude=True)
    """Their values, as written."""

    model_config = ConfigDict(json_schema_extra=schema_extra(SERVICE_FIELDS))

    @model_validator(mode="before")
    @classmethod
    def _foreign_fields(cls, data: object) -> object:
        return set_aside(SERVICE_FIELDS, data)

    @field_validator("target_port")
    @classmethod
    def _port_number_or_name(cls, port: int | str | None) -> int | str | None:
        if port is not None and not is_target_port(port):
            raise ValueError(TARGET_PORT_RULE.message)
        return port


def is_target_port(port: int | str) -> bool:
    """The Python twin of TARGET_PORT_RULE."""
    if isinstance(port, int):
        return 1 <= port <= 65535
    return (
        len(port) <= 15
        and _PORT_NAME.fullmatch(port) is not None
        and any("a" <= c <= "z" for c in port)
        and "--" not in port
    )


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
    service: Service = Field(default_factory=lambda: Service(port=80))
    """The Services (and route) the controller generates; none for a Knative target."""
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

    foreign_fields: ForeignNames = Field(default=(), exclude=True)
    """Flagger's fields of other providers it sets (see canary.api.foreign)."""
    foreign_values: ForeignValues = Field(default_factory=dict, exclude=True)
    """Their values, as written."""

    model_config = ConfigDict(
        json_schema_extra=schema_extra(
            SPEC_FIELDS,
            TARGET_AS_SERVICE_NAME_RULE,
            SERVICE_REQUIRED_RULE,
            KNATIVE_PROVIDER_RULE,
            provider_rules=(*SPEC_FIELDS, *SERVICE_FIELDS),
        )
    )

    @model_validator(mode="before")
    @classmethod
    def _foreign_fields(cls, data: object) -> object:
        return set_aside(SPEC_FIELDS, data)

    @model_validator(mode="before")
    @classmethod
    def _service_required(cls, data: object) -> object:
        """The twin of SERVICE_REQUIRED_RULE: only a Knative target may leave `service` out."""
        if isinstance(data, dict) and "service" not in data:
            target = data.get("targetRef") or data.get("target_ref")
            kind = target.get("kind") if isinstance(target, dict) else None
            if kind != KNATIVE_KIND:
                raise ValueError(SERVICE_REQUIRED_RULE.message)
        return data

    @model_validator(mode="after")
    def _knative_provider(self) -> CanarySpec:
        """The twin of KNATIVE_PROVIDER_RULE."""
        knative_target = self.target_ref.kind == KNATIVE_KIND
        if self.provider is not None and (self.provider == KNATIVE_PROVIDER) != knative_target:
            raise ValueError(KNATIVE_PROVIDER_RULE.message)
        return self

    @field_validator("provider")
    @classmethod
    def _supported_provider(cls, provider: str | None) -> str | None:
        if provider is not None and provider not in PROVIDERS:
            raise ValueError(provider_message(provider))
        return provider

    @model_validator(mode="after")
    def _foreign_fields_applied(self) -> CanarySpec:
        """The twin of the CEL rules refusing a field Flagger applies with the named provider."""
        if self.provider is not None:
            for foreign in self.foreign:
                if foreign.refused(self.provider):
                    raise ValueError(foreign.message)
        return self

    @property
    def provider_fields(self) -> dict[str, Any]:
        """The values of the foreign fields this spec sets, by path (`spec.ingressRef`,
        `spec.service.trafficPolicy`), as written: the routers that apply them read them here."""
        values = {f"spec.{name}": value for name, value in self.foreign_values.items()}
        service = self.service.foreign_values.items()
        values.update({f"spec.service.{name}": value for name, value in service})
        return values

    @property
    def foreign(self) -> list[Foreign]:
        """The fields of other providers this spec sets, in the table's order."""
        return set_fields(self.foreign_fields, self.service.foreign_fields)

    @model_validator(mode="after")
    def _services_can_be_named(self) -> CanarySpec:
        name = self.target_ref.name
        if (
            self.target_ref.kind != KNATIVE_KIND
            and self.service.name is None
            and (len(name) > SERVICE_NAME_MAX or not re.fullmatch(SERVICE_NAME_PATTERN, name))
        ):
            raise ValueError(TARGET_AS_SERVICE_NAME_RULE.message)
        return self

    @field_validator("metrics_server")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not is_http_url(url):
            raise ValueError(METRICS_SERVER_RULE.message)
        return url

    @property
    def service_name(self) -> str:
        """The apex Service's name: `service.name`, else the target's name; a Knative target's
        own name always (the Knative Service is the address clients use, and the route)."""
        if self.target_ref.kind == KNATIVE_KIND:
            return self.target_ref.name
        return self.service.name or self.target_ref.name


class Canary(ApiModel):
    """A Deployment released progressively: `kubectl get canaries`."""

    api_version: Literal["canary.dev/v1alpha1"] = API_VERSION
    kind: Literal["Canary"] = "Canary"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: CanarySpec
    status: CanaryStatus = Field(default_factory=CanaryStatus)
