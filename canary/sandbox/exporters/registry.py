"""The providers the mesh simulator imitates: one line each. No I/O."""

from __future__ import annotations

from typing import Final

from canary.sandbox.exporters import (
    apisix,
    application,
    contour,
    envoy,
    gatewayapi,
    gloo,
    istio,
    knative,
    kuma,
    linkerd,
    nginx,
    skipper,
    traefik,
)
from canary.sandbox.exporters.base import MeshsimProvider

PROVIDERS: Final[tuple[MeshsimProvider, ...]] = (
    linkerd.PROVIDER,
    gatewayapi.PROVIDER,
    nginx.PROVIDER,
    skipper.PROVIDER,
    traefik.PROVIDER,
    apisix.PROVIDER,
    application.PROVIDER,
    istio.PROVIDER,
    contour.PROVIDER,
    gloo.PROVIDER,
    envoy.PROVIDER,
    knative.PROVIDER,
    kuma.PROVIDER,
)
