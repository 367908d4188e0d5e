"""`canary check FILE...`: validate manifests offline, in the words the API server would use.

A manifest is checked four ways, each with the messages a user would otherwise see only at
`kubectl apply` or in the Canary's status: its metadata (name, labels, annotations;
`metadata.py`), the CRD's structure (unknown fields, JSON types, duplicate list keys;
`structure.py`), the API models, which carry the CRD's CEL rules with the same messages
(`admission.py` words pydantic's errors as the API server does), and, for a Canary, the
controller's own routing rules (`canary.controller.support`), whose message is the one its
`Ready` condition would show. The verdict and the fields named are the API server's (the
admission corpus in the tests holds the two together). Nothing here talks to a cluster.
"""
