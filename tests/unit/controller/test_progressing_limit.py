"""The shell's side of --max-progressing: counting releases under way, never one's own."""

from __future__ import annotations

from typing import cast

from kubernetes_asyncio.client import ApiClient

from canary.controller.reconcile import Reconciler
from canary.controller.settings import Settings


def _reconciler(limit: int) -> Reconciler:
    settings = Settings(
        kubeconfig=None,
        prometheus_url="http://127.0.0.1:9",
        provider="linkerd",
        namespaces=(),
        log_format="console",
        log_level="info",
        listen="",
        min_interval=1,
        max_parallel=1,
        max_progressing=limit,
        prometheus_timeout=1,
    )
    return Reconciler(cast("ApiClient", None), settings)  # start_blocked makes no API call


def test_releases_under_way_fill_the_limit_and_steady_ones_do_not() -> None:
    reconciler = _reconciler(2)
    reconciler.note_phase(("a", "one"), "Progressing")
    reconciler.note_phase(("a", "two"), "Succeeded")
    assert reconciler.start_blocked(("b", "three")) == ""
    reconciler.note_phase(("a", "two"), "Promoting")
    assert reconciler.start_blocked(("b", "three")) == (
        "2 canaries are progressing (limit 2, --max-progressing)"
    )
    # A canary's own run does not count against itself (it may restart for a newer revision).
    assert reconciler.start_blocked(("a", "one")) == ""
    reconciler.note_phase(("a", "one"), None)  # deleted
    assert reconciler.start_blocked(("b", "three")) == ""


def test_zero_means_no_limit() -> None:
    reconciler = _reconciler(0)
    for index in range(50):
        reconciler.note_phase(("a", str(index)), "Progressing")
    assert reconciler.start_blocked(("b", "new")) == ""
