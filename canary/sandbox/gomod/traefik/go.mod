// Wrapper module that pins the Traefik release whose CRDs the sandbox installs.
module canary.dev/sandbox/traefik

go 1.26.0

require github.com/traefik/traefik/v3 v3.7.13 // indirect
