"""The end-to-end harness: the controller as its own process, the objects a release needs, and a
recorder of what the cluster went through.

Each test runs its own controller process, restricted with `--namespaces` to the test's
namespace, so tests never see each other's Canaries and a test may kill its controller with
SIGKILL and start another. Tests assert on recorded history (every distinct TrafficSplit weight,
Canary status and primary revision, with the monotonic time it was seen) and on final state,
never on the order of the controller's calls. Nothing here sleeps to synchronise: every wait
polls with a deadline and fails with what it saw last.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

from kubernetes_asyncio.client import ApiClient, CoreV1Api

from canary.kube import resources
from canary.kube.resources import CANARY, DEPLOYMENT, TRAFFIC_SPLIT, ResourceKind
from canary.kube.watch import WatchEvent, watch
from canary.sandbox.controller import LeaderElection, controller_argv
from canary.sandbox.ports import free_ports
from canary.sandbox.state import SandboxState
from tests.integration.waiting import eventually, until_serving

T = TypeVar("T")

REPOSITORY: Final = Path(__file__).resolve().parents[2]
TEST_MANAGER: Final = "canary-e2e-test"  # the field manager of everything the tests write
REVISION_ANNOTATION: Final = "canary.dev/revision"
ERROR_RATE_ANNOTATION: Final = "meshsim.canary.dev/error-rate"
LATENCY_ANNOTATION: Final = "meshsim.canary.dev/latency-ms"
RATE_ANNOTATION: Final = "meshsim.canary.dev/rate"
IMAGE: Final = "ghcr.io/stefanprodan/podinfo"


CONTROLLER_READY_WITHIN: Final = 30.0
CONTROLLER_STOP_WITHIN: Final = 10.0
POLL: Final = 0.05


# --- the controller process ------------------------------------------------------------------


@dataclass
class Controller:
    """One `canary run` process and the file its output goes to."""

    process: subprocess.Popen[bytes]
    log: Path
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError as error:
            return f"(cannot read {self.log}: {error})"
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> int:
        """SIGKILL, as `kill -9` does; the exit status (-9)."""
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(timeout=CONTROLLER_STOP_WITHIN)

    async def stop(self) -> int:
        """SIGTERM, then SIGKILL when it has not exited after a deadline; the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                return await asyncio.to_thread(self.process.wait, CONTROLLER_STOP_WITHIN)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return await asyncio.to_thread(self.process.wait, CONTROLLER_STOP_WITHIN)


