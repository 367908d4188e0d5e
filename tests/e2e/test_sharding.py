"""Two shards over one sandbox: each controller releases only the Canaries its label selector
matches, each holds its own Lease, and a Canary no shard selects is left alone.

`canary run --watch-label-selector 'sharding.canary.dev/key in (shardN)'`, as Flux shards its
controllers; the controllers' JSON logs say which one decided what about which Canary.
"""

from __future__ import annotations

import json
from functools import partial

from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import LEASE
from tests.e2e.harness import (
    Controller,
    Controllers,
    apply,
    canary,
    deployment,
    get_canary,
    set_template,
)
from tests.integration.waiting import eventually

SHARD_KEY = "sharding.canary.dev/key"
SHARDS = {"alpha": "shard1", "beta": "shard1", "gamma": "shard2"}
UNSHARDED = "delta"  # labelled for no shard: neither controller may touch it


async def _phases(api: ApiClient, namespace: str) -> dict[str, str]:
    return {
        name: str((await get_canary(api, name, namespace=namespace)).get("status", {}).get("phase"))
        for name in [*SHARDS, UNSHARDED]
    }


def _decided(controller: Controller) -> set[str]:
    """The Canaries this controller changed the phase of, from its JSON log."""
    names = set()
    for line in controller.log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "phase_changed":
            names.add(entry["canary"])
    return names


async def test_two_shards_each_release_only_their_canaries(
    api: ApiClient, namespace: str, controllers: Controllers
) -> None:
    shard1, shard2 = [
        await controllers.start(
            extra=[
                f"--watch-label-selector={SHARD_KEY} in ({shard})",
                "--leader-elect",
                f"--leader-election-namespace={namespace}",
            ]
        )
        for shard in ("shard1", "shard2")
    ]
    for name in [*SHARDS, UNSHARDED]:
        manifest = canary(name, namespace=namespace, step_weight=50)
        manifest["metadata"]["labels"] = {SHARD_KEY: SHARDS.get(name, "shard3")}
        await apply(api, deployment(name, namespace=namespace))
        await apply(api, manifest)

    await eventually(
        partial(_phases, api, namespace),
        until=lambda phases: all(phases[name] == "Initialized" for name in SHARDS),
        within=90,
        what="every sharded Canary Initialized",
    )
    for name in SHARDS:
        await set_template(api, name, namespace=namespace, tag="6.7.1")
    phases = await eventually(
        partial(_phases, api, namespace),
        until=lambda phases: all(phases[name] == "Succeeded" for name in SHARDS),
        within=120,
        what="every sharded Canary released",
    )

    assert phases[UNSHARDED] == "None", "no shard selects it: nobody wrote its status"
    assert _decided(shard1) == {"alpha", "beta"}
    assert _decided(shard2) == {"gamma"}
    leases = await resources.list_objects(api, LEASE, namespace=namespace) or []
    holders = {lease["metadata"]["name"]: lease["spec"].get("holderIdentity") for lease in leases}
    assert len(holders) == 2, holders
    assert all(holders.values()), holders
    assert len(set(holders.values())) == 2, holders
