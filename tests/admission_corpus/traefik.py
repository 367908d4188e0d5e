"""The `traefik` provider's Canaries: its examples admitted as written, and other providers'
fields admitted with it (Flagger's Traefik router ignores them; the controller warns)."""

from __future__ import annotations

from functools import partial

from tests.admission_corpus.cases import Case, all_of, example, in_analysis, in_spec

_TRAEFIK = partial(example, "traefik/canary.yaml", "Canary")
_MIRRORING = partial(example, "traefik/canary-mirroring.yaml", "Canary")

TRAEFIK_CASES = [
    Case("traefik-example", None, [], base=_TRAEFIK),
    Case("traefik-mirroring-example", None, [], base=_MIRRORING),
    Case(
        "traefik-mirror-weight",
        in_analysis(mirrorWeight=25),
        [],
        base=_MIRRORING,
    ),
    Case(
        "istio-fields-with-traefik",
        all_of(
            in_spec("service.trafficPolicy", {"tls": {"mode": "ISTIO_MUTUAL"}}),
            in_spec("service.retries", {"attempts": 3}),
        ),
        [],
        base=_TRAEFIK,
    ),
    # Flagger applies `service.rewrite` with gatewayapi:* only: ignored with traefik.
    Case(
        "gateway-api-rewrite-with-traefik",
        in_spec("service.rewrite", {"uri": "/"}),
        [],
        base=_TRAEFIK,
    ),
]
