"""Skipper's builtin queries: its proxy's per-route `skipper_*` histograms.

Read by `skipper`, with Flagger's queries for it (its Skipper observer): the routes Skipper makes
of the canary Ingress's paths to the canary Service, whose ids are
`kube[ew]_<namespace>__<ingress>_canary__<host>__<path>__<service>_canary[_<n>]` with every
non-word character of each name written `_` (as Skipper writes them; Flagger encodes the names
the same way before rendering: `encode`). `request-success-rate` counts the responses
(`le="+Inf"` of `skipper_response_duration_seconds`) that are not 5xx; `request-duration` is
the mean time Skipper served the route in (`skipper_serve_route_duration_seconds`), multiplied
by 1000 in the query: milliseconds already, as Flagger reads it. The views show the primary's
routes beside them (`_PRIMARY_ROUTES`). Data only.
"""

from __future__ import annotations

import re
from dataclasses import replace

from canary.metrics.meshes.table import BuiltinTable, collapse

_ROUTE = (
    'route=~"kube(ew)?_{{ namespace }}__{{ ingress }}_canary__.*__{{ service }}_canary(_[0-9]+)?"'
)
# The primary's routes: the user's Ingress's to the apex Service (which selects the primary's
# pods; they serve while the canary Ingress is off), and the canary Ingress's to the primary.
_PRIMARY_ROUTES = (
    'route=~"kube(ew)?_{{ namespace }}__{{ ingress }}__.*__{{ service }}(_[0-9]+)?'
    '|kube(ew)?_{{ namespace }}__{{ ingress }}_canary__.*__{{ service }}_primary(_[0-9]+)?"'
)


def encode(name: str) -> str:
    """A name as Skipper spells it in route ids: every non-word character `_`."""
    return re.sub(r"\W", "_", name)


def _table(route: str) -> BuiltinTable:
    """The queries of the routes that `route` (a label matcher) selects."""
    return BuiltinTable(
        mesh="skipper",
        success_rate=collapse(
            f"""
            sum(rate(skipper_response_duration_seconds_bucket{{{route},code!~"5..",le="+Inf"}}[{{{{ interval }}}}]))
            /
            sum(rate(skipper_response_duration_seconds_bucket{{{route},le="+Inf"}}[{{{{ interval }}}}]))
            * 100
            """  # noqa: E501 - one query per line, as Flagger writes them
        ),
        duration=collapse(
            f"""
            sum(rate(skipper_serve_route_duration_seconds_sum{{{route}}}[{{{{ interval }}}}]))
            /
            sum(rate(skipper_serve_route_duration_seconds_count{{{route}}}[{{{{ interval }}}}]))
            * 1000
            """
        ),
        request_rate=collapse(
            f"""
            sum(rate(skipper_response_duration_seconds_bucket{{{route},le="+Inf"}}[{{{{ interval }}}}]))
            """  # noqa: E501
        ),
        encode=encode,
        duration_statistic="mean",
    )


TABLE = replace(_table(_ROUTE), primary=_table(_PRIMARY_ROUTES))
