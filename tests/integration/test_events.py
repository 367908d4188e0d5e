"""Events are aggregated against the real API server: repeats raise the `count` of one Event,
similar events combine past client-go's limit, held-back counts are written by a flush, and an
Event deleted meanwhile is created again with its count."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio.client import ApiClient, CoreV1Api

from canary.kube import resources
from canary.kube.correlator import COMBINED_PREFIX, EventCorrelator
from canary.kube.events import EVENT, flush_events, record_event, use_correlator


async def _involved(api: ApiClient, namespace: str) -> dict[str, Any]:
    """A real object for the events to be about."""
    return await resources.create(
        api,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "subject", "namespace": namespace},
        },
    )


async def _events(api: ApiClient, namespace: str) -> list[tuple[str, str, int]]:
    found = await CoreV1Api(api).list_namespaced_event(namespace)
    return sorted((e.reason or "", e.message or "", e.count or 0) for e in found.items)


async def test_repeats_count_on_one_event(api: ApiClient, namespace: str) -> None:
    subject = await _involved(api, namespace)
    use_correlator(api, EventCorrelator(patch_interval=3600))

    for _ in range(5):
        await record_event(api, subject, reason="Waiting", message="Waiting for approval")
    assert await _events(api, namespace) == [("Waiting", "Waiting for approval", 1)]
    assert await flush_events(api, everything=True) == 1

    assert await _events(api, namespace) == [("Waiting", "Waiting for approval", 5)]


async def test_similar_events_combine_past_ten_messages(api: ApiClient, namespace: str) -> None:
    subject = await _involved(api, namespace)
    use_correlator(api, EventCorrelator(patch_interval=0))

    for weight in range(1, 14):
        await record_event(
            api, subject, reason="Advance", message=f"Advanced canary weight to {weight}"
        )

    found = await _events(api, namespace)
    separate = [e for e in found if not e[1].startswith(COMBINED_PREFIX)]
    assert sorted(int(m.rsplit(" ", 1)[1]) for _, m, _ in separate) == list(range(1, 11))
    assert all(count == 1 for _, _, count in separate)
    combined = [e for e in found if e[1].startswith(COMBINED_PREFIX)]
    assert combined == [("Advance", COMBINED_PREFIX + "Advanced canary weight to 13", 3)]


async def test_an_event_deleted_meanwhile_is_created_again(api: ApiClient, namespace: str) -> None:
    subject = await _involved(api, namespace)
    use_correlator(api, EventCorrelator(patch_interval=0))
    await record_event(api, subject, reason="Waiting", message="held", warning=True)
    [event] = (await CoreV1Api(api).list_namespaced_event(namespace)).items
    await resources.delete(api, EVENT, event.metadata.name, namespace=namespace)

    await record_event(api, subject, reason="Waiting", message="held", warning=True)

    [again] = (await CoreV1Api(api).list_namespaced_event(namespace)).items
    assert (again.metadata.name, again.count, again.type) == (event.metadata.name, 2, "Warning")
