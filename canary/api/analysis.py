"""`spec.analysis` of a Canary: pacing, steps, metric checks, webhooks and alerts.

Field names and meanings are Flagger's. What differs is that mistakes are refused at admission
with a message that names the field (CEL rules below), instead of being coerced or defaulted
silently, and that each rule is checked again in Python with the same message, so the controller
can report an object that an older CRD let through.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from canary.api.base import (
    ApiModel,
    Bool,
    CelRule,
    Int,
    NamespaceName,
    ObjectName,
    ShortText,
    StringMap,
    Text,
    Url,
    cel_rules,
    keyed_list,
)
from canary.api.durations import (
    PROMETHEUS_DURATION_PATTERN,
    Duration,
    PrometheusDuration,
    cel_is_duration,
    parse_duration,
)
from canary.api.urls import is_http_url

BUILTIN_METRICS = ("request-success-rate", "request-duration")

INTERVAL_RULE = CelRule(
    rule=f"{cel_is_duration('self')} && "
    "duration(self) >= duration('1s') && duration(self) <= duration('1h')",
    message='analysis.interval must be a duration between 1s and 1h, e.g. "30s"',
)
STEP_MODE_RULE = CelRule(
    rule="[has(self.stepWeight), has(self.stepWeights), has(self.iterations)]"
    ".filter(x, x).size() == 1",
    message="exactly one of analysis.stepWeight, analysis.stepWeights or analysis.iterations "
    "must be set",
)
STEP_WEIGHT_RULE = CelRule(
    rule="!has(self.stepWeight) || !has(self.maxWeight) || self.stepWeight <= self.maxWeight",
    message="analysis.stepWeight must be <= analysis.maxWeight",
)
STEP_WEIGHTS_RULE = CelRule(
    rule="self.isSorted()",
    message="analysis.stepWeights must be in ascending order",
)
MATCH_RULE = CelRule(
    rule="!has(self.match) || size(self.match) == 0 || has(self.iterations)",
    message="analysis.match needs analysis.iterations (A/B testing counts iterations)",
)
MIRROR_RULE = CelRule(
    rule="!has(self.mirror) || !self.mirror || "
    "(has(self.iterations) && (!has(self.match) || size(self.match) == 0))",
    message="analysis.mirror needs analysis.iterations without match (blue/green)",
)
# The longest window a metric check may look back over. A check judges the canary's recent
# traffic; a day is longer than any analysis step (at most 1h) or progress deadline (at most
# 24h), while a longer range makes Prometheus read days of samples at every check, until it hits
# its query limits mid-release (docs/canary.md, "Validation at admission").
METRIC_INTERVAL_LIMIT = "24h"
METRIC_INTERVAL_RULE = CelRule(
    rule=f"{cel_is_duration('self', PROMETHEUS_DURATION_PATTERN)} && "
    f"duration(self) > duration('0s') && duration(self) <= duration('{METRIC_INTERVAL_LIMIT}')",
    message=f"metric interval must be a duration above 0s and at most {METRIC_INTERVAL_LIMIT}, "
    'e.g. "1m"',
)
WEBHOOK_TIMEOUT_POSITIVE_RULE = CelRule(
    rule=f"!{cel_is_duration('self')} || duration(self) > duration('0s')",
    message='webhook timeout must be longer than 0s, e.g. "10s"',
)
THRESHOLD_RANGE_RULE = CelRule(
    rule="!has(self.min) || !has(self.max) || self.min <= self.max",
    message="thresholdRange.min must be <= thresholdRange.max",
)
METRIC_SOURCE_RULE = CelRule(
    rule="self.name in ['request-success-rate', 'request-duration'] ? "
    "!(has(self.query) && has(self.templateRef)) : has(self.query) != has(self.templateRef)",
    message="a metric needs exactly one of query or templateRef; only request-success-rate and "
    "request-duration may have neither",
)
METRIC_RANGE_RULE = CelRule(
    rule="has(self.threshold) || (has(self.thresholdRange) && (has(self.thresholdRange.min) || "
    "has(self.thresholdRange.max)))",
    message="a metric needs a thresholdRange with min, max or both (or Flagger's threshold)",
)
WEBHOOK_URL_RULE = CelRule(
    rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && "
    "url(self).getHostname() != ''",
    message="webhook url must be an absolute http(s) URL",
)
STRING_MATCH_RULE = CelRule(
    rule="[has(self.exact), has(self.prefix), has(self.suffix), has(self.regex)]"
    ".filter(x, x).size() == 1",
    message="a match needs exactly one of exact, prefix, suffix or regex",
)

SESSION_COOKIES_RULE = CelRule(
    rule="!has(self.primaryCookieName) || self.primaryCookieName != self.cookieName",
    message="sessionAffinity.primaryCookieName must differ from sessionAffinity.cookieName",
)

WebhookType = Literal[
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-traffic-increase",
    "confirm-promotion",
    "post-rollout",
    "rollback",
    "event",
]
Severity = Literal["info", "warn", "error"]
# Values are pasted into PromQL; this alphabet cannot close a label matcher or start a new one.
TemplateVariable = Annotated[str, StringConstraints(max_length=253, pattern=r"^[A-Za-z0-9_.:/-]*$")]
Weight = Annotated[Int, Field(ge=1, le=100)]
# A cookie name (an RFC 6265 token), and a cookie attribute's value (no separator, no space).
CookieName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
]
CookieAttribute = Annotated[
    str, StringConstraints(min_length=1, max_length=253, pattern=r"^[^;,\s]+$")
]


class ThresholdRange(ApiModel):
    """The range a metric's value must stay in; a bound left out is not checked."""

    min: float | None = None
    """Lowest passing value (inclusive)."""
    max: float | None = None
    """Highest passing value (inclusive)."""

    model_config = ConfigDict(json_schema_extra=cel_rules(THRESHOLD_RANGE_RULE))

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(THRESHOLD_RANGE_RULE.message)
        return self


