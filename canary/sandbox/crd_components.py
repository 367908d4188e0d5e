"""The sandbox's CRDs taken from pinned upstream Go modules: Gateway API, KEDA and the providers'.

Each entry of `CRD_COMPONENTS` is a `GoComponent` that builds nothing: `canary sandbox build`
downloads its module (pinned by `gomod/<name>`) and copies the listed files out of it unchanged,
and `sandbox up` installs them. No controller of these projects runs in the sandbox: the mesh
simulator follows their route objects (`canary.sandbox.exporters`), and the e2e tests stand in
for Knative's controller.

A provider whose CRDs come from its module is added here (and its wrapper module under
`gomod/`). Data only: building and copying are `canary.sandbox.binaries`' work.
"""

from __future__ import annotations

from canary.sandbox.go_component import GoComponent

# The newest v1.x whose module builds with the local Go toolchain (v1.7.0 requires Go 1.27).
GATEWAY_API_VERSION = "v1.6.3"
# The Gateway API standard channel's CRDs the sandbox installs, as shipped in the module.
GATEWAY_API_CRD_FILES = tuple(
    f"config/crd/standard/gateway.networking.k8s.io_{plural}.yaml"
    for plural in ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants")
)

# The newest v2.x whose module the local Go toolchain accepts (v2.21.1 requires Go 1.27.4).
KEDA_VERSION = "v2.21.0"
# KEDA's ScaledObject CRD (what `spec.autoscalerRef` of kind ScaledObject names), as shipped in
# the module. No KEDA operator runs in the sandbox: the CRD lets the controller's objects exist.
KEDA_CRD_FILES = ("config/crd/bases/keda.sh_scaledobjects.yaml",)

# The newest istio.io/api release the module proxy serves (its module ships Istio's CRDs).
ISTIO_API_VERSION = "v1.32.0"
# Istio's CRDs (networking.istio.io VirtualService and DestinationRule among them), all in one
# file as shipped in the istio.io/api module. No Istio control plane runs in the sandbox: the mesh
# simulator follows the VirtualServices.
ISTIO_CRD_FILES = ("kubernetes/customresourcedefinitions.gen.yaml",)

# The newest Contour release; its module ships every CRD in one multi-document file.
CONTOUR_VERSION = "v1.33.8"
# Contour's CRDs (HTTPProxy, what provider `contour` writes, and its companions), as its release
# manifests ship them. No Contour or Envoy runs in the sandbox: the mesh simulator follows the
# HTTPProxies and exports Envoy's cluster statistics.
CONTOUR_CRD_FILES = ("examples/contour/01-crds.yaml",)

# The newest v3.x the module proxy serves; its go.mod asks for Go 1.26.0, which the local one has.
TRAEFIK_VERSION = "v3.7.13"
# Traefik's CRDs for what the `traefik` provider writes (TraefikService) and what users route
# with to it (IngressRoute, Middleware), as shipped in the module. No Traefik proxy runs in the
# sandbox: the mesh simulator follows the TraefikServices and exports Traefik's series.
TRAEFIK_CRD_FILES = tuple(
    f"docs/content/reference/dynamic-configuration/traefik.io_{plural}.yaml"
    for plural in ("traefikservices", "ingressroutes", "middlewares")
)

# APISIX Ingress Controller 1.x, whose ApisixRoute v2 Flagger writes. The module proxy serves
# this release but refuses to list the module's versions, so no newer one could be checked.
APISIX_VERSION = "v1.8.4"
# The ApisixRoute CRD (what the `apisix` provider copies and writes), as shipped in the module.
# No APISIX runs in the sandbox: the mesh simulator follows the ApisixRoutes and exports
# APISIX's series.
APISIX_CRD_FILES = ("samples/deploy/crd/v1/ApisixRoute.yaml",)

# Knative Serving 1.17 (the release Flagger's Knative tests install), as its Go module.
KNATIVE_SERVING_VERSION = "v0.44.0"
# Knative Serving's serving.knative.dev CRDs (a Knative Service is a Canary's target with provider
# knative), as shipped in the module. No Knative controller runs in the sandbox: the e2e tests
# stand in for it (tests/e2e/knative_double.py) creating Revisions as Knative would.
KNATIVE_SERVING_CRD_FILES = tuple(
    f"config/core/300-resources/{name}.yaml"
    for name in ("service", "configuration", "revision", "route")
)

# Kuma's TrafficRoute (what provider kuma writes, as Flagger does) is in its 1.x releases; the
# module proxy serves none of the 2.x tags (they have no Go module version).
KUMA_VERSION = "v1.8.1"
# Kuma's TrafficRoute CRD (kuma.io/v1alpha1, cluster-scoped), as shipped in the module's chart.
# No Kuma control plane runs in the sandbox: the mesh simulator follows the TrafficRoutes.
KUMA_CRD_FILES = ("deployments/charts/kuma/crds/kuma.io_trafficroutes.yaml",)


def _crds(name: str, version: str, *, module: str, files: tuple[str, ...]) -> GoComponent:
    """A component that only ships `files`, copied out of `module` at `version`."""
    return GoComponent(name=name, version=version, packages=(), module=module, crd_files=files)


CRD_COMPONENTS = (
    _crds(
        "gateway-api",
        GATEWAY_API_VERSION,
        module="sigs.k8s.io/gateway-api",
        files=GATEWAY_API_CRD_FILES,
    ),
    _crds("keda", KEDA_VERSION, module="github.com/kedacore/keda/v2", files=KEDA_CRD_FILES),
    _crds("istio", ISTIO_API_VERSION, module="istio.io/api", files=ISTIO_CRD_FILES),
    _crds(
        "contour",
        CONTOUR_VERSION,
        module="github.com/projectcontour/contour",
        files=CONTOUR_CRD_FILES,
    ),
    _crds(
        "traefik", TRAEFIK_VERSION, module="github.com/traefik/traefik/v3", files=TRAEFIK_CRD_FILES
    ),
    _crds(
        "apisix",
        APISIX_VERSION,
        module="github.com/apache/apisix-ingress-controller",
        files=APISIX_CRD_FILES,
    ),
    _crds(
        "knative-serving",
        KNATIVE_SERVING_VERSION,
        module="knative.dev/serving",
        files=KNATIVE_SERVING_CRD_FILES,
    ),
    _crds("kuma", KUMA_VERSION, module="github.com/kumahq/kuma", files=KUMA_CRD_FILES),
)
