"""Chain access: JSON-RPC reads, access conditions, their verdict cache, the periodic re-check."""
