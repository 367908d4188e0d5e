"""Webhooks: the Flagger-compatible client (`webhooks`) and the load tester service (`loadtester`).

The controller converts `analysis.webhooks[]` into `WebhookSpec` and calls `call_webhook`; nothing
here imports the API models or the controller.
"""

from canary.hooks.webhooks import (
    Backoff,
    WebhookPayload,
    WebhookResult,
    WebhookSpec,
    call_webhook,
)

__all__ = ["Backoff", "WebhookPayload", "WebhookResult", "WebhookSpec", "call_webhook"]
