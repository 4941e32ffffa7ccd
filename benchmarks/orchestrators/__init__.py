"""Orchestrator comparisons; each runs in its own tox env (bench-<orchestrator>)."""
