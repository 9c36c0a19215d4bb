"""What the LangChain and LlamaIndex integrations share: their settings, one compress call, per-document stats.

Both frameworks hand over a list of retrieved texts with metadata and want back the kept ones with their identity.
:class:`CompressionSettings` is the pydantic mixin that holds and validates the budget and the compressor, and
compresses a call's texts together, to one budget, with one ``compress()`` call. Imported only by those two
modules, once their framework (and so pydantic) is known to be installed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from contextzip.api import resolve_compressor
from contextzip.budget import resolve_budget
from contextzip.types import CompressionResult, Document, DocumentResult

logger = logging.getLogger(__name__)

METADATA_KEY = "contextzip"


def document_stats(document: DocumentResult, result: CompressionResult) -> dict[str, Any]:
    """The numbers stored under ``metadata[metadata_key]`` of one returned document (JSON-ready)."""
    return {
        "status": document.status.value, "index": document.index, "original_tokens": document.original_tokens,
        "compressed_tokens": document.compressed_tokens, "score": document.score,
        "target_tokens": result.target_tokens, "compressor": result.compressor,
    }


def check_compressor(compressor: Any) -> None:
    """Fail at construction for a misspelt registry name or a non-compressor; names load lazily on first use."""
    if isinstance(compressor, str):
        from contextzip.registry import compressor_names

        names = compressor_names()
        if compressor not in names:
            raise ValueError(f"compressor must be one of {names} or a compressor instance, but got {compressor!r}")
    else:
        resolve_compressor(compressor)  # type check only


class CompressionSettings(BaseModel):
    """The budget and the compressor of a framework component; validated at construction.

    Args:
        target_tokens / rate: the budget for all documents of a call together (exactly one).
        compressor: a registry name ("query-guided", the default) or a contextzip compressor instance.
        token_counter: "o200k_base" (default), "cl100k_base" or "hf:<model>" (used with a registry name).
        metadata_key: where each returned document's compression stats go in its metadata.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    target_tokens: int | None = None
    rate: float | None = None
    compressor: Any = "query-guided"
    token_counter: str | None = None
    metadata_key: str = METADATA_KEY

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        resolve_budget(1, self.target_tokens, self.rate)
        check_compressor(self.compressor)

    def _compress_texts(
        self, texts: Sequence[str], metadata: Sequence[Mapping[str, Any]], query: str | None,
        target_tokens: int | None = None,
    ) -> tuple[CompressionResult, list[tuple[DocumentResult, dict[str, Any]]]]:
        """Compress ``texts`` together for ``query`` (to ``target_tokens`` when given, else the settings' budget):
        the result and (document result, stats) of each kept one, in input order."""
        inputs = [Document(text, str(i), meta) for i, (text, meta) in enumerate(zip(texts, metadata, strict=True))]
        compressor = resolve_compressor(self.compressor, self.token_counter)
        budget = {"target_tokens": target_tokens} if target_tokens is not None else \
            {"target_tokens": self.target_tokens, "rate": self.rate}
        result = compressor.compress(inputs, query or None, **budget)
        kept = [(document, document_stats(document, result)) for document in result.documents if document.text]
        logger.debug("compressed %d documents: %d -> %d tokens, %d kept", len(inputs), result.original_tokens,
                     result.compressed_tokens, len(kept))
        return result, kept
