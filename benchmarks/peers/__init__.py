"""Peer systems run side by side with contextzip (optional dependencies, not part of the library)."""
