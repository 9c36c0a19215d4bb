"""contextzip: compress retrieved context to an exact token budget, keeping what the LLM needs.

Quickstart::

    from contextzip import compress
    result = compress(documents, query="Who founded the company?", target_tokens=300)
    print(result.text, result.compressed_tokens, result.ratio)
"""

from __future__ import annotations

from contextzip.api import CompressedPrompt, compress, compress_prompt, get_compressor
from contextzip.errors import BudgetError, ContextZipError, MissingDependencyError, ModelNotAvailableError
from contextzip.tokens import TokenCounter, get_token_counter
from contextzip.types import CompressionResult, Document, DocumentResult, DocumentStatus

__version__ = "0.1.0"

__all__ = [
    "BudgetError",
    "CompressedPrompt",
    "CompressionResult",
    "ContextZipError",
    "Document",
    "DocumentResult",
    "DocumentStatus",
    "MissingDependencyError",
    "ModelNotAvailableError",
    "TokenCounter",
    "__version__",
    "compress",
    "compress_prompt",
    "get_compressor",
    "get_token_counter",
]
