"""The only package that talks to the Kubernetes API (through kubernetes_asyncio).

Everything above it gets typed access and plain errors; nothing here decides anything.
"""
