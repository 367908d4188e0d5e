"""Gateway API: the simulator follows HTTPRoutes (v1; v1beta1 routes are the same objects).

It exports nothing of its own: the Gateway API builtins read the application's histogram
(`application.py`), and a Linkerd mesh routing by HTTPRoute reports through its proxies
(`linkerd.py`). No I/O.
"""

from __future__ import annotations

from canary.kube.resources import HTTP_ROUTE
from canary.sandbox.exporters.base import MeshsimProvider, RouteSource
from canary.sandbox.meshsim_objects import splits_of_http_route

PROVIDER = MeshsimProvider(
    name="gatewayapi",
    routes=(RouteSource(HTTP_ROUTE, splits_of_http_route),),
)
