// Wrapper module that pins the Contour release whose CRDs (HTTPProxy, ...) the sandbox installs.
module canary.dev/sandbox/contour

go 1.26.0

require github.com/projectcontour/contour v1.33.8 // indirect
