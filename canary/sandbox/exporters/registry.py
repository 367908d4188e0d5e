"""The providers the mesh simulator imitates: one line each. No I/O."""

from __future__ import annotations

from typing import Final

from canary.sandbox.exporters import application, gatewayapi, knative, kuma, linkerd
from canary.sandbox.exporters.base import MeshsimProvider

PROVIDERS: Final[tuple[MeshsimProvider, ...]] = (
    linkerd.PROVIDER,
    gatewayapi.PROVIDER,
    application.PROVIDER,
    knative.PROVIDER,
    kuma.PROVIDER,
)
