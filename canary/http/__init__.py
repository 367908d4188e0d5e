"""HTTP plumbing shared by the clients of the controller and the load tester.

`bodies` reads response bodies (and other byte streams) within a byte limit and a deadline,
so that no peer, however large or slow its answer, can make a reader hold more than its limit
or read past its deadline. Nothing here knows about Canaries, metrics or webhooks.
"""
