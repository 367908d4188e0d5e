// Wrapper module that pins the Kuma release whose TrafficRoute CRD the sandbox installs.
module canary.dev/sandbox/kuma

go 1.26.0

require github.com/kumahq/kuma v1.8.1 // indirect
