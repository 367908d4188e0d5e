"""The controller's own telemetry after a real release: /metrics, /healthz and its JSON logs.

One healthy release is driven to Succeeded by a controller process; then its /metrics is scraped
and every series the docs promise (docs/operating.md, "Metrics") must be there with plausible
values. No timing is asserted beyond plausibility: lateness and lag are only bounded by what
would mean the controller is broken.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import aiohttp
from kubernetes_asyncio.client import ApiClient
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import (
    Controller,
    Recorder,
    apply,
    canary,
    deployment,
    set_template,
)
from tests.integration.waiting import eventually

NAME = "podinfo"
INTERVAL = 2.0  # seconds: the Canary's analysis.interval
RUN_WITHIN = 90.0


class Scrape:
    """One /metrics answer, parsed: series name -> [(labels, value)]."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples.setdefault(sample.name, []).append((sample.labels, sample.value))

    def value(self, series: str, /, **labels: str) -> float | None:
        """The value of the one sample of `series` with exactly these labels, or None."""
        for found, value in self.samples.get(series, []):
            if found == labels:
                return value
        return None

    def total(self, series: str, *, where: Mapping[str, object] | None = None) -> float:
        """The sum of `series` over the samples whose labels pass `where` (label -> predicate
        or value)."""
        total = 0.0
        for labels, value in self.samples.get(series, []):
            if all(
                matcher(labels.get(key, "")) if callable(matcher) else labels.get(key) == matcher
                for key, matcher in (where or {}).items()
            ):
                total += value
        return total

    def __repr__(self) -> str:
        return f"Scrape({len(self.text)} bytes)"


async def _get(controller: Controller, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{controller.port}{path}"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(url) as response,
    ):
        return response.status, await response.text()


async def _scrape(controller: Controller) -> Scrape:
    status, text = await _get(controller, "/metrics")
    assert status == 200, text
    return Scrape(text)


def _two_hundreds(code: object) -> bool:
    return isinstance(code, str) and code.startswith("2")


async def test_after_a_release_the_metrics_describe_it(
    api: ApiClient, namespace: str, controller: Controller
) -> None:
    labels = {"name": NAME, "namespace": namespace}
    manifest = canary(
        NAME, namespace=namespace, interval=f"{INTERVAL:g}s", threshold=3, step_weights=[10, 30, 50]
    )
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        await apply(api, deployment(NAME, namespace=namespace))
        await apply(api, manifest)
        await recorder.until_phase("Initialized")
        # Initialized is not Progressing: Flagger's encoding says 1.
        await eventually(
            lambda: _scrape(controller),
            until=lambda scrape: scrape.value("flagger_canary_status", **labels) == 1,
            within=10,
            what="flagger_canary_status 1 once Initialized",
        )
        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", recorder.describe()

    # The phase gauge follows the decision, the outcome counter the status write that comes
    # after it: poll until both say Succeeded, never sleep.
    outcome_labels = {**labels, "deployment_strategy": "canary", "analysis_status": "completed"}
    scrape = await eventually(
        lambda: _scrape(controller),
        until=lambda scrape: (
            scrape.value("canary_canaries", namespace=namespace, phase="Succeeded") == 1
            and scrape.value("flagger_canary_successes_total", **outcome_labels) is not None
            and scrape.value("flagger_canary_weight", workload=NAME, namespace=namespace) == 0
        ),
        within=10,
        what="the metrics of a Succeeded Canary",
    )

    _assert_flagger_series(scrape, namespace)
    _assert_phases(scrape, namespace)
    _assert_internals(scrape)
    status, body = await _get(controller, "/healthz")
    assert (status, body) == (200, "ok")
    status, body = await _get(controller, "/readyz")
    assert (status, body) == (200, "ok")
    _assert_json_logs(controller)


