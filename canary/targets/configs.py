"""Config tracking: the ConfigMaps and Secrets a pod template uses, and their `-primary` copies.

A change to a ConfigMap or Secret that the target's pods use is a new revision, just like a new
image: the revision covers the content of every *tracked* object (`TrackedConfigs.revision`).
The primary never uses the target's objects: it uses `<name>-primary` copies, written together
with its template when a revision is promoted, so an edit reaches the primary only through an
analysis. An object annotated `canary.dev/config-tracking: disabled` (or Flagger's
`flagger.app/config-tracking: disabled`) is not tracked: edits to it start nothing, and the
primary uses the object itself. Secrets of types that describe credentials for the cluster rather
than the application (service-account tokens, image pull secrets) are never tracked either.

References are found in `env[].valueFrom.{configMapKeyRef,secretKeyRef}`,
`envFrom[].{configMapRef,secretRef}` of containers and init containers, and in
`volumes[].{configMap,secret}` and `volumes[].projected.sources[].{configMap,secret}`.

This module is pure: the caller reads the objects (`canary.targets.tracking`) and passes dicts.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from canary.core.revision import config_checksum, revision
from canary.kube.resources import CanaryRef
from canary.targets.deployment import PRIMARY_SUFFIX

ConfigKind = Literal["configmap", "secret"]

TRACKING_ANNOTATIONS: Final = ("canary.dev/config-tracking", "flagger.app/config-tracking")
# Secret types an application reads as configuration; other types (service-account tokens,
# docker config) are the cluster's business and are left alone, as in Flagger.
TRACKED_SECRET_TYPES: Final = frozenset(
    {"Opaque", "kubernetes.io/basic-auth", "kubernetes.io/ssh-auth", "kubernetes.io/tls"}
)
_TOOLKIT_MARK: Final = "toolkit.fluxcd.io"  # GitOps ownership labels would prune the copies
_API_KINDS: Final[Mapping[ConfigKind, str]] = {"configmap": "ConfigMap", "secret": "Secret"}


@dataclass(frozen=True)
class ConfigRef:
    """One ConfigMap or Secret a pod template uses; optional if every use of it is optional."""

    kind: ConfigKind
    name: str
    optional: bool = False

    @property
    def key(self) -> str:
        """`configmap/<name>` or `secret/<name>`, as in `status.trackedConfigs`."""
        return f"{self.kind}/{self.name}"

    @property
    def api_kind(self) -> str:
        return _API_KINDS[self.kind]

    def describe(self, namespace: str) -> str:
        return f"{self.api_kind} {namespace}/{self.name}"


@dataclass(frozen=True)
class _Use:
    """One place in a pod spec naming a config: `holder[field]` is the name."""

    kind: ConfigKind
    holder: dict[str, Any]
    field: str
    optional: bool


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _use(kind: ConfigKind, holder: Any, name_field: str = "name") -> Iterator[_Use]:
    if isinstance(holder, dict) and isinstance(holder.get(name_field), str) and holder[name_field]:
        yield _Use(kind, holder, name_field, optional=holder.get("optional") is True)


def _container_uses(container: dict[str, Any]) -> Iterator[_Use]:
    for env in _as_list(container.get("env")):
        source = _as_dict(_as_dict(env).get("valueFrom"))
        yield from _use("configmap", source.get("configMapKeyRef"))
        yield from _use("secret", source.get("secretKeyRef"))
    for env_from in _as_list(container.get("envFrom")):
        yield from _use("configmap", _as_dict(env_from).get("configMapRef"))
        yield from _use("secret", _as_dict(env_from).get("secretRef"))


def _volume_uses(volume: dict[str, Any]) -> Iterator[_Use]:
    yield from _use("configmap", volume.get("configMap"))
    yield from _use("secret", volume.get("secret"), "secretName")
    for source in _as_list(_as_dict(volume.get("projected")).get("sources")):
        yield from _use("configmap", _as_dict(source).get("configMap"))
        yield from _use("secret", _as_dict(source).get("secret"))


def _uses(template: Mapping[str, Any]) -> Iterator[_Use]:
    spec = _as_dict(template.get("spec"))
    for group in ("initContainers", "containers"):
        for container in _as_list(spec.get(group)):
            yield from _container_uses(_as_dict(container))
    for volume in _as_list(spec.get("volumes")):
        yield from _volume_uses(_as_dict(volume))


def config_refs(template: Mapping[str, Any]) -> tuple[ConfigRef, ...]:
    """Every ConfigMap and Secret `template` uses, once each, ordered by key."""
    optional: dict[tuple[ConfigKind, str], bool] = {}
    for use in _uses(template):
        ref = (use.kind, str(use.holder[use.field]))
        optional[ref] = optional.get(ref, True) and use.optional
    return tuple(
        ConfigRef(kind, name, optional=is_optional)
        for (kind, name), is_optional in sorted(optional.items())
    )


def is_tracked(obj: Mapping[str, Any]) -> bool:
    """Whether edits to this ConfigMap or Secret are releases (not opted out, a tracked type)."""
    annotations = _as_dict(_as_dict(obj.get("metadata")).get("annotations"))
    for key in TRACKING_ANNOTATIONS:
        value = annotations.get(key)
        if isinstance(value, str) and value.strip().lower().startswith("disable"):
            return False
    if obj.get("kind") == "Secret":
        return (obj.get("type") or "Opaque") in TRACKED_SECRET_TYPES
    return True


def checksum(obj: Mapping[str, Any]) -> str:
    """The checksum of a ConfigMap's or Secret's content (`data` and `binaryData`).

    An object with only `data` has exactly `config_checksum(data)`. `binaryData` keys enter as
    `binaryData/<key>`: a data key cannot contain "/", so the two never collide.
    """
    content = {str(k): str(v) for k, v in _as_dict(obj.get("data")).items()}
    for key, value in _as_dict(obj.get("binaryData")).items():
        content[f"binaryData/{key}"] = str(value)
    return config_checksum(content)


def copy_name(name: str) -> str:
    return f"{name}{PRIMARY_SUFFIX}"


@dataclass(frozen=True)
class TrackedConfigs:
    """The configs of one pod template as read from the cluster.

    `objects` maps the key of every tracked object to the object; `missing` lists the
    references that must exist but do not (a missing optional reference is simply not tracked).
    """

    objects: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    missing: tuple[ConfigRef, ...] = ()

    @property
    def checksums(self) -> dict[str, str]:
        return {key: checksum(obj) for key, obj in sorted(self.objects.items())}

    def revision(self, template: Mapping[str, Any]) -> str:
        """The revision of `template` running with these configs."""
        return revision(template, self.checksums)

    def primary_template(self, template: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of `template` using the `-primary` copies of the tracked objects."""
        return with_copies(template, self.objects.keys())

    def primary_target(self, target: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of the target Deployment whose pod template uses the `-primary` copies."""
        result = dict(target)
        spec = dict(_as_dict(target.get("spec")))
        spec["template"] = self.primary_template(_as_dict(spec.get("template")))
        result["spec"] = spec
        return result


def tracked_configs(
    refs: Collection[ConfigRef], found: Mapping[str, Mapping[str, Any] | None]
) -> TrackedConfigs:
    """Which of `refs` are tracked, given the objects read for them (`found`, by key)."""
    objects: dict[str, Mapping[str, Any]] = {}
    missing: list[ConfigRef] = []
    for ref in refs:
        read = found.get(ref.key)
        if read is None:
            if not ref.optional:
                missing.append(ref)
            continue
        obj = {**read, "apiVersion": "v1", "kind": ref.api_kind}  # list items may lack them
        if is_tracked(obj):
            objects[ref.key] = obj
    return TrackedConfigs(objects=objects, missing=tuple(missing))


def with_copies(template: Mapping[str, Any], keys: Collection[str]) -> dict[str, Any]:
    """A copy of `template` naming `<name>-primary` wherever it names a config in `keys`."""
    result = copy.deepcopy(dict(template))
    wanted = set(keys)
    for use in list(_uses(result)):
        name = str(use.holder[use.field])
        if f"{use.kind}/{name}" in wanted:
            use.holder[use.field] = copy_name(name)
    return result


def without_copies(template: Mapping[str, Any], keys: Collection[str]) -> dict[str, Any]:
    """`with_copies` undone: a copy of `template` naming `<name>` again wherever it names the
    copy `<name>-primary` of a config whose key is in `keys`."""
    result = copy.deepcopy(dict(template))
    wanted = set(keys)
    for use in list(_uses(result)):
        name = str(use.holder[use.field])
        original = name.removesuffix(PRIMARY_SUFFIX)
        if name != original and f"{use.kind}/{original}" in wanted:
            use.holder[use.field] = original
    return result


def primary_copy(
    obj: Mapping[str, Any], *, owner: CanaryRef, existing: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The manifest of `<name>-primary` for a tracked ConfigMap or Secret.

    Same content (and type, for a Secret) and labels; a controller reference to `owner`. A copy
    shared with other Canaries (their targets use the same object) keeps their references, as
    non-controller ones, so deleting one Canary does not delete what the others' primaries use.
    """
    metadata = _as_dict(obj.get("metadata"))
    labels = {
        k: v for k, v in _as_dict(metadata.get("labels")).items() if _TOOLKIT_MARK not in str(k)
    }
    others = [
        {**ref, "controller": False}
        for ref in _as_list(_as_dict(_as_dict(existing).get("metadata")).get("ownerReferences"))
        if isinstance(ref, dict) and ref.get("kind") == owner.kind and ref.get("uid") != owner.uid
    ]
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": obj.get("kind"),
        "metadata": {
            "name": copy_name(str(metadata.get("name"))),
            "namespace": owner.namespace,
            "labels": labels,
            "ownerReferences": [owner.owner_reference(), *others],
        },
    }
    for content in ("data", "binaryData"):
        if _as_dict(obj.get(content)):
            manifest[content] = dict(_as_dict(obj.get(content)))
    if obj.get("kind") == "Secret":
        manifest["type"] = obj.get("type") or "Opaque"
    return manifest


def missing_message(missing: Collection[ConfigRef], *, namespace: str, target: str) -> str:
    """Why the primary cannot use the target's configs: the objects that do not exist."""
    names = ", ".join(ref.describe(namespace) for ref in missing)
    verb = "does" if len(missing) == 1 else "do"
    return (
        f"deployment {namespace}/{target} uses {names}, which {verb} not exist; create it, or "
        "mark the reference optional (the primary cannot run without it)"
    )
