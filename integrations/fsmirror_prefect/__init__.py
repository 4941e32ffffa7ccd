"""fsmirror's prefect adapter."""
