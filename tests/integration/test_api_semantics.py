"""The API server behaves as a real one: CEL admission, status subresource, watch resume, 410."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio import watch
from kubernetes_asyncio.client import (
    ApiClient,
    ApiextensionsV1Api,
    CoreV1Api,
    CustomObjectsApi,
    V1ConfigMap,
    V1CustomResourceDefinition,
)
from kubernetes_asyncio.client.exceptions import ApiException

from canary.kube.objects import body
from tests.integration.waiting import eventually

GROUP = "sandbox-test.canary.dev"
RULE_MESSAGE = "spec.replicas must not exceed spec.maxReplicas"


def _crd(plural: str) -> dict[str, Any]:
    spec_schema = {
        "type": "object",
        "required": ["replicas", "maxReplicas"],
        "properties": {
            "replicas": {"type": "integer", "minimum": 0},
            "maxReplicas": {"type": "integer", "minimum": 1},
        },
        "x-kubernetes-validations": [
            {"rule": "self.replicas <= self.maxReplicas", "message": RULE_MESSAGE}
        ],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1], "kind": plural.capitalize()[:-1]},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": spec_schema,
                                "status": {
                                    "type": "object",
                                    "properties": {"observed": {"type": "integer"}},
                                },
                            },
                        }
                    },
                }
            ],
        },
    }


def _config_map(name: str) -> V1ConfigMap:
    return body({"metadata": {"name": name}}, V1ConfigMap)


@pytest.fixture
async def widgets(api: ApiClient) -> AsyncIterator[str]:
    """A fresh CRD with a CEL rule and a status subresource; its plural is returned."""
    plural = f"widgets{uuid.uuid4().hex[:6]}"
    extensions = ApiextensionsV1Api(api)
    await extensions.create_custom_resource_definition(
        body(_crd(plural), V1CustomResourceDefinition)
    )

    async def established() -> bool:
        crd = await extensions.read_custom_resource_definition(f"{plural}.{GROUP}")
        return any(
            c.type == "Established" and c.status == "True" for c in crd.status.conditions or []
        )

    await eventually(established, until=bool, what="CRD established")
    try:
        yield plural
    finally:
        await extensions.delete_custom_resource_definition(f"{plural}.{GROUP}")


def _widget(plural: str, name: str, replicas: int, max_replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": plural.capitalize()[:-1],
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "maxReplicas": max_replicas},
    }


async def test_cel_rule_rejects_a_bad_object_with_its_message(
    api: ApiClient, namespace: str, widgets: str
) -> None:
    objects = CustomObjectsApi(api)
    with pytest.raises(ApiException) as rejected:
        await objects.create_namespaced_custom_object(
            GROUP, "v1", namespace, widgets, _widget(widgets, "bad", 5, 3)
        )
    assert rejected.value.status == 422
    assert rejected.value.body is not None
    causes = json.loads(rejected.value.body)["details"]["causes"]
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "message": f"Invalid value: {RULE_MESSAGE}",
            "field": "spec",
        }
    ]

    created = await objects.create_namespaced_custom_object(
        GROUP, "v1", namespace, widgets, _widget(widgets, "good", 3, 5)
    )
    assert created["spec"] == {"replicas": 3, "maxReplicas": 5}


async def test_status_subresource_ignores_spec_changes(
    api: ApiClient, namespace: str, widgets: str
) -> None:
    objects = CustomObjectsApi(api)
    await objects.create_namespaced_custom_object(
        GROUP, "v1", namespace, widgets, _widget(widgets, "w", 1, 2)
    )
    patched = await objects.patch_namespaced_custom_object_status(
        GROUP,
        "v1",
        namespace,
        widgets,
        "w",
        [
            {"op": "replace", "path": "/spec/replicas", "value": 2},
            {"op": "add", "path": "/status", "value": {"observed": 7}},
        ],
    )
    assert patched["status"] == {"observed": 7}
    assert patched["spec"]["replicas"] == 1

    stored = await objects.get_namespaced_custom_object(GROUP, "v1", namespace, widgets, "w")
    assert (stored["spec"]["replicas"], stored["status"]["observed"]) == (1, 7)


async def test_watch_resumes_from_a_resource_version(api: ApiClient, namespace: str) -> None:
    core = CoreV1Api(api)
    first = await core.create_namespaced_config_map(namespace, _config_map("first"))
    resume_from = first.metadata.resource_version
    # Changes made while nobody watches: a watch resumed from `resume_from` must replay them.
    await core.create_namespaced_config_map(namespace, _config_map("second"))
    await core.patch_namespaced_config_map("first", namespace, {"data": {"k": "v"}})

    seen: list[tuple[str, str]] = []
    stream = watch.Watch()
    async with asyncio.timeout(30):
        async for event in stream.stream(
            core.list_namespaced_config_map,
            namespace,
            resource_version=resume_from,
            timeout_seconds=20,
        ):
            if event["object"].metadata.name == "kube-root-ca.crt":
                continue  # the controller-manager adds it to every new namespace, at any moment
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 2:
                stream.stop()
    assert seen == [("ADDED", "second"), ("MODIFIED", "first")]


async def test_a_too_old_resource_version_is_410_gone(
    api: ApiClient, namespace: str, widgets: str
) -> None:
    objects = CustomObjectsApi(api)
    await objects.create_namespaced_custom_object(
        GROUP, "v1", namespace, widgets, _widget(widgets, "w", 1, 2)
    )
    # The CRD's watch cache starts at the CRD's creation: resource version 1 is older than
    # anything it can replay, so the client is told to relist.
    response = await api.call_api(
        f"/apis/{GROUP}/v1/namespaces/{namespace}/{widgets}",
        "GET",
        query_params=[("watch", "true"), ("resourceVersion", "1"), ("timeoutSeconds", "5")],
        auth_settings=["BearerToken"],
        _preload_content=False,
        _return_http_data_only=True,
    )
    async with asyncio.timeout(10):
        line = await response.content.readline()
    response.release()
    assert line, "the watch closed without an event"
    event = json.loads(line)
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410
    assert event["object"]["reason"] == "Expired"
    assert event["object"]["message"].startswith("too old resource version: 1 (")
