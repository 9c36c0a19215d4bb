"""Reproducible measurements and peer comparisons (not part of the installed library)."""
