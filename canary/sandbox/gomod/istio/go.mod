// Wrapper module that pins the Istio API release whose CRDs (VirtualService, DestinationRule,
// ...) the sandbox installs, copied unchanged from kubernetes/customresourcedefinitions.gen.yaml.
module canary.dev/sandbox/istio

go 1.26.0

require istio.io/api v1.32.0 // indirect
