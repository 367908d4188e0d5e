"""Plain-dict manifests as request bodies of the generated, typed API client.

kubernetes_asyncio's methods are annotated with its model classes (V1Deployment, ...) but accept
any JSON-serialisable mapping at runtime, which is how manifests are written and read here. This
is the one place where that is declared to the type checker.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

Model = TypeVar("Model")


def body(manifest: dict[str, Any], _model: type[Model]) -> Model:
    """`manifest` as a request body where the client's signature asks for `_model`."""
    return cast("Model", manifest)