class TemplateRef(ApiModel):
    """A MetricTemplate, by name; in the Canary's namespace unless `namespace` is given."""

    name: ObjectName
    namespace: NamespaceName | None = None


class Metric(ApiModel):
    """One check run every interval: a builtin metric, an inline query, or a MetricTemplate."""

    name: ShortText
    """Unique in the list. `request-success-rate` (percent) and `request-duration` (milliseconds)
    are builtin and need no query."""
    interval: PrometheusDuration = Field(
        default="1m", json_schema_extra=cel_rules(METRIC_INTERVAL_RULE)
    )
    """The range of the query (`{{ interval }}` in templates): a Prometheus duration above 0s
    and at most 24h (`30s`, `1m`, `1h30m`)."""
    threshold_range: ThresholdRange | None = None
    """The range the value must stay in; a value outside it is a failed check."""
    threshold: float | None = None
    """Flagger's older single bound, used when thresholdRange sets neither min nor max: a
    minimum for request-success-rate, a maximum for every other metric."""
    query: Annotated[str, StringConstraints(min_length=1, max_length=8192)] | None = None
    """Inline PromQL, run against the controller's Prometheus (or spec.metricsServer)."""
    template_ref: TemplateRef | None = None
    """The MetricTemplate whose query and provider this check uses."""
    template_variables: Annotated[dict[ShortText, TemplateVariable], Field(max_length=16)] = Field(
        default_factory=dict
    )
    """Values for `{{ variables.<key> }}` in the template."""

    model_config = ConfigDict(json_schema_extra=cel_rules(METRIC_SOURCE_RULE, METRIC_RANGE_RULE))

    @field_validator("interval")
    @classmethod
    def _interval_in_range(cls, interval: str) -> str:
        if not 0.0 < parse_duration(interval) <= parse_duration(METRIC_INTERVAL_LIMIT):
            raise ValueError(METRIC_INTERVAL_RULE.message)
        return interval

    @model_validator(mode="after")
    def _one_source_and_a_range(self) -> Metric:
        has_query, has_template = self.query is not None, self.template_ref is not None
        if self.name in BUILTIN_METRICS:
            if has_query and has_template:
                raise ValueError(METRIC_SOURCE_RULE.message)
        elif has_query == has_template:
            raise ValueError(METRIC_SOURCE_RULE.message)
        bounds = self.threshold_range
        ranged = bounds is not None and (bounds.min is not None or bounds.max is not None)
        if not ranged and self.threshold is None:
            raise ValueError(METRIC_RANGE_RULE.message)
        return self

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """(min, max) the value is judged against: thresholdRange's, else `threshold` as Flagger
        reads it (a minimum for request-success-rate, a maximum otherwise)."""
        bounds = self.threshold_range
        if bounds is not None and (bounds.min is not None or bounds.max is not None):
            return bounds.min, bounds.max
        if self.threshold is None:
            return None, None
        if self.name == "request-success-rate":
            return self.threshold, None
        return None, self.threshold


