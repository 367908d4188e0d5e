"""What a Canary asks of its router, in plain values: the one input every router is built from.

`controller/routing.py` reads the Canary's spec into a `RouteSettings`; a router reads only the
settings it applies and refuses, with a ValueError naming the field and the provider, a setting
it cannot apply. Provider-specific fields that Flagger defines for other routers
(`spec.service.trafficPolicy`, `spec.ingressRef`, ...) arrive as written, by path, in `fields`:
the router that applies one validates it. The controller's own routing flags
(`ControllerRouting`) ride along in `controller`, the same for every Canary. This module holds
shapes only; it must not build objects nor know any router.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from canary.api.analysis import MatchRequest
from canary.api.canary import Headers
from canary.routers.sticky import Affinity

DEFAULT_INGRESS_ANNOTATIONS_PREFIX: Final = "nginx.ingress.kubernetes.io"


@dataclass(frozen=True)
class ControllerRouting:
    """What the controller's flags say about routing, the same for every Canary (Flagger's
    `-ingress-annotations-prefix` and `-ingress-class`).

    `ingress_annotations_prefix` is the prefix of ingress-nginx's canary annotations (its
    `--annotations-prefix`); `ingress_class` the class Contour's HTTPProxies are given (empty:
    none, every Contour serves them).
    """

    ingress_annotations_prefix: str = DEFAULT_INGRESS_ANNOTATIONS_PREFIX
    ingress_class: str = ""


@dataclass(frozen=True)
class ObjectRef:
    """A reference to an object the user owns (`spec.ingressRef`, `spec.routeRef`, ...)."""

    api_version: str
    kind: str
    name: str


@dataclass(frozen=True)
class RouteSettings:
    """Everything of one Canary a router may honour.

    `port` is the generated Services' port; `timeout` is `service.timeout` as written (`30s`);
    `matches` are `analysis.match` (A/B testing); `mirror_percent` is `analysis.mirrorWeight`
    (None: every request mirrored while `analysis.mirror` is on); `fields` holds Flagger's
    provider-specific fields as written, keyed by path (`spec.service.gateways`).
    """

    provider: str
    port: int = 80
    port_name: str = "http"
    target_port: int | str | None = None
    app_protocol: str | None = None  # `service.appProtocol` (Istio routes `tcp` as TCP)
    port_discovery: bool = False  # `service.portDiscovery`: the Services have several ports
    hosts: tuple[str, ...] = ()
    gateway_refs: tuple[Mapping[str, Any], ...] = ()
    timeout: str | None = None
    headers: Headers | None = None
    matches: tuple[MatchRequest, ...] = ()
    mirror_percent: int | None = None
    affinity: Affinity | None = None
    interval_seconds: float = 60.0
    # `service.apex`'s labels and annotations, which Flagger puts on the route object too.
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, Any] = field(default_factory=dict)
    # The Canary's own annotations (Flagger reads `kuma.io/mesh` there).
    canary_annotations: Mapping[str, str] = field(default_factory=dict)
    # The controller's routing flags (not the Canary's).
    controller: ControllerRouting = field(default_factory=ControllerRouting)

    def field_value(self, path: str) -> Any:
        """The provider-specific field at `path` as written, None when the Canary sets none."""
        return self.fields.get(path)

    def object_ref(self, path: str) -> ObjectRef | None:
        """The reference at `path` (`spec.ingressRef`); ValueError naming it when malformed."""
        value = self.fields.get(path)
        if value is None:
            return None
        if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
            raise ValueError(  # noqa: TRY004 - the Canary's error, shown as a ValueError
                f"{path} must be an object with a name (apiVersion, kind, name)"
            )
        return ObjectRef(
            api_version=str(value.get("apiVersion", "")),
            kind=str(value.get("kind", "")),
            name=value["name"],
        )
