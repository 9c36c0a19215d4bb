"""Batch document QA prompts: a JSONL of questions and their documents in, compressed prompts out.

    .venv/bin/python examples/document_qa.py examples/document_qa_sample.jsonl --budget 60 -o prompts.jsonl

Each input line is ``{"id": ..., "question": ..., "documents": [str | {"text", "id", "metadata"}, ...]}``.
Each output line is the input line with every field kept (so results join back to the input), ``documents``
replaced by their stats ``[{"id", "status", "original_tokens", "compressed_tokens"}]``, and ``prompt``,
``original_tokens``, ``compressed_tokens``, ``target_tokens`` added: ready to send to any LLM.

``--template`` sets the prompt: ``{context}``, ``{question}`` and any other input field (``{id}``, your own
``{title}`` ...), given inline or as ``@file.txt``. Questions are compressed ``--batch-size`` at a time through
one batched scoring pass; on a terminal a progress bar and a summary show on stderr (``--progress`` /
``--no-progress`` decide otherwise); piped, nothing is written to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

from tqdm import tqdm

from contextzip import get_compressor

TEMPLATE = "Answer the question from the context.\n\n<context>\n{context}\n</context>\n\nQuestion: {question}"


def read_questions(path: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record.get("question"), str) or not isinstance(record.get("documents"), list):
                raise SystemExit(f"{path}:{n}: each line needs 'question' (str) and 'documents' (list)")
            record.setdefault("id", str(n))
            yield record


def load_template(value: str) -> str:
    """The prompt template: ``value`` itself, or the contents of the file ``value[1:]`` when it starts with @."""
    if value.startswith("@"):
        with open(value[1:], encoding="utf-8") as f:
            value = f.read()
    if "{context}" not in value:
        raise SystemExit("--template must contain {context}")
    return value


def render(template: str, record: dict[str, Any], context: str) -> str:
    try:
        return template.format_map({**record, "context": context})
    except (KeyError, IndexError, ValueError) as exc:
        raise SystemExit(f"--template: {exc!r} for question {record['id']!r} (fields: {sorted(record)})") from exc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", help="JSONL of {id, question, documents}")
    parser.add_argument("-o", "--output", help="where to write the prompts (JSONL; default: stdout)")
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("-b", "--budget", type=int, help="context budget in tokens, per question")
    budget.add_argument("-r", "--rate", type=float, help="context budget as a fraction of each context")
    parser.add_argument("-c", "--compressor", default="query-guided")
    parser.add_argument("--batch-size", type=int, default=16, help="questions per batched compression pass")
    parser.add_argument("--template", default=TEMPLATE,
                        help="prompt template with {context}, {question} and any input field, or @FILE "
                             "[default: %(default)r]")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar and summary on stderr [default: when stderr is a terminal]")
    args = parser.parse_args()
    template = load_template(args.template)
    show = sys.stderr.isatty() if args.progress is None else args.progress

    records = list(read_questions(args.input))
    compressor = get_compressor(args.compressor)
    if hasattr(compressor, "warm_up"):
        compressor.warm_up()  # load the model before the progress bar starts
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    saved = 0
    try:
        with tqdm(total=len(records), desc="compressing", unit="question", file=sys.stderr, disable=not show) as bar:
            for start in range(0, len(records), args.batch_size):
                batch = records[start:start + args.batch_size]
                results = compressor.compress_batch([(r["question"], r["documents"]) for r in batch],
                                                    target_tokens=args.budget, rate=args.rate)
                for record, result in zip(batch, results, strict=True):
                    saved += result.tokens_saved
                    out.write(json.dumps({
                        **record,
                        "prompt": render(template, record, result.text),
                        "original_tokens": result.original_tokens, "compressed_tokens": result.compressed_tokens,
                        "target_tokens": result.target_tokens,
                        "documents": [{"id": d.id, "status": d.status.value, "original_tokens": d.original_tokens,
                                       "compressed_tokens": d.compressed_tokens} for d in result.documents],
                    }, ensure_ascii=False) + "\n")
                bar.update(len(batch))
    finally:
        if out is not sys.stdout:
            out.close()
    if show:
        print(f"{len(records)} prompts written; {saved} context tokens saved", file=sys.stderr)


if __name__ == "__main__":
    main()
