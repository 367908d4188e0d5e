"""Every example template of the metric provider pages (docs/metric-providers/<type>.md) is a
valid MetricTemplate whose query renders, every registered provider type has its page with an
example of that type, and the index (docs/metric-providers.md) lists and links each one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from canary.api.metrictemplate import MetricTemplate
from canary.metrics.inputs import CanaryContext
from canary.metrics.providers import PROVIDERS
from canary.metrics.template import render

DOCS = Path(__file__).parents[3] / "docs"
INDEX = DOCS / "metric-providers.md"
PAGES = sorted((DOCS / "metric-providers").glob("*.md"))
EXAMPLES = [
    example
    for page in PAGES
    for example in re.findall(r"```yaml\n(.*?)```", page.read_text(), re.DOTALL)
]


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_example_is_a_valid_template_that_renders(example: str) -> None:
    document = yaml.safe_load(example)
    template = MetricTemplate.model_validate({"spec": document["spec"]})
    context = CanaryContext(name="podinfo", namespace="shop", target="podinfo")
    render(template.spec.query, context=context, interval="1m", variables={})


def test_every_provider_has_its_page_with_an_example() -> None:
    types = {yaml.safe_load(example)["spec"]["provider"]["type"] for example in EXAMPLES}
    assert types == set(PROVIDERS)
    assert {page.stem for page in PAGES} == set(PROVIDERS)
    for page in PAGES:
        kinds = {
            yaml.safe_load(example)["spec"]["provider"]["type"]
            for example in re.findall(r"```yaml\n(.*?)```", page.read_text(), re.DOTALL)
        }
        assert kinds == {page.stem}, page.name
        assert f"| [`{page.stem}`](metric-providers/{page.stem}.md) |" in INDEX.read_text()
