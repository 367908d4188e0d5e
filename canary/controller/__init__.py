"""The imperative shell around the pure core: watches, schedules and executes reconcile cycles."""
