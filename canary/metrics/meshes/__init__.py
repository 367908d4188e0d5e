"""The builtin metrics' queries, one module per mesh or ingress, each a `BuiltinTable`."""
