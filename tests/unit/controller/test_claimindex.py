"""The claim index answers as a scan of the cached Canaries would, through every change."""

from __future__ import annotations

import functools
import random
from typing import Any

from canary.controller.cache import ObjectCache
from canary.controller.claimindex import ClaimIndex, Scanned
from canary.controller.claims import claimant

claimant_of = functools.partial(claimant, default_provider="linkerd")


def canary(name: str, *, namespace: str, target: str, apex: str = "", version: int = 1) -> Any:
    service: dict[str, Any] = {"port": 80, **({"name": apex} if apex else {})}
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{namespace}-{name}",
            "resourceVersion": str(version),
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"targetRef": {"kind": "Deployment", "name": target}, "service": service},
    }


def names(claimants: Any) -> list[str]:
    return sorted(c.name for c in claimants)


def test_only_canaries_sharing_a_claim_in_the_same_namespace_are_neighbours() -> None:
    cache = ObjectCache()
    index = ClaimIndex(claimant_of)
    cache.follow("canaries", index)
    cache.replace(
        "canaries",
        None,
        (
            canary("a", namespace="team", target="web"),
            canary("b", namespace="team", target="web-primary"),  # a's primary as its target
            canary("c", namespace="team", target="api", apex="web"),  # a's Services
            canary("d", namespace="team", target="other"),
            canary("e", namespace="elsewhere", target="web"),
        ),
    )
    ours = claimant_of(canary("a", namespace="team", target="web"))
    assert names(index.sharing(ours)) == ["b", "c"]
    assert index.known("uid-elsewhere-e")
    assert not index.known("uid-team-gone")

    cache.delete("canaries", canary("b", namespace="team", target="web-primary"))
    cache.put("canaries", canary("c", namespace="team", target="api", version=2))  # apex: api
    assert names(index.sharing(ours)) == []
    assert not index.known("uid-team-b")

    cache.replace("canaries", "elsewhere", ())
    assert not index.known("uid-elsewhere-e")
    assert index.known("uid-team-d"), "a relist of one namespace leaves the others"


def test_the_index_agrees_with_a_scan_through_random_changes() -> None:
    rng = random.Random(7)  # noqa: S311 - a reproducible sequence of changes, not a secret
    cache = ObjectCache()
    index = ClaimIndex(claimant_of)
    cache.follow("canaries", index)
    live: dict[tuple[str, str], Any] = {}
    for version in range(1, 400):
        namespace, name = rng.choice(["a", "b"]), f"c{rng.randrange(12)}"
        action = rng.random()
        if action < 0.15:
            cache.delete(
                "canaries",
                live.pop((namespace, name), canary(name, namespace=namespace, target="x")),
            )
        elif action < 0.2:
            kept = tuple(obj for (ns, _), obj in live.items() if ns == namespace)
            cache.replace("canaries", namespace, kept)
        else:
            obj = canary(
                name,
                namespace=namespace,
                target=rng.choice(["web", "api", "web-primary", "db"]),
                apex=rng.choice(["", "web", "api"]),
                version=version,
            )
            live[(namespace, name)] = obj
            cache.put("canaries", obj)
        for (ns, _), obj in live.items():
            ours = claimant_of(obj)
            scanned = Scanned(cache.items("canaries", ns), claimant_of)
            assert names(index.sharing(ours)) == names(scanned.sharing(ours))
        assert {c.uid for c in map(claimant_of, live.values())} == {
            uid
            for uid in (f"uid-{ns}-{n}" for ns in "ab" for n in (f"c{i}" for i in range(12)))
            if index.known(uid)
        }
