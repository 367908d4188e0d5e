// Wrapper module that pins the KEDA release whose CRDs the sandbox installs.
module canary.dev/sandbox/keda

go 1.26.0

require github.com/kedacore/keda/v2 v2.21.0 // indirect
