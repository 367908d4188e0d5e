"""Canaries routed by Istio: Flagger's Istio fields admitted as written, with every strategy, and
the API server's words when one has the wrong type. (What only the router refuses, such as
`service.delegation` with `service.hosts`, is `canary check`'s and the controller's: see
tests/unit/routers/test_istio.py.)"""

from __future__ import annotations

from functools import partial

from tests.admission_corpus.cases import (
    NOT_ALL_CHECKED,
    Case,
    all_of,
    cause,
    example,
    in_analysis,
    in_spec,
)

_ISTIO = partial(example, "istio/canary.yaml", "Canary")
_BLUE_GREEN = in_analysis(maxWeight=None, stepWeight=None, iterations=5)

ISTIO_CASES = [
    Case(
        "istio-every-service-field",
        all_of(
            in_spec("service.match", [{"uri": {"prefix": "/api"}}]),
            in_spec("service.rewrite", {"uri": "/", "authority": "podinfo.internal"}),
            in_spec("service.corsPolicy", {"allowOrigins": [{"exact": "https://example.com"}]}),
            in_spec("service.portDiscovery", True),  # noqa: FBT003 - the field's value
            in_spec("service.appProtocol", "http"),
        ),
        [],
        base=_ISTIO,
    ),
    Case(
        "istio-delegate",
        all_of(
            in_spec("service.delegation", True),  # noqa: FBT003 - the field's value
            in_spec("service.gateways", []),
            in_spec("service.hosts", []),
        ),
        [],
        base=_ISTIO,
    ),
    Case(
        "istio-ab-testing",
        all_of(
            _BLUE_GREEN,
            in_analysis(
                match=[{"headers": {"cookie": {"regex": "^(.*?;)?(type=insider)(;.*)?$"}}}]
            ),
        ),
        [],
        base=_ISTIO,
    ),
    Case(
        "istio-ab-testing-by-source-labels",
        all_of(
            _BLUE_GREEN,
            in_analysis(
                match=[
                    {"sourceLabels": {"app": "frontend"}},
                    {"headers": {"x-canary": {"exact": "insider"}}, "sourceLabels": {"v": "2"}},
                ]
            ),
        ),
        [],
        base=_ISTIO,
    ),
    Case(
        "istio-source-labels-not-a-map",
        all_of(_BLUE_GREEN, in_analysis(match=[{"sourceLabels": ["app=frontend"]}])),
        [
            cause(
                "spec.analysis.match[0].sourceLabels",
                'Invalid value: "array": spec.analysis.match[0].sourceLabels in body must be of '
                'type object: "array"',
                "FieldValueTypeInvalid",
            ),
            NOT_ALL_CHECKED,
        ],
        base=_ISTIO,
    ),
    Case(
        "istio-source-label-not-a-string",
        all_of(_BLUE_GREEN, in_analysis(match=[{"sourceLabels": {"version": 2}}])),
        [
            cause(
                "spec.analysis.match[0].sourceLabels.version",
                'Invalid value: "integer": spec.analysis.match[0].sourceLabels.version in body '
                'must be of type string: "integer"',
                "FieldValueTypeInvalid",
            ),
            NOT_ALL_CHECKED,
        ],
        base=_ISTIO,
    ),
    Case(
        "istio-blue-green-mirrored",
        all_of(_BLUE_GREEN, in_analysis(mirror=True, mirrorWeight=50)),
        [],
        base=_ISTIO,
    ),
    Case(
        "istio-session-affinity",
        in_analysis(sessionAffinity={"cookieName": "flagger-cookie", "maxAge": 21600}),
        [],
        base=_ISTIO,
    ),
    Case(
        "istio-gateways-not-a-list",
        in_spec("service.gateways", "public-gateway"),
        [
            cause(
                "spec.service.gateways",
                'Invalid value: "string": spec.service.gateways in body must be of type array: '
                '"string"',
                "FieldValueTypeInvalid",
            ),
            NOT_ALL_CHECKED,
        ],
        base=_ISTIO,
    ),
    Case(
        "istio-delegation-not-a-boolean",
        in_spec("service.delegation", "yes"),
        [
            cause(
                "spec.service.delegation",
                'Invalid value: "string": spec.service.delegation in body must be of type '
                'boolean: "string"',
                "FieldValueTypeInvalid",
            ),
            NOT_ALL_CHECKED,
        ],
        base=_ISTIO,
    ),
]