async def start_controller(
    sandbox: SandboxState,
    *,
    namespace: str,
    log: Path,
    min_interval: float = 1.0,
    leader_election: LeaderElection | None = None,
    kubeconfig: Path | None = None,
    extra: Sequence[str] = (),
) -> Controller:
    """Start `canary run` for `namespace` and wait until its /readyz answers 200 (with
    `leader_election`, a replica waiting for the Lease is ready too). `kubeconfig` replaces the
    sandbox's own (to send the process's requests through a recording proxy); `extra` flags
    are added to the command line."""
    port = free_ports(1)[0]
    if kubeconfig is not None:
        sandbox = dataclasses.replace(sandbox, kubeconfig=str(kubeconfig))
    argv = controller_argv(
        sandbox,
        namespace=namespace,
        port=port,
        min_interval=min_interval,
        leader_election=leader_election,
        extra=extra,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANARY_")}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        # Popen only forks and execs; waiting for the process happens off the loop (`stop`).
        process = subprocess.Popen(  # noqa: ASYNC220
            argv, stdout=output, stderr=subprocess.STDOUT, cwd=REPOSITORY, env=env
        )
    controller = Controller(process=process, log=log, port=port)
    try:
        await _wait_ready(controller)
    except BaseException:
        await controller.stop()
        raise
    return controller


async def _wait_ready(controller: Controller) -> None:
    def exited() -> str | None:
        code = controller.process.poll()
        if code is None:
            return None
        return f"exited with {code} before it was ready; log {controller.log}:\n{controller.tail()}"

    await until_serving(
        f"http://127.0.0.1:{controller.port}/readyz",
        within=CONTROLLER_READY_WITHIN,
        what=f"the controller (log {controller.log})",
        exited=exited,
    )


@dataclass
class Controllers:
    """Starts controller processes for one test's namespace (the `controllers` fixture stops
    them all after the test)."""

    sandbox: SandboxState
    namespace: str
    directory: Path
    started: list[Controller] = field(default_factory=list)

    async def start(
        self,
        *,
        leader_election: LeaderElection | None = None,
        kubeconfig: Path | None = None,
        extra: Sequence[str] = (),
    ) -> Controller:
        log = self.directory / f"controller-{len(self.started) + 1}.log"
        print(f"controller log: {log}")  # shown with the output of a failed test
        controller = await start_controller(
            self.sandbox,
            namespace=self.namespace,
            log=log,
            leader_election=leader_election,
            kubeconfig=kubeconfig,
            extra=extra,
        )
        self.started.append(controller)
        return controller


# --- the CLI as a user runs it ---------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    code: int | None
    out: str
    err: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def _cli_env(sandbox: SandboxState) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANARY_")}
    return {**env, "KUBECONFIG": sandbox.kubeconfig}


def _interruptible() -> None:
    """In the CLI's child process, before exec: SIGINT back to its default, as in a terminal.
    A shell without job control starts background commands with SIGINT ignored, and a process
    inherits that (CI runs the suite so): the CLI would then never see a SIGINT sent to it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def start_cli(sandbox: SandboxState, *args: str) -> asyncio.subprocess.Process:
    """`canary ARGS...` as its own process on the sandbox, its output piped, interruptible
    with SIGINT as a user's Ctrl-C interrupts it."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "canary.cli.main",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_cli_env(sandbox),
        cwd=REPOSITORY,
        preexec_fn=_interruptible,  # only resets a signal: safe beside threads
    )


async def finish_cli(process: asyncio.subprocess.Process, *, within: float) -> Ran:
    """The process's exit and whole output; killed past `within` seconds. One reader collects
    the output throughout: a second `communicate()` after a timeout would have lost what the
    first had already read."""
    reading = asyncio.ensure_future(process.communicate())
    try:
        out, err = await asyncio.wait_for(asyncio.shield(reading), within)
    except TimeoutError:
        process.kill()
        out, err = await reading
        raise AssertionError(
            f"the CLI did not exit within {within:g} s:\n{Ran(None, out.decode(), err.decode())}"
        ) from None
    return Ran(process.returncode, out.decode(), err.decode())


async def run_cli(sandbox: SandboxState, *args: str, within: float = 120) -> Ran:
    return await finish_cli(await start_cli(sandbox, *args), within=within)


# --- manifests and changes -------------------------------------------------------------------


def deployment(
    name: str,
    *,
    namespace: str,
    tag: str = "6.7.0",
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A podinfo-like Deployment: 2 replicas, selector app=<name>, port 9898."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": template(name, tag=tag, annotations=annotations),
        },
    }


def template(
    name: str,
    *,
    tag: str,
    annotations: Mapping[str, str] | None = None,
    node_selector: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "podinfod",
                "image": f"{IMAGE}:{tag}",
                "command": ["./podinfo", "--port=9898"],
                "ports": [{"name": "http", "containerPort": 9898, "protocol": "TCP"}],
            }
        ]
    }
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    metadata: dict[str, Any] = {"labels": {"app": name}}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"metadata": metadata, "spec": spec}


