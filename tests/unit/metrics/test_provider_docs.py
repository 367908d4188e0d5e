"""Every example template of docs/metric-providers.md is a valid MetricTemplate whose query
renders, and every registered provider type has a section there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from canary.api.metrictemplate import MetricTemplate
from canary.metrics.inputs import CanaryContext
from canary.metrics.providers import PROVIDERS
from canary.metrics.template import render

PAGE = Path(__file__).parents[3] / "docs" / "metric-providers.md"
EXAMPLES = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(), re.DOTALL)


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_example_is_a_valid_template_that_renders(example: str) -> None:
    document = yaml.safe_load(example)
    template = MetricTemplate.model_validate({"spec": document["spec"]})
    context = CanaryContext(name="podinfo", namespace="shop", target="podinfo")
    render(template.spec.query, context=context, interval="1m", variables={})


def test_every_provider_has_an_example() -> None:
    types = {yaml.safe_load(example)["spec"]["provider"]["type"] for example in EXAMPLES}
    assert types == set(PROVIDERS)
    for name in PROVIDERS:
        assert f"| `{name}` |" in PAGE.read_text()
