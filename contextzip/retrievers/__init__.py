"""Retrievers that share the compressors' embeddings: retrieve, then compress."""

from contextzip.retrievers.dense import DenseRetriever, SearchHit

__all__ = ["DenseRetriever", "SearchHit"]
