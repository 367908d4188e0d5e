"""The CustomResourceDefinitions (apiextensions.k8s.io/v1) of the API, built from the models.

Nothing here is written by hand that the models already say: each CRD's schema is the model's
JSON schema made structural (`canary.api.schema`). What a CRD adds is here: names, scope, the
status subresource, a Canary's default status (for kstatus), and the columns `kubectl get`
prints. The YAML rendering is deterministic (sorted keys, fixed width), so the committed files
can be compared byte for byte.

This module builds documents and text; it reads and writes no files (see `crdgen`).
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from canary.api.alertprovider import AlertProvider
from canary.api.base import GROUP, VERSION
from canary.api.canary import Canary
from canary.api.metrictemplate import MetricTemplate
from canary.api.schema import Schema, structural

GENERATED_BY = "python -m canary.api.crdgen"

CANARY_COLUMNS = [
    {"name": "Status", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Weight", "type": "integer", "jsonPath": ".status.canaryWeight"},
    {"name": "FailedChecks", "type": "integer", "jsonPath": ".status.failedChecks"},
    {"name": "LastTransitionTime", "type": "string", "jsonPath": ".status.lastTransitionTime"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]
METRIC_TEMPLATE_COLUMNS = [
    {"name": "Provider", "type": "string", "jsonPath": ".spec.provider.type"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]
ALERT_PROVIDER_COLUMNS = [
    {"name": "Type", "type": "string", "jsonPath": ".spec.type"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def object_schema(model: type[BaseModel]) -> Schema:
    """The openAPIV3Schema of a top-level object: the model's schema, with `apiVersion`, `kind`
    and `metadata` left to the API server as every CRD does."""
    generated = model.model_json_schema(mode="validation", by_alias=True)
    for name in ("apiVersion", "kind", "metadata"):
        del generated["properties"][name]
    schema = structural(generated)
    properties = schema["properties"]
    properties["apiVersion"] = {
        "type": "string",
        "description": f"The versioned schema of this object: {GROUP}/{VERSION}.",
    }
    properties["kind"] = {"type": "string", "description": "The kind of this object."}
    properties["metadata"] = {"type": "object"}
    return schema


def custom_resource_definition(
    model: type[BaseModel],
    *,
    plural: str,
    columns: list[dict[str, str]],
) -> dict[str, Any]:
    kind = model.__name__
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            # Uninstalling a Helm release must not delete every user's Canaries with it.
            "annotations": {"helm.sh/resource-policy": "keep"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "categories": ["all"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": object_schema(model)},
                }
            ],
        },
    }


def canary_crd() -> dict[str, Any]:
    crd = custom_resource_definition(Canary, plural="canaries", columns=CANARY_COLUMNS)
    # The one default of the API, on purpose: a Canary the controller has not judged yet reads
    # `status.observedGeneration: 0`, which kstatus (Flux) takes as "not observed yet"
    # (InProgress); without any status kstatus would call it Current. The API server applies it
    # when it serves the object; the status subresource keeps users from writing it.
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["status"]["default"] = {"observedGeneration": 0}
    return crd


def metric_template_crd() -> dict[str, Any]:
    return custom_resource_definition(
        MetricTemplate, plural="metrictemplates", columns=METRIC_TEMPLATE_COLUMNS
    )


def alert_provider_crd() -> dict[str, Any]:
    return custom_resource_definition(
        AlertProvider, plural="alertproviders", columns=ALERT_PROVIDER_COLUMNS
    )


def all_crds() -> dict[str, dict[str, Any]]:
    """Every CRD of the API, by the file name it is committed under in `crds/`."""
    return {
        "canaries.yaml": canary_crd(),
        "metrictemplates.yaml": metric_template_crd(),
        "alertproviders.yaml": alert_provider_crd(),
    }


def render(crd: dict[str, Any]) -> str:
    """`crd` as the YAML committed in `crds/`: a header, then sorted, stable YAML."""
    header = (
        f"# Generated from the models in canary/api by `{GENERATED_BY}`; do not edit.\n"
        f"# The CustomResourceDefinition of {crd['spec']['names']['kind']} "
        f"({crd['spec']['group']}/{VERSION}).\n"
    )
    body = yaml.safe_dump(crd, sort_keys=True, default_flow_style=False, width=100)
    return header + body
