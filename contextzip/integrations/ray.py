"""Compress a ``ray.data.Dataset`` of (query, documents) rows over an actor pool: ``pip install 'contextzip-rag[ray]'``.

For document-QA preprocessing of corpora one machine cannot hold: each actor loads one compressor (and, where
the cluster has GPUs, holds one), and ``map_batches`` hands it batches of rows, which it compresses through
``compress_batch`` (one batched scoring pass per batch, per-row budgets allowed). Outputs are the same as
``compress_batch`` on the same rows; row order follows Ray's (ids travel with the rows). See docs/benchmarks.md
("Performance") for the scaling model across machines::

    import ray
    from contextzip.integrations.ray import compress_dataset

    ds = ray.data.from_items([{"query": q, "documents": docs} for q, docs in pairs])
    out = compress_dataset(ds, compressor="query-guided", target_tokens=500, num_workers=4)
    out.write_parquet("s3://bucket/compressed/")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from contextzip.errors import missing_dependency
from contextzip.validation import check_positive_int

__all__ = ["CompressBatch", "compress_dataset"]


def _require_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise missing_dependency("ray[data]", "ray") from exc
    return ray


def _as_list(value: Any) -> list[Any]:
    return value.tolist() if isinstance(value, np.ndarray) else list(value)


def _document(value: Any) -> Any:
    """A row's document as compress_batch takes it: a str, or a {"text", "id", "metadata"} mapping."""
    if isinstance(value, Mapping):
        return {k: v for k, v in value.items() if v is not None}
    return value


class CompressBatch:
    """The actor: one loaded compressor; a call compresses one batch of rows (``batch_format="numpy"``).

    Args:
        compressor: a registry name; compressor_kwargs: its constructor arguments.
        target_tokens / rate: the budget of every row, unless ``budget_column`` names a column of per-row
            token budgets.
        query_column / documents_column: where the rows keep the question and the documents (a list of str,
            or of {"text", "id", "metadata"}).
        output_column: gets the compressed text; ``<output>_tokens`` and ``original_tokens`` get the counts.
    """

    def __init__(self, compressor: str = "query-guided", compressor_kwargs: Mapping[str, Any] | None = None, *,
                 target_tokens: int | None = None, rate: float | None = None, budget_column: str | None = None,
                 query_column: str = "query", documents_column: str = "documents",
                 output_column: str = "compressed") -> None:
        from contextzip.registry import load_compressor

        self.compressor = load_compressor(compressor, **dict(compressor_kwargs or {}))
        self.compressor.warm_up()
        self.target_tokens, self.rate, self.budget_column = target_tokens, rate, budget_column
        self.query_column, self.documents_column = query_column, documents_column
        self.output_column = output_column

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        queries = [None if q is None or (isinstance(q, float) and np.isnan(q)) else str(q)
                   for q in _as_list(batch[self.query_column])]
        documents = [[_document(d) for d in _as_list(docs)] for docs in _as_list(batch[self.documents_column])]
        budget: Any = self.target_tokens
        if self.budget_column is not None:
            budget = [int(b) for b in _as_list(batch[self.budget_column])]
        results = self.compressor.compress_batch(list(zip(queries, documents, strict=True)), target_tokens=budget,
                                                 rate=None if self.budget_column is not None else self.rate)
        out = dict(batch)
        out[self.output_column] = np.asarray([r.text for r in results], dtype=object)
        out[f"{self.output_column}_tokens"] = np.asarray([r.compressed_tokens for r in results], dtype=np.int64)
        out["original_tokens"] = np.asarray([r.original_tokens for r in results], dtype=np.int64)
        return out


def compress_dataset(dataset: Any, compressor: str = "query-guided", *, target_tokens: int | None = None,
                     rate: float | None = None, budget_column: str | None = None, num_workers: int = 1,
                     batch_size: int = 32, num_gpus_per_worker: float | None = None,
                     compressor_kwargs: Mapping[str, Any] | None = None, query_column: str = "query",
                     documents_column: str = "documents", output_column: str = "compressed") -> Any:
    """``dataset`` with each row's documents compressed, by ``num_workers`` actors (one compressor each).

    Exactly one of ``target_tokens``, ``rate`` or ``budget_column``. ``num_gpus_per_worker=None`` gives each
    actor one GPU when the cluster has GPUs, none otherwise. Lazy, as Ray datasets are: write or iterate it.
    """
    ray = _require_ray()
    given = sum(x is not None for x in (target_tokens, rate, budget_column))
    if given != 1:
        raise ValueError(f"give exactly one of target_tokens, rate or budget_column, but got {given}")
    if not isinstance(compressor, str):
        raise TypeError(f"compressor must be a registry name (each actor loads its own), but got "
                        f"{type(compressor).__name__}")
    check_positive_int("num_workers", num_workers)
    check_positive_int("batch_size", batch_size)
    if num_gpus_per_worker is None:
        num_gpus_per_worker = 1.0 if ray.is_initialized() and ray.cluster_resources().get("GPU", 0) > 0 else 0.0
    kwargs = {"target_tokens": target_tokens, "rate": rate, "budget_column": budget_column,
              "query_column": query_column, "documents_column": documents_column, "output_column": output_column}
    return dataset.map_batches(CompressBatch, fn_constructor_args=(compressor, dict(compressor_kwargs or {})),
                               fn_constructor_kwargs=kwargs, batch_size=batch_size, batch_format="numpy",
                               concurrency=num_workers, num_gpus=num_gpus_per_worker)
