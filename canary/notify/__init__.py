"""Alerts about Canaries, sent to chat services and webhooks (the AlertProvider API).

`Alert` is what is said, `canary.notify.payloads` how each provider type wants it said (pure
JSON building), and `send` delivers it, reporting rather than raising whatever the remote does.
This package sits beside routers, metrics and hooks: it may use `canary.api`, `canary.core` and
`canary.kube`, never the controller or the command line; choosing which alerts go where, and
reading a provider's Secret, is the controller's job.
"""

from canary.notify.alert import Alert, Severity
from canary.notify.payloads import payload
from canary.notify.sender import ProviderSettings, SendResult, send

__all__ = ["Alert", "ProviderSettings", "SendResult", "Severity", "payload", "send"]
