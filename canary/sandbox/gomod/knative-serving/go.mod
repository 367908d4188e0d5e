// Wrapper module that pins the Knative Serving release whose CRDs the sandbox installs.
module canary.dev/sandbox/knative-serving

go 1.26.0

require knative.dev/serving v0.44.0 // indirect
