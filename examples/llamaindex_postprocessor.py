"""LlamaIndex: a query engine whose retrieved nodes are compressed to a token budget, offline.

    .venv/bin/python examples/llamaindex_postprocessor.py ["your question"]

VectorStoreIndex over examples/corpus.jsonl (MiniLM embeddings) -> retriever (top 5) -> ContextZipPostprocessor ->
response synthesis. The LLM is LlamaIndex's MockLLM so the example runs with no API key; pass a real one
(for example ``llama_index.llms.openai.OpenAI(model="gpt-4o-mini")``) as ``llm=`` and nothing else changes.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms.mock import MockLLM
from llama_index.core.schema import TextNode

from contextzip.integrations.llamaindex import ContextZipPostprocessor
from contextzip.models import SentenceEmbedder

HERE = pathlib.Path(__file__).parent


class MiniLMEmbedding(BaseEmbedding):
    """all-MiniLM-L6-v2, shipped offline with contextzip, as a LlamaIndex embedding model."""

    model: Any = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(model_name="minilm", **kwargs)
        self.model = SentenceEmbedder("minilm")

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.model.encode([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.model.encode([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.model.encode(texts).tolist()


def main(question: str = "When was the lighthouse automated, and where is its lens now?", budget: int = 70) -> None:
    records = [json.loads(line) for line in (HERE / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line]
    nodes = [TextNode(text=r["text"], id_=r["id"], metadata=r["metadata"]) for r in records]
    index = VectorStoreIndex(nodes, embed_model=MiniLMEmbedding())
    engine = index.as_query_engine(similarity_top_k=5, llm=MockLLM(max_tokens=16),
                                   node_postprocessors=[ContextZipPostprocessor(target_tokens=budget)])
    response = engine.query(question)

    print(f"Question: {question}\nBudget: {budget} tokens. Nodes the LLM saw (id, retrieval score, tokens):")
    for n in response.source_nodes:
        stats = n.node.metadata["contextzip"]
        print(f"  {n.node.node_id:<22} score={n.score:.3f}  {stats['original_tokens']:>3} -> "
              f"{stats['compressed_tokens']:>3}  {stats['status']}")
        print(f"      {n.node.get_content()}")
    print(f"\nMockLLM answer: {response.response!r}")


if __name__ == "__main__":
    main(sys.argv[1]) if len(sys.argv) > 1 else main()
