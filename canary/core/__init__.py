"""The pure decision core: revision hashing, step schedule, verdicts, and the state machine.

Nothing here performs I/O or imports asyncio, aiohttp or kubernetes_asyncio: every function takes
what the shell observed and returns what should be true next. That is what makes it testable
with tables and properties, and what makes a cycle that crashed halfway repairable by the next.
"""