class SessionAffinity(ApiModel):
    """Sticky canary sessions (Gateway API): a client the canary answered once gets a cookie and
    keeps being sent to the canary for the rest of the analysis (Flagger's semantics)."""

    cookie_name: CookieName
    """The cookie that sends a client back to the canary."""
    primary_cookie_name: CookieName | None = None
    """Optional: a cookie that keeps a client the primary answered on the primary (for one
    analysis interval)."""
    max_age: Int = Field(default=86400, ge=0, le=31536000)
    """Seconds the canary cookie lasts (0: 86400, as in Flagger)."""
    domain: CookieAttribute | None = None
    """The cookies' Domain attribute."""
    path: CookieAttribute | None = None
    """The cookies' Path attribute."""
    http_only: Bool = False
    """The cookies' HttpOnly attribute."""
    secure: Bool = False
    """The cookies' Secure attribute."""
    same_site: Literal["Strict", "Lax", "None"] | None = None
    """The cookies' SameSite attribute."""
    partitioned: Bool = False
    """The cookies' Partitioned attribute."""

    model_config = ConfigDict(json_schema_extra=cel_rules(SESSION_COOKIES_RULE))

    @model_validator(mode="after")
    def _distinct(self) -> SessionAffinity:
        if self.primary_cookie_name == self.cookie_name:
            raise ValueError(SESSION_COOKIES_RULE.message)
        return self


class Webhook(ApiModel):
    """An HTTP call made at a point of the rollout; gates (confirm-*) block until it succeeds."""

    name: ShortText
    """Unique in the list."""
    type: WebhookType = "rollout"
    """When it is called and what its answer means (Flagger's webhook types)."""
    url: Url = Field(json_schema_extra=cel_rules(WEBHOOK_URL_RULE))
    """Absolute http(s) URL; redirects are not followed."""
    timeout: Duration | None = Field(
        default=None, json_schema_extra=cel_rules(WEBHOOK_TIMEOUT_POSITIVE_RULE)
    )
    """Per attempt, longer than 0s; 10s when left out. May be longer than analysis.interval, as
    in Flagger: a slow call only delays the step (the interval is a minimum between steps)."""
    retries: Int = Field(default=0, ge=0, le=5)
    """Further attempts after a connection error, 429 or 5xx."""
    metadata: StringMap = Field(default_factory=dict)
    """Sent as `metadata` in the payload."""
    mute_alert: Bool = False
    """Do not send an alert when this webhook fails."""
    disable_tls: Bool = Field(default=False, alias="disableTLS")
    """Skip TLS certificate verification."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not is_http_url(url):
            raise ValueError(WEBHOOK_URL_RULE.message)
        return url

    @field_validator("timeout")
    @classmethod
    def _positive_timeout(cls, timeout: str | None) -> str | None:
        if timeout is not None and parse_duration(timeout) <= 0.0:
            raise ValueError(WEBHOOK_TIMEOUT_POSITIVE_RULE.message)
        return timeout

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout) if self.timeout is not None else 10.0


class ProviderRef(ApiModel):
    """An AlertProvider, by name; in the Canary's namespace unless `namespace` is given."""

    name: ObjectName
    namespace: NamespaceName | None = None


class Alert(ApiModel):
    """Where to send notifications about this Canary, and from which severity on."""

    name: ShortText
    """Unique in the list."""
    severity: Severity = "info"
    provider_ref: ProviderRef


class StringMatch(ApiModel):
    """How a header or query parameter must look; exactly one field is set."""

    exact: Text | None = None
    prefix: Text | None = None
    suffix: Text | None = None
    regex: Text | None = None

    model_config = ConfigDict(json_schema_extra=cel_rules(STRING_MATCH_RULE))

    @model_validator(mode="after")
    def _exactly_one(self) -> StringMatch:
        given = [self.exact, self.prefix, self.suffix, self.regex]
        if sum(value is not None for value in given) != 1:
            raise ValueError(STRING_MATCH_RULE.message)
        return self


