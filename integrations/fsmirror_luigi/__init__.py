"""fsmirror's luigi adapter."""
