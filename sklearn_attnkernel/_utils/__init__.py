"""Layer 0: shared vocabularies, constants and error-message helpers (numpy and sklearn only)."""
