// Wrapper module that pins the Gateway API release whose standard CRDs the sandbox installs.
module canary.dev/sandbox/gateway-api

go 1.26.0

require sigs.k8s.io/gateway-api v1.6.3 // indirect
