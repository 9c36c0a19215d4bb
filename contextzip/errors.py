"""The exceptions contextzip raises beyond plain ``ValueError`` / ``TypeError``."""

from __future__ import annotations


class ContextZipError(Exception):
    """Base class of contextzip's own errors."""


class ModelNotAvailableError(ContextZipError):
    """A model cannot be found locally and cannot be fetched (offline, or no such model)."""


class MissingDependencyError(ContextZipError, ImportError):
    """An optional dependency is not installed; the message gives the exact ``pip install`` line."""


class BudgetError(ContextZipError, ValueError):
    """A budget that cannot be honoured (for example fewer tokens than the separators need)."""


def missing_dependency(package: str, extra: str) -> MissingDependencyError:
    return MissingDependencyError(
        f"{package} is not installed. Install it with: pip install 'contextzip-rag[{extra}]'"
    )
