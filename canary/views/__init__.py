"""What the front ends read of a Canary: `canary get|describe|status` and the dashboard alike.

Plain values made from a Canary object (`summary.py`), its events (`timeline.py`) and
Prometheus (`golden.py`, over the window and time range of `window.py`), and the plain-text
building blocks the CLI prints them with (`text.py`). Both `canary.cli` and `canary.dashboard`
import this package, so they never disagree; it must not import either, print, or write to the
cluster.
"""
