"""fsmirror.services: see ``docs/storage-api.md`` ("Layers")."""