def canary(
    name: str,
    *,
    namespace: str,
    interval: str = "2s",
    threshold: int = 2,
    step_weights: list[int] | None = None,
    step_weight: int | None = None,
    max_weight: int | None = None,
    max_duration_ms: float = 500,
    progress_deadline_seconds: int = 60,
) -> dict[str, Any]:
    """A Canary of Deployment `name` judged by the builtin success rate and p99 latency."""
    analysis: dict[str, Any] = {
        "interval": interval,
        "threshold": threshold,
        "metrics": [
            {
                "name": "request-success-rate",
                "interval": "10s",
                "thresholdRange": {"min": 99},
            },
            {
                "name": "request-duration",
                "interval": "10s",
                "thresholdRange": {"max": max_duration_ms},
            },
        ],
    }
    if step_weights is not None:
        analysis["stepWeights"] = step_weights
    if step_weight is not None:
        analysis["stepWeight"] = step_weight
    if max_weight is not None:
        analysis["maxWeight"] = max_weight
    return {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Canary",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "provider": "linkerd",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "progressDeadlineSeconds": progress_deadline_seconds,
            "service": {"port": 9898},
            "analysis": analysis,
        },
    }


async def apply(api: ApiClient, manifest: Mapping[str, Any]) -> dict[str, Any]:
    return await resources.apply(api, manifest, field_manager=TEST_MANAGER)


async def set_template(
    api: ApiClient,
    name: str,
    *,
    namespace: str,
    tag: str,
    annotations: Mapping[str, str] | None = None,
    node_selector: Mapping[str, str] | None = None,
) -> None:
    """Release a new version, as `kubectl set image` would: patch only the pod template."""
    new = template(name, tag=tag, annotations=annotations, node_selector=node_selector)
    await resources.merge_patch(
        api,
        DEPLOYMENT,
        name,
        namespace=namespace,
        patch={"spec": {"template": new}},
        field_manager=TEST_MANAGER,
    )


# --- reading state ---------------------------------------------------------------------------


async def get_deployment(api: ApiClient, name: str, *, namespace: str) -> dict[str, Any]:
    found = await resources.get(api, DEPLOYMENT, name, namespace=namespace)
    assert found is not None, f"Deployment {namespace}/{name} does not exist"
    return found


async def get_canary(api: ApiClient, name: str, *, namespace: str) -> dict[str, Any]:
    found = await resources.get(api, CANARY, name, namespace=namespace)
    assert found is not None, f"Canary {namespace}/{name} does not exist"
    return found


def image_of(manifest: Mapping[str, Any]) -> str:
    return str(manifest["spec"]["template"]["spec"]["containers"][0]["image"])


def template_revision(manifest: Mapping[str, Any]) -> str:
    annotations = manifest["spec"]["template"].get("metadata", {}).get("annotations") or {}
    return str(annotations.get(REVISION_ANNOTATION, ""))


@dataclass(frozen=True)
class Event:
    reason: str
    type: str
    message: str


async def events_of(api: ApiClient, name: str, *, namespace: str) -> list[Event]:
    """The events recorded about the Canary `name`."""
    found = await CoreV1Api(api).list_namespaced_event(
        namespace, field_selector=f"involvedObject.kind=Canary,involvedObject.name={name}"
    )
    return [Event(e.reason or "", e.type or "", e.message or "") for e in found.items]


async def events_including(
    api: ApiClient, name: str, *, namespace: str, reason: str, within: float = 10.0
) -> list[Event]:
    """The events about the Canary `name` once one of them has `reason`: the controller records
    a decision's events right after the status that says it, so a phase seen is not yet proof
    that its events are written."""
    return await eventually(
        functools.partial(events_of, api, name, namespace=namespace),
        until=lambda events: any(event.reason == reason for event in events),
        within=within,
        what=f"a {reason} event about {namespace}/{name}",
    )


# --- the recorder ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample(Generic[T]):
    at: float  # time.monotonic() when the recorder saw it
    value: T


