"""The only package that talks to the Kubernetes API (through kubernetes_asyncio, whose requests
go over HTTP/2 where the API server offers it: `canary.kube.transport`).

Everything above it gets typed access and plain errors; nothing here decides anything.
"""