class MatchRequest(ApiModel):
    """Requests that go to the canary during an A/B analysis (all conditions must hold)."""

    headers: Annotated[dict[ShortText, StringMatch], Field(max_length=16)] = Field(
        default_factory=dict
    )
    query_params: Annotated[dict[ShortText, StringMatch], Field(max_length=16)] = Field(
        default_factory=dict
    )
    source_labels: StringMap = Field(default_factory=dict)
    """Istio only: requests sent by the pods that carry these labels (Istio's sourceLabels)."""


class Analysis(ApiModel):
    """How a new revision is judged and how traffic moves to it.

    Exactly one of stepWeight (canary, linear steps), stepWeights (canary, listed steps) or
    iterations (blue/green, or A/B with `match`) is set.
    """

    interval: Duration = Field(json_schema_extra=cel_rules(INTERVAL_RULE))
    """Time between two steps (and between two rounds of checks), 1s to 1h."""
    threshold: Int = Field(default=1, ge=1, le=100)
    """Failed checks after which the canary is rolled back."""
    iterations: Int | None = Field(default=None, ge=1, le=1000)
    """Rounds of checks before promotion (blue/green and A/B)."""
    max_weight: Weight | None = None
    """Highest canary weight (percent) before promotion; 100 when left out."""
    step_weight: Weight | None = None
    """Weight added at each step (percent)."""
    step_weights: (
        Annotated[
            list[Weight],
            Field(
                min_length=1,
                max_length=20,
                json_schema_extra={"x-kubernetes-list-type": "set"} | cel_rules(STEP_WEIGHTS_RULE),
            ),
        ]
        | None
    ) = None
    """Canary weights in the order they are reached, ascending; the last is the maximum."""
    step_weight_promotion: Weight | None = None
    """Weight moved back to the primary at each step of promotion; all at once when left out."""
    mirror: Bool = False
    """Mirror traffic to the canary before shifting any (routers that support it)."""
    mirror_weight: Int | None = Field(default=None, ge=0, le=100)
    """Share of the traffic that is mirrored (percent)."""
    primary_ready_threshold: Int = Field(default=100, ge=0, le=100)
    """Percent of the primary's replicas that must be available for it to count as ready."""
    canary_ready_threshold: Int = Field(default=100, ge=0, le=100)
    """Percent of the canary's replicas that must be available for it to count as ready."""
    match: Annotated[list[MatchRequest], Field(max_length=10)] = Field(default_factory=list)
    """A/B: the requests routed to the canary (with `iterations`)."""
    metrics: Annotated[list[Metric], keyed_list("name", max_items=20)] = Field(default_factory=list)
    """Checks run every interval; any failure counts towards `threshold`."""
    webhooks: Annotated[list[Webhook], keyed_list("name", max_items=20)] = Field(
        default_factory=list
    )
    """Calls made at points of the rollout (gates, load tests, notifications)."""
    alerts: Annotated[list[Alert], keyed_list("name", max_items=10)] = Field(default_factory=list)
    """Notifications of this Canary's progress."""
    session_affinity: SessionAffinity | None = None
    """Sticky canary sessions by cookie (gatewayapi providers)."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(STEP_MODE_RULE, STEP_WEIGHT_RULE, MATCH_RULE, MIRROR_RULE)
    )

    @field_validator("interval")
    @classmethod
    def _interval_in_range(cls, interval: str) -> str:
        if not 1.0 <= parse_duration(interval) <= 3600.0:
            raise ValueError(INTERVAL_RULE.message)
        return interval

    @field_validator("step_weights")
    @classmethod
    def _ascending(cls, weights: list[int] | None) -> list[int] | None:
        if weights is not None and any(a > b for a, b in pairwise(weights)):  # as isSorted()
            raise ValueError(STEP_WEIGHTS_RULE.message)
        return weights

    @model_validator(mode="after")
    def _consistent(self) -> Analysis:
        modes = [self.step_weight, self.step_weights, self.iterations]
        if sum(mode is not None for mode in modes) != 1:
            raise ValueError(STEP_MODE_RULE.message)
        if (
            self.step_weight is not None
            and self.max_weight is not None
            and self.step_weight > self.max_weight
        ):
            raise ValueError(STEP_WEIGHT_RULE.message)
        if self.match and self.iterations is None:
            raise ValueError(MATCH_RULE.message)
        if self.mirror and (self.iterations is None or self.match):
            raise ValueError(MIRROR_RULE.message)
        return self

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.interval)
