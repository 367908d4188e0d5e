"""Strict template rendering: every placeholder, and every way a template or a value is refused."""

from __future__ import annotations

import pytest

from canary.metrics.errors import FailureKind, TemplateError
from canary.metrics.inputs import CanaryContext
from canary.metrics.template import render

CONTEXT = CanaryContext(
    name="podinfo",
    namespace="test",
    target="podinfo-deploy",
    service="podinfo-svc",
    ingress="podinfo-ing",
    route="podinfo-route",
)


def _render(template: str, variables: dict[str, str] | None = None, interval: str = "1m") -> str:
    return render(template, context=CONTEXT, interval=interval, variables=variables or {})


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ name }}", "podinfo"),
        ("{{ namespace }}", "test"),
        ("{{ target }}", "podinfo-deploy"),
        ("{{ service }}", "podinfo-svc"),
        ("{{ ingress }}", "podinfo-ing"),
        ("{{ route }}", "podinfo-route"),
        ("{{ interval }}", "1m"),
        ("{{ variables.app }}", "frontend"),
        ("{{name}}", "podinfo"),
        ("{{   target\t}}", "podinfo-deploy"),
        ("{{\nvariables.app\n}}", "frontend"),
    ],
)
def test_each_placeholder_is_replaced(template: str, expected: str) -> None:
    assert _render(template, {"app": "frontend"}) == expected


def test_a_realistic_template_renders_in_full() -> None:
    template = (
        'sum(rate(http_requests_total{namespace="{{ namespace }}", app="{{ variables.app }}",'
        ' pod=~"{{ target }}-[0-9a-z]+", status!~"5.."}[{{ interval }}]))'
    )
    assert _render(template, {"app": "front_end-1"}, interval="30s") == (
        'sum(rate(http_requests_total{namespace="test", app="front_end-1",'
        ' pod=~"podinfo-deploy-[0-9a-z]+", status!~"5.."}[30s]))'
    )


def test_service_ingress_and_route_default_to_the_target() -> None:
    context = CanaryContext(name="podinfo", namespace="test", target="podinfo")
    rendered = render(
        "{{ service }} {{ ingress }} {{ route }}", context=context, interval="1m", variables={}
    )
    assert rendered == "podinfo podinfo podinfo"


def test_go_trim_markers_remove_the_whitespace_beside_them() -> None:
    assert _render('up{a="x"}  {{- name -}}  \n )') == 'up{a="x"}podinfo)'


def test_a_template_without_placeholders_is_left_alone() -> None:
    assert _render('sum(up{job="x"}) }}') == 'sum(up{job="x"}) }}'


def test_all_variable_characters_allowed_pass_through() -> None:
    value = "Az09_.:/-"
    assert _render('x{a="{{ variables.v }}"}', {"v": value}) == f'x{{a="{value}"}}'


def test_an_empty_variable_is_allowed() -> None:
    assert _render('x{a="{{ variables.v }}"}', {"v": ""}) == 'x{a=""}'


def test_a_missing_variable_is_named() -> None:
    with pytest.raises(TemplateError) as caught:
        _render("{{ variables.missing }}", {"present": "x"})
    assert caught.value.kind is FailureKind.TEMPLATE_ERROR
    assert str(caught.value) == (
        "template: variable \"missing\" used by '{{ variables.missing }}' is not set in"
        " templateVariables"
    )


@pytest.mark.parametrize(
    "token",
    [
        "{{ .Values.x }}",
        "{{ name | printf }}",
        '{{ printf "%s" name }}',
        "{{ if true }}",
        "{{ }}",
        "{{ variables }}",
        "{{ variables.a.b }}",
        "{{ Name }}",
        "{{/* a comment */}}",
        '{{ env "HOME" }}',
    ],
)
def test_an_unknown_token_is_named(token: str) -> None:
    with pytest.raises(TemplateError) as caught:
        _render(f"sum(up) + {token}", {"a": "x"})
    message = str(caught.value)
    assert message.startswith(f"template: unknown token {token!r}; a template may use only ")
    assert "{{ variables.KEY }}" in message


def test_an_unclosed_action_is_an_error_with_its_offset() -> None:
    with pytest.raises(TemplateError) as caught:
        _render("{{ name }} and {{ target")
    assert str(caught.value) == 'template: "{{" at offset 15 is never closed by "}}"'


@pytest.mark.parametrize(
    ("value", "character", "position"),
    [
        ('x"} or vector(1) #', '"', 1),
        ("a}", "}", 1),
        ("a{b", "{", 1),
        ("line\nbreak", "\n", 4),
        ("with space", " ", 4),
        ("back\\slash", "\\", 4),
        ("a|b", "|", 1),
        ("it's", "'", 2),
        ("tick`", "`", 4),
        ("regex.*", "*", 6),
        ("ünïcode", "ü", 0),
    ],
)
def test_an_injection_attempt_through_a_variable_is_refused(
    value: str, character: str, position: int
) -> None:
    with pytest.raises(TemplateError) as caught:
        _render('up{job="{{ variables.job }}"}', {"job": value})
    assert str(caught.value) == (
        f'template: variable "job" has the character {character!r} at position {position},'
        " which is not allowed in a query; allowed are A-Z a-z 0-9 _ . : / -"
    )


def test_an_overlong_variable_is_refused() -> None:
    with pytest.raises(TemplateError) as caught:
        _render("{{ variables.v }}", {"v": "a" * 254})
    assert str(caught.value) == 'template: variable "v" is 254 characters long; the limit is 253'


def test_an_unused_unsafe_variable_does_not_matter() -> None:
    assert _render("{{ name }}", {"unused": '"}'}) == "podinfo"


@pytest.mark.parametrize("interval", ["1m", "30s", "1h30m", "500ms", "2d", "1w"])
def test_a_prometheus_duration_is_a_valid_interval(interval: str) -> None:
    assert _render("[{{ interval }}]", interval=interval) == f"[{interval}]"


@pytest.mark.parametrize("interval", ["", "1", "1 m", "m", "1m]", "1.5m", "-1m"])
def test_an_interval_that_is_not_a_duration_is_refused(interval: str) -> None:
    with pytest.raises(TemplateError) as caught:
        _render("[{{ interval }}]", interval=interval)
    assert str(caught.value) == (
        f"template: interval {interval!r} is not a Prometheus duration such as 30s, 1m or 1h30m"
    )


def test_an_unsafe_context_field_is_named_when_used() -> None:
    context = CanaryContext(name="ok", namespace="test", target='bad"target')
    with pytest.raises(TemplateError) as caught:
        render("{{ target }}", context=context, interval="1m", variables={})
    assert str(caught.value).startswith("template: target has the character '\"' at position 3")
    assert render("{{ name }}", context=context, interval="1m", variables={}) == "ok"
