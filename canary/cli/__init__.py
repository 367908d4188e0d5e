"""The `canary` command (also installed as `kubectl-canary`, so kubectl finds it as a plugin)."""
