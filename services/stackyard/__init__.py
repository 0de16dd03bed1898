"""The stackyard agent stack: one package, one entry point per component."""

COMPONENTS = ("gateway", "orchestrator", "worker", "memory", "model")
