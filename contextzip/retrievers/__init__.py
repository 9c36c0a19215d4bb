"""Retrievers for the retrieve -> compress step: BM25, dense FAISS indexes, hybrid fusion, Qdrant, and
:class:`CompressingRetriever`, which retrieves and compresses to a token budget in one call."""

from contextzip.retrievers.base import BaseRetriever, MetadataFilter, Retriever, SearchHit
from contextzip.retrievers.bm25 import BM25Retriever
from contextzip.retrievers.compressing import CompressingRetriever, RetrievalResult
from contextzip.retrievers.dense import DenseRetriever
from contextzip.retrievers.hybrid import (
    HybridRetriever,
    ReciprocalRankFusion,
    WeightedScoreFusion,
    load_retriever,
)
from contextzip.retrievers.indexes import (
    INDEX_TYPES,
    BinaryIndex,
    FlatIndex,
    HNSWIndex,
    Int8Index,
    IVFPQIndex,
    VectorIndex,
    make_index,
)
from contextzip.retrievers.qdrant import QdrantRetriever

__all__ = [
    "INDEX_TYPES",
    "BM25Retriever",
    "BaseRetriever",
    "BinaryIndex",
    "CompressingRetriever",
    "DenseRetriever",
    "FlatIndex",
    "HNSWIndex",
    "HybridRetriever",
    "IVFPQIndex",
    "Int8Index",
    "MetadataFilter",
    "QdrantRetriever",
    "ReciprocalRankFusion",
    "RetrievalResult",
    "Retriever",
    "SearchHit",
    "VectorIndex",
    "WeightedScoreFusion",
    "load_retriever",
    "make_index",
]
