"""How traffic reaches the primary and the canary: Services, and the route object of a mesh.

Each router is a pure builder of its objects plus a small apply, behind the `Router` protocol of
`canary.routers.base`; `canary.routers.registry` picks one by provider name. Routers do not know
each other, nor the targets, nor the controller.
"""
