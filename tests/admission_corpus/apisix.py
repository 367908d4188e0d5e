"""The `apisix` provider's Canaries: its example admitted as written (`spec.routeRef` naming the
user's ApisixRoute), and other providers' fields admitted with it (Flagger's APISIX router
ignores them; the controller warns)."""

from __future__ import annotations

from functools import partial

from tests.admission_corpus.cases import Case, example, in_spec

_APISIX = partial(example, "apisix/canary.yaml", "Canary")

APISIX_CASES = [
    Case("apisix-example", None, [], base=_APISIX),
    Case(
        "apisix-route-ref-without-api-version",
        in_spec("routeRef", {"kind": "ApisixRoute", "name": "web"}),
        [],
        base=_APISIX,
    ),
    Case(
        "istio-field-with-apisix",
        in_spec("service.trafficPolicy", {"tls": {"mode": "ISTIO_MUTUAL"}}),
        [],
        base=_APISIX,
    ),
    # Flagger applies `service.corsPolicy` with gatewayapi:* (and Istio) only: ignored here.
    Case(
        "gateway-api-cors-with-apisix",
        in_spec("service.corsPolicy", {"allowOrigin": ["https://example.com"]}),
        [],
        base=_APISIX,
    ),
]