def _assert_flagger_series(scrape: Scrape, namespace: str) -> None:
    """Flagger's series, with Flagger's names and labels (`name` is the target's name)."""
    labels = {"name": NAME, "namespace": namespace}
    assert scrape.value("flagger_canary_status", **labels) == 1
    assert scrape.value("flagger_canary_total", namespace=namespace) == 1
    primary = f"{NAME}-primary"
    assert scrape.value("flagger_canary_weight", workload=primary, namespace=namespace) == 100
    assert scrape.value("flagger_canary_weight", workload=NAME, namespace=namespace) == 0
    success_rate = scrape.value(
        "flagger_canary_metric_analysis", metric="request-success-rate", **labels
    )
    assert success_rate is not None, scrape.samples.get("flagger_canary_metric_analysis")
    assert 99 <= success_rate <= 100  # the check's range is min 99
    duration = scrape.value("flagger_canary_metric_analysis", metric="request-duration", **labels)
    assert duration is not None
    assert 0 <= duration <= 0.5  # seconds, as Flagger records it; the check's max is 500 ms
    ticks = scrape.value("flagger_canary_duration_seconds_count", **labels)
    assert ticks is not None
    assert ticks >= 3, "one observation per analysis tick: 10, 30, 50 and the promotion"
    outcome_labels = {**labels, "deployment_strategy": "canary", "analysis_status": "completed"}
    assert scrape.value("flagger_canary_successes_total", **outcome_labels) == 1
    assert scrape.value("flagger_canary_failures_total", **outcome_labels) is None
    assert scrape.total("flagger_info") == 1


def _assert_phases(scrape: Scrape, namespace: str) -> None:
    """Canaries by phase: every phase is exported, only Succeeded holds the one Canary."""
    phases = {
        found["phase"]: value
        for found, value in scrape.samples["canary_canaries"]
        if found["namespace"] == namespace
    }
    assert phases["Succeeded"] == 1
    assert sum(phases.values()) == 1
    assert {"Progressing", "Failed", "Initialized"} <= set(phases)


def _assert_internals(scrape: Scrape) -> None:
    """API requests by verb and code, tick lateness, loop lag, reconcile duration."""
    writes = scrape.total(
        "canary_api_requests_total",
        where={"verb": lambda verb: verb in {"PATCH", "PUT"}, "code": _two_hundreds},
    )
    assert writes > 0, scrape.samples.get("canary_api_requests_total")
    status_writes = scrape.total(
        "canary_api_requests_total",
        where={"verb": "PUT", "resource": "canaries/status", "code": _two_hundreds},
    )
    assert status_writes > 0
    timed = scrape.total(
        "canary_api_request_duration_seconds_count",
        where={"verb": "PUT", "resource": "canaries/status"},
    )
    assert timed >= status_writes, scrape.samples.get("canary_api_request_duration_seconds_count")
    late_ticks = scrape.value("canary_analysis_tick_lateness_seconds_count")
    lateness = scrape.value("canary_analysis_tick_lateness_seconds_sum")
    assert late_ticks is not None
    assert lateness is not None
    assert late_ticks >= 2, "every tick after the first is paced by its predecessor"
    # Plausible only: on average a tick runs well within one interval of its due time.
    assert 0 <= lateness / late_ticks < INTERVAL, (lateness, late_ticks)
    lag_samples = scrape.value("canary_event_loop_lag_seconds_count")
    assert lag_samples is not None
    assert lag_samples > 0
    reconciles = scrape.value("canary_reconcile_duration_seconds_count")
    assert reconciles is not None
    assert reconciles > 0
    assert scrape.total("canary_reconcile_total", where={"result": "ok"}) > 0


def _assert_json_logs(controller: Controller) -> None:
    """The controller's log (stderr, --log-format=json) is one JSON object per line, each with
    an `event`, a `level` and an ISO `timestamp`, and the release is in it."""
    text = controller.log.read_text()
    lines = [line for line in text[: text.rfind("\n") + 1].splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every complete line so far
    assert all({"event", "level", "timestamp"} <= set(record) for record in records), records
    events = {record["event"] for record in records}
    assert {"controller_started", "phase_changed", "canary_event"} <= events, events
