"""The providers the mesh simulator imitates: one line each. No I/O."""

from __future__ import annotations

from typing import Final

from canary.sandbox.exporters import apisix, application, gatewayapi, linkerd, traefik
from canary.sandbox.exporters.base import MeshsimProvider

PROVIDERS: Final[tuple[MeshsimProvider, ...]] = (
    linkerd.PROVIDER,
    gatewayapi.PROVIDER,
    traefik.PROVIDER,
    apisix.PROVIDER,
    application.PROVIDER,
)
