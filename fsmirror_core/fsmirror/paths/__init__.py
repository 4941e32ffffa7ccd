"""fsmirror.paths: see ``docs/storage-api.md`` ("Layers")."""