@dataclass
class History(Generic[T]):
    """Every distinct value in the order seen (a value equal to the previous one is not kept)."""

    samples: list[Sample[T]] = field(default_factory=list)

    def add(self, value: T) -> None:
        if not self.samples or self.samples[-1].value != value:
            self.samples.append(Sample(time.monotonic(), value))

    @property
    def values(self) -> list[T]:
        return [s.value for s in self.samples]

    @property
    def last(self) -> T | None:
        return self.samples[-1].value if self.samples else None


@dataclass(frozen=True)
class CanaryView:
    """The parts of a Canary's status a test follows."""

    phase: str
    weight: int
    failed_checks: int
    applied: str  # status.lastAppliedSpec
    promoted: str  # status.lastPromotedSpec
    last_step: str = ""  # status.lastStepTime (RFC 3339, the controller's clock)

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> CanaryView:
        status = obj.get("status") or {}
        return cls(
            phase=str(status.get("phase") or ""),
            weight=int(status.get("canaryWeight") or 0),
            failed_checks=int(status.get("failedChecks") or 0),
            applied=str(status.get("lastAppliedSpec") or ""),
            promoted=str(status.get("lastPromotedSpec") or ""),
            last_step=str(status.get("lastStepTime") or ""),
        )


class Recorder:
    """Watches one Canary, its TrafficSplit and its primary, and keeps their histories.

    `weights` holds (primary, canary) from the TrafficSplit's backends; `statuses` the
    Canary's `CanaryView`s; `primary_revisions` the primary's pod-template revision annotation.
    """

    def __init__(
        self,
        api: ApiClient,
        *,
        namespace: str,
        name: str,
        route: ResourceKind = TRAFFIC_SPLIT,
        weights_of: Callable[[Mapping[str, Any], str], tuple[int, int] | None] | None = None,
        primary_kind: ResourceKind = DEPLOYMENT,
    ) -> None:
        self.api = api
        self.primary_kind = primary_kind  # the kind of the target, and so of its primary
        self.namespace = namespace
        self.name = name
        # The route object to follow and how to read (primary, canary) from it (None: not the
        # Canary's route object); a TrafficSplit's backends unless told otherwise.
        self.route = route
        self.weights_of = weights_of or split_weights_of
        self.weights: History[tuple[int, int]] = History()
        self.statuses: History[CanaryView] = History()
        self.primary_revisions: History[str] = History()
        self.canaries: list[dict[str, Any]] = []  # every version of the Canary seen, in order
        self._synced: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def canary_weights(self) -> list[int]:
        return [canary for _, canary in self.weights.values]

    @property
    def phases(self) -> list[str]:
        phases: list[str] = []
        for view in self.statuses.values:
            if not phases or phases[-1] != view.phase:
                phases.append(view.phase)
        return phases

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Recorder]:
        """Record from now until the block ends; entered once every watch has listed."""
        follows: list[tuple[str, ResourceKind, Callable[[dict[str, Any]], None]]] = [
            ("split", self.route, self._split),
            ("canary", CANARY, self._canary),
            ("primary", self.primary_kind, self._primary),
        ]
        self._tasks = [
            asyncio.create_task(self._follow(label, resource, handle), name=f"record {label}")
            for label, resource, handle in follows
        ]
        try:
            await self.wait(
                lambda: self._synced == {label for label, _, _ in follows},
                within=30,
                what="the recorder's watches listed",
            )
            yield self
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait(self, condition: Callable[[], bool], *, within: float, what: str) -> None:
        """Until `condition()` holds on the recorded history; fail with the history."""
        deadline = time.monotonic() + within
        while not condition():
            for task in self._tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise AssertionError(f"the recorder stopped: {task.exception()!r}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not seen within {within:g} s; {self.describe()}")
            await asyncio.sleep(POLL)

    async def until_phase(self, phase: str, *, within: float = 30.0) -> None:
        """Until the Canary's latest recorded status is in `phase`."""
        await self.wait(
            lambda: self.statuses.last is not None and self.statuses.last.phase == phase,
            within=within,
            what=f"phase {phase}",
        )

    async def outcome(self, *, since: float, within: float) -> CanaryView:
        """The first Succeeded or Failed status recorded after `since`, once a run started."""

        def finished() -> CanaryView | None:
            views = [s for s in self.statuses.samples if s.at >= since]
            started = next((i for i, s in enumerate(views) if s.value.phase == "Progressing"), None)
            if started is None:
                return None
            return next(
                (s.value for s in views[started:] if s.value.phase in {"Succeeded", "Failed"}),
                None,
            )

        await self.wait(lambda: finished() is not None, within=within, what="a finished run")
        result = finished()
        assert result is not None
        return result

    def describe(self) -> str:
        return (
            f"canary weights seen {self.canary_weights}; phases seen {self.phases}; "
            f"last status {self.statuses.last}; primary revisions {self.primary_revisions.values}"
        )

    async def _follow(
        self, label: str, resource: ResourceKind, handle: Callable[[dict[str, Any]], None]
    ) -> None:
        async for event in watch(self.api, resource, namespace=self.namespace):
            self._on(event, handle)
            if event.kind == "SYNCED":
                self._synced.add(label)

    @staticmethod
    def _on(event: WatchEvent, handle: Callable[[dict[str, Any]], None]) -> None:
        if event.kind == "DELETED":
            return
        for obj in event.items if event.kind == "SYNCED" else (event.object,):
            handle(obj)

    def _named(self, obj: Mapping[str, Any], name: str) -> bool:
        return bool((obj.get("metadata") or {}).get("name") == name)

    def _split(self, obj: dict[str, Any]) -> None:
        weights = self.weights_of(obj, self.name)
        if weights is not None:
            self.weights.add(weights)

    def _canary(self, obj: dict[str, Any]) -> None:
        if self._named(obj, self.name):
            self.canaries.append(obj)
        # Only a status the controller wrote: the API server serves a new Canary with the
        # CRD's default `{observedGeneration: 0}` (for kstatus), which is not one.
        written = set(obj.get("status") or {}) - {"observedGeneration"}
        if self._named(obj, self.name) and written:
            self.statuses.add(CanaryView.of(obj))

    def _primary(self, obj: dict[str, Any]) -> None:
        if self._named(obj, f"{self.name}-primary"):
            self.primary_revisions.add(template_revision(obj))


