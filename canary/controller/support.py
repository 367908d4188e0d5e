"""Fields this controller version accepts in the API but cannot act on yet.

A release must never silently run without something its author asked for: a gate webhook that
is ignored would let an unapproved release through. So a Canary that uses such a field is not
released at all; it gets `Ready=False, reason=Unsupported` naming the fields.
"""

from __future__ import annotations

from canary.api.canary import Canary

SUPPORTED_PROVIDERS = ("linkerd", "smi:")


def unsupported_fields(canary: Canary, *, default_provider: str) -> list[str]:
    spec, analysis = canary.spec, canary.spec.analysis
    found = []
    provider = spec.provider or default_provider
    if not provider.startswith(SUPPORTED_PROVIDERS):
        found.append(f"spec.provider={provider}")
    if analysis.match:
        found.append("spec.analysis.match")
    if analysis.mirror:
        found.append("spec.analysis.mirror")
    if spec.autoscaler_ref is not None:
        found.append("spec.autoscalerRef")
    if spec.revert_on_deletion:
        found.append("spec.revertOnDeletion")
    return found


def unsupported_message(fields: list[str]) -> str:
    return (
        f"not supported by this controller version yet: {', '.join(fields)}; remove them to "
        "release with this controller (nothing is released while they are set)"
    )
