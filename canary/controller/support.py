"""Fields this controller accepts in the API but cannot act on, alone or with the chosen router.

A release must never silently run without something its author asked for: a gate webhook that
is ignored would let an unapproved release through, and an A/B test whose matches the router
cannot express would send everyone to the canary. So a Canary that asks for such a thing is not
released at all; it gets `Ready=False, reason=Unsupported` naming the fields.
"""

from __future__ import annotations

from canary.api.canary import Canary
from canary.metrics.builtin import is_builtin, mesh_of
from canary.metrics.errors import MetricError

MATCHING_PROVIDERS = ("smi:v1alpha3", "smi:v1alpha4", "gatewayapi:")
MIRRORING_PROVIDERS = ("gatewayapi:",)


def unsupported_message(fields: list[str]) -> str:
    return (
        f"not supported: {'; '.join(fields)}; change or remove them to release with this "
        "controller (nothing is released while they are set)"
    )


def unsupported_fields(canary: Canary, *, default_provider: str) -> list[str]:
    """What the Canary asks of its router that the router, or the strategy, cannot do."""
    provider = canary.spec.provider or default_provider
    analysis = canary.spec.analysis
    found = []
    if analysis.match and not provider.startswith(MATCHING_PROVIDERS):
        found.append(
            f"spec.analysis.match with provider {provider} (A/B testing needs smi:v1alpha3, "
            "smi:v1alpha4 or gatewayapi:v1)"
        )
    elif provider.startswith("smi:") and any(m.query_params for m in analysis.match):
        found.append(f"spec.analysis.match[].queryParams with provider {provider} (headers only)")
    if analysis.session_affinity is not None and not provider.startswith("gatewayapi:"):
        found.append(
            f"spec.analysis.sessionAffinity with provider {provider} (gatewayapi:* has sticky "
            "sessions)"
        )
    if analysis.mirror and not provider.startswith(MIRRORING_PROVIDERS):
        found.append(f"spec.analysis.mirror with provider {provider} (gatewayapi:* can mirror)")
    for metric in analysis.metrics:
        if metric.query is None and metric.template_ref is None and is_builtin(metric.name):
            try:
                mesh_of(provider)
            except MetricError:
                found.append(
                    f"spec.analysis.metrics[{metric.name}] with provider {provider} (no builtin "
                    f"{metric.name} query for it: give the metric a templateRef)"
                )
    if provider == "kubernetes" and analysis.iterations is None:
        found.append(
            "spec.analysis.stepWeight(s) with provider kubernetes (it switches all traffic at "
            "once: set analysis.iterations for blue/green)"
        )
    return found
