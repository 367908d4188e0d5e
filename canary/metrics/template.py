"""Strict rendering of Flagger-style query templates, without a template engine.

Flagger renders MetricTemplates with Go's text/template and inserts values verbatim, so a
template variable holding `"} or vector(1) #` rewrites the query (reliability.md §4.6). Here a
template is PromQL with a closed set of placeholders: `{{ name }}`, `{{ namespace }}`,
`{{ target }}`, `{{ service }}`, `{{ ingress }}`, `{{ route }}`, `{{ interval }}` and
`{{ variables.KEY }}` (whitespace inside the braces optional; Go's `{{-`/`-}}` trim markers
honoured). Anything else between `{{` and `}}` is an error naming it, a missing variable is an
error naming it, and every value inserted must match `[A-Za-z0-9_.:/-]{0,253}` (the interval
must be a Prometheus duration), so no value can leave the string or selector it sits in.

This module must not evaluate any other template syntax (pipelines, functions, conditionals) and
must not do I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from canary.metrics.errors import TemplateError
from canary.metrics.inputs import CanaryContext

_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_VARIABLE = re.compile(r"variables\.([A-Za-z_][A-Za-z0-9_]*)")
_UNSAFE_CHARACTER = re.compile(r"[^A-Za-z0-9_.:/-]")
_DURATION = re.compile(r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+")
_VALUE_LIMIT = 253
_GO_SPACE = " \t\r\n"
_ALLOWED = (
    "{{ name }}, {{ namespace }}, {{ target }}, {{ service }}, {{ ingress }}, {{ route }}, "
    "{{ interval }} and {{ variables.KEY }}"
)


def render(
    template: str,
    *,
    context: CanaryContext,
    interval: str,
    variables: Mapping[str, str],
) -> str:
    """`template` with every placeholder replaced, or a `TemplateError` naming what is wrong."""
    fields = {
        "name": context.name,
        "namespace": context.namespace,
        "target": context.target,
        "service": context.service_name,
        "ingress": context.ingress_name,
        "route": context.route_name,
        "interval": interval,
    }
    pieces: list[str] = []
    position = 0
    trim_following = False
    for match in _ACTION.finditer(template):
        body = match.group(1)
        trim_preceding = len(body) > 1 and body[0] == "-" and body[1] in _GO_SPACE
        trim_next = len(body) > 1 and body[-1] == "-" and body[-2] in _GO_SPACE
        expression = body[1 if trim_preceding else 0 : -1 if trim_next else None].strip()
        literal = template[position : match.start()]
        if trim_following:
            literal = literal.lstrip(_GO_SPACE)
        if trim_preceding:
            literal = literal.rstrip(_GO_SPACE)
        pieces.append(literal)
        pieces.append(
            _value_of(expression, token=match.group(0), fields=fields, variables=variables)
        )
        trim_following = trim_next
        position = match.end()
    tail = template[position:]
    if (unclosed := tail.find("{{")) >= 0:
        raise TemplateError(f'"{{{{" at offset {position + unclosed} is never closed by "}}}}"')
    pieces.append(tail.lstrip(_GO_SPACE) if trim_following else tail)
    return "".join(pieces)


def _value_of(
    expression: str,
    *,
    token: str,
    fields: Mapping[str, str],
    variables: Mapping[str, str],
) -> str:
    if expression in fields:
        value = fields[expression]
        if expression == "interval":
            _check_duration(value)
        _check_safe(value, what=expression)
        return value
    if (variable := _VARIABLE.fullmatch(expression)) is not None:
        key = variable.group(1)
        if key not in variables:
            raise TemplateError(
                f'variable "{key}" used by {token!r} is not set in templateVariables'
            )
        value = variables[key]
        _check_safe(value, what=f'variable "{key}"')
        return value
    raise TemplateError(f"unknown token {token!r}; a template may use only {_ALLOWED}")


def _check_safe(value: str, *, what: str) -> None:
    if len(value) > _VALUE_LIMIT:
        raise TemplateError(f"{what} is {len(value)} characters long; the limit is {_VALUE_LIMIT}")
    if (bad := _UNSAFE_CHARACTER.search(value)) is not None:
        raise TemplateError(
            f"{what} has the character {bad.group(0)!r} at position {bad.start()}, which is not"
            " allowed in a query; allowed are A-Z a-z 0-9 _ . : / -"
        )


def _check_duration(value: str) -> None:
    if _DURATION.fullmatch(value) is None:
        raise TemplateError(
            f"interval {value!r} is not a Prometheus duration such as 30s, 1m or 1h30m"
        )