def split_weights_of(obj: Mapping[str, Any], name: str) -> tuple[int, int] | None:
    """(primary, canary) of the TrafficSplit `name`; None for any other object."""
    if (obj.get("metadata") or {}).get("name") != name:
        return None
    backends = {
        b.get("service"): int(b.get("weight") or 0)
        for b in (obj.get("spec") or {}).get("backends") or []
    }
    return (backends.get(f"{name}-primary", 0), backends.get(f"{name}-canary", 0))


def http_route_weights_of(obj: Mapping[str, Any], name: str) -> tuple[int, int] | None:
    """(primary, canary) of the weighted rule of the HTTPRoute `name`; None for others."""
    if (obj.get("metadata") or {}).get("name") != name:
        return None
    for rule in (obj.get("spec") or {}).get("rules") or []:
        weights = {r.get("name"): int(r.get("weight", 1)) for r in rule.get("backendRefs") or []}
        if set(weights) == {f"{name}-primary", f"{name}-canary"}:
            return (weights[f"{name}-primary"], weights[f"{name}-canary"])
    return None


def apex_weights_of(obj: Mapping[str, Any], name: str) -> tuple[int, int] | None:
    """The apex Service `name` of blue/green as weights: (100, 0) while it selects the
    primary's pods (`app: <name>-primary`), (0, 100) while it selects the canary's."""
    if (obj.get("metadata") or {}).get("name") != name:
        return None
    selected = ((obj.get("spec") or {}).get("selector") or {}).get("app")
    return {f"{name}-primary": (100, 0), name: (0, 100)}.get(str(selected))
