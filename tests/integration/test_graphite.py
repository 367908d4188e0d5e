"""The Graphite provider against a real graphite-web (Debian's package, unpacked into the cache by
`canary sandbox build`), behind a basic-auth proxy as Graphite is deployed when it needs
credentials (graphite-web has no basic auth of its own).

The fixture writes whisper files with known points, runs graphite-web on a free port of
127.0.0.1 with Debian's Python, and puts an aiohttp proxy in front that refuses requests
without the right basic auth. Checks run through the controller's path (`run_checks`, the
template and its Secret on the sandbox's API server).
"""

from __future__ import annotations

import base64
import os
import subprocess
import textwrap
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from aiohttp import web
from kubernetes_asyncio.client import ApiClient

from canary.controller.checks import PrometheusPool
from canary.core.model import CheckResult, Verdict
from canary.kube import resources
from canary.sandbox.binaries import default_cache_root
from canary.sandbox.graphite import SYSTEM_PYTHON, cached_graphite, python_path
from tests.integration.crds import apply_with_crds
from tests.integration.local_http import free_port, serving
from tests.integration.metric_checks import canary_with, check_results, opaque_secret
from tests.integration.waiting import eventually

pytestmark = pytest.mark.integration

USER, PASSWORD = "graphite-reader", "gr-Pa55-word"
SEED = """
import sys, time, whisper
root = sys.argv[1]
now = int(time.time())
series = {
    "pass/a": [(now - 30, 0.25), (now - 20, 0.5)],
    "fail/a": [(now - 20, 7.0)],
    "nodata/a": [],
    "several/a": [(now - 20, 1.0)],
    "several/b": [(now - 20, 2.0)],
}
for name, points in series.items():
    path = f"{root}/app/{name}.wsp"
    import os; os.makedirs(os.path.dirname(path), exist_ok=True)
    whisper.create(path, [(10, 360)])
    if points:
        whisper.update_many(path, points)
"""
SETTINGS = """
import os
STORAGE_DIR = os.environ["GRAPHITE_STORAGE_DIR"]
SECRET_KEY = "test-only"
LOG_DIR = os.path.join(STORAGE_DIR, "log")
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.path.join(STORAGE_DIR, "graphite.db")}}
"""


@pytest.fixture(scope="module")
def graphite_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real graphite-web on 127.0.0.1 serving seeded whisper files; its URL."""
    unpacked = cached_graphite(default_cache_root())
    if unpacked is None or not SYSTEM_PYTHON.exists():
        pytest.fail("graphite-web is not in the cache: run `make build` (canary sandbox build)")
    root = tmp_path_factory.mktemp("graphite")
    (root / "storage" / "whisper").mkdir(parents=True)
    (root / "storage" / "log").mkdir()
    (root / "testsettings.py").write_text(textwrap.dedent(SETTINGS))
    env = {
        **os.environ,
        "PYTHONPATH": f"{python_path(unpacked)}:{root}",
        "GRAPHITE_SETTINGS_MODULE": "testsettings",
        "GRAPHITE_STORAGE_DIR": str(root / "storage"),
        "DJANGO_SETTINGS_MODULE": "graphite.settings",
    }
    python = str(SYSTEM_PYTHON)
    whisper_dir = str(root / "storage" / "whisper")
    subprocess.run([python, "-c", SEED, whisper_dir], env=env, check=True, timeout=60)
    migrate = [python, "-m", "django", "migrate", "--run-syncdb", "-v0"]
    subprocess.run(migrate, env=env, check=True, timeout=120, capture_output=True)
    port = free_port()
    log = (root / "graphite-web.log").open("w")
    server = subprocess.Popen(
        [python, "-m", "django", "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture
async def graphite(graphite_web: str) -> AsyncIterator[str]:
    """The basic-auth proxy in front of graphite-web, once graphite-web answers; its URL."""
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    async def ready() -> int:
        async with aiohttp.ClientSession() as session:
            url = f"{graphite_web}/render?target=app.pass.a&format=json"
            try:
                async with session.get(url) as response:
                    return response.status
            except aiohttp.ClientConnectionError:
                return 0

    await eventually(ready, until=lambda status: status == 200, within=60, what="graphite-web")

    async def proxy(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401, text="401 Authorization Required")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{graphite_web}{request.path_qs}") as answer,
        ):
            return web.Response(
                status=answer.status,
                body=await answer.read(),
                content_type=answer.content_type,
            )

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", proxy)
    async with serving(app) as url:
        yield url


async def _checks(
    api: ApiClient, namespace: str, pool: PrometheusPool, address: str, *, password: str
) -> dict[str, CheckResult]:
    await resources.apply(
        api, opaque_secret("graphite", namespace, {"username": USER, "password": password})
    )
    template = {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "MetricTemplate",
        "metadata": {"name": "graphite", "namespace": namespace},
        "spec": {
            "provider": {"type": "graphite", "address": address, "secretRef": {"name": "graphite"}},
            "query": "target={{ variables.fn }}(app.{{ variables.case }}.*)&from=-5min",
        },
    }
    await apply_with_crds(api, template)
    cases = {
        "pass": ("group", "pass"),
        "fail": ("group", "fail"),
        "nodata": ("group", "nodata"),
        "several": ("group", "several"),
        "error": ("noSuchFunction", "pass"),
    }
    metrics = [
        {
            "name": name,
            "templateRef": {"name": "graphite"},
            "templateVariables": {"fn": fn, "case": case},
            "thresholdRange": {"min": 0, "max": 1},
        }
        for name, (fn, case) in cases.items()
    ]
    return await check_results(api, pool, canary_with(namespace, metrics))


async def test_each_graphite_answer_gives_its_verdict_and_reason(
    api: ApiClient, namespace: str, pool: PrometheusPool, graphite: str
) -> None:
    results = await _checks(api, namespace, pool, graphite, password=PASSWORD)
    assert (results["pass"].verdict, results["pass"].value) == (Verdict.PASS, 0.5)
    assert (results["fail"].verdict, results["fail"].value) == (Verdict.FAIL, 7.0)
    assert "fail 7.00 > 1 (max)" in results["fail"].message
    assert (results["nodata"].verdict, results["nodata"].value) == (Verdict.FAIL, None)
    assert "no data" in results["nodata"].message
    assert "several series: the query returned 2 series" in results["several"].message
    error = results["error"].message
    assert "query error (HTTP 400 Bad Request" in error, error
    assert "unknown function: noSuchFunction" in error
    assert all(PASSWORD not in result.message for result in results.values())


async def test_a_wrong_password_is_refused(
    api: ApiClient, namespace: str, pool: PrometheusPool, graphite: str
) -> None:
    results = await _checks(api, namespace, pool, graphite, password="wrong")  # noqa: S106 - a wrong one, on purpose
    assert results["pass"].verdict is Verdict.FAIL
    assert "refused the credentials (HTTP 401 Unauthorized" in results["pass"].message
