"""A LangChain RAG chain with contextzip between the retriever and the prompt, offline.

    .venv/bin/python examples/langchain_rag.py ["your question"]

retriever (InMemoryVectorStore over examples/corpus.jsonl, MiniLM embeddings) -> ContextZipRetriever (compress to
a token budget) -> prompt with a ``<context>`` block -> chat model, wired by ``rag_chain``. The model here is
langchain-core's FakeListChatModel so the example runs with no API key; swap in a real one (for example
``langchain_openai.ChatOpenAI(model="gpt-4o-mini")``) and nothing else changes.
"""

from __future__ import annotations

import json
import pathlib
import sys

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.vectorstores import InMemoryVectorStore

from contextzip.integrations.langchain import (
    ContextZipCompressor,
    ContextZipRetriever,
    join_documents,
    rag_chain,
)
from contextzip.models import SentenceEmbedder
from contextzip.tokens import get_token_counter

HERE = pathlib.Path(__file__).parent


class MiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2, shipped offline with contextzip, as LangChain embeddings."""

    def __init__(self) -> None:
        self.model = SentenceEmbedder("minilm")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.model.encode([text])[0].tolist()


class ShowPrompt(BaseCallbackHandler):
    def on_chat_model_start(self, serialized, messages, **kwargs):  # type: ignore[no-untyped-def]
        for message in messages[0]:
            print(f"--- {message.type} ---\n{message.content}")


def main(question: str = "Who was the longest-serving keeper, and when was the light automated?",
         budget: int = 80) -> None:
    records = [json.loads(line) for line in (HERE / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line]
    store = InMemoryVectorStore(MiniLMEmbeddings())
    store.add_documents([Document(page_content=r["text"], metadata=r["metadata"], id=r["id"]) for r in records])

    retriever = ContextZipRetriever(base_retriever=store.as_retriever(search_kwargs={"k": 5}),
                                    compressor=ContextZipCompressor(target_tokens=budget))
    model = FakeListChatModel(responses=["(a real chat model would answer here)"])
    chain = rag_chain(retriever, model, "Answer from the context only. Say 'not in the context' otherwise.")

    docs = retriever.invoke(question)
    counter = get_token_counter()
    print(f"Question: {question}\nKept {len(docs)} documents, budget {budget} tokens:")
    for d in docs:
        stats = d.metadata["contextzip"]
        print(f"  {d.id:<22} {stats['original_tokens']:>4} -> {stats['compressed_tokens']:>4}  {stats['status']}")
    context = join_documents(docs)
    print(f"Context tokens: {counter.count(context)}\n")
    print("What the chat model receives:")
    answer = chain.invoke(question, config={"callbacks": [ShowPrompt()]})
    print(f"--- answer ---\n{answer}")


if __name__ == "__main__":
    main(sys.argv[1]) if len(sys.argv) > 1 else main()
