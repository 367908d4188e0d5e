"""The Canary, MetricTemplate and AlertProvider APIs (`canary.dev/v1alpha1`) as pydantic models.

These models are the single source of truth: the CRDs in `crds/` are generated from them
(`python -m canary.api.crdgen`), and the controller parses what it reads from the API server with
them. The package is the lowest layer of the project: it imports nothing else of `canary`, and it
never does I/O (no asyncio, aiohttp or kubernetes_asyncio); only the generator's command-line
entry point writes files.
"""

from canary.api.alertprovider import AlertProvider, AlertProviderSpec
from canary.api.base import API_VERSION, GROUP, VERSION
from canary.api.canary import Canary, CanarySpec
from canary.api.durations import parse_duration
from canary.api.metrictemplate import MetricTemplate, MetricTemplateSpec
from canary.api.status import CanaryStatus, Phase

__all__ = [
    "API_VERSION",
    "GROUP",
    "VERSION",
    "AlertProvider",
    "AlertProviderSpec",
    "Canary",
    "CanarySpec",
    "CanaryStatus",
    "MetricTemplate",
    "MetricTemplateSpec",
    "Phase",
    "parse_duration",
]
