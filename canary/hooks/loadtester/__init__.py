"""The load tester service: Flagger's loadtester API with a built-in load generator and gates
kept durably in a ConfigMap. Run it with `python -m canary.hooks.loadtester`."""
