"""The mesh simulator's providers: which route objects it follows and which series it exports."""
