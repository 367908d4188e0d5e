// Wrapper module that pins the APISIX Ingress Controller release whose CRDs the sandbox installs.
module canary.dev/sandbox/apisix

go 1.26.0

require github.com/apache/apisix-ingress-controller v1.8.4 // indirect
