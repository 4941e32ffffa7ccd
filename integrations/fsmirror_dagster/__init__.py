"""fsmirror's dagster adapter."""
