"""fsmirror.model: see ``docs/storage-api.md`` ("Layers")."""
