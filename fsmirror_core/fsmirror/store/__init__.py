"""fsmirror.store: see ``docs/storage-api.md`` ("Layers")."""
