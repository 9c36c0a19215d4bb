"""Compress the context of an OpenAI chat request before it is sent, with the official ``openai`` client.

    .venv/bin/python examples/openai_wrap.py                      # offline: a fake OpenAI server on 127.0.0.1
    OPENAI_API_KEY=sk-... .venv/bin/python examples/openai_wrap.py --base-url https://api.openai.com/v1 \\
        --model gpt-4o-mini                                        # a real endpoint

Only the ``<context>`` block is compressed; the system instructions and the question go out unchanged.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib

from openai import OpenAI

from contextzip.integrations.openai import compress_messages, wrap_openai

HERE = pathlib.Path(__file__).parent


def build_messages(question: str) -> list[dict]:
    records = [json.loads(line) for line in (HERE / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line]
    context = "\n\n".join(r["text"] for r in records)
    return [
        {"role": "system", "content": "Answer from the context only. Cite the sentence you used."},
        {"role": "user", "content": f"<context>\n{context}\n</context>\n\nQuestion: {question}"},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (default: a local fake server)")
    parser.add_argument("--model", default="echo-1")
    parser.add_argument("--budget", type=int, default=120, help="context budget in tokens")
    parser.add_argument("--question", default="Who was the longest-serving keeper of the lighthouse?")
    args = parser.parse_args()

    messages = build_messages(args.question)
    with contextlib.ExitStack() as stack:
        base_url = args.base_url
        if base_url is None:  # the fake server the tests use: echoes a summary of what it received
            from contextzip.testing import fake_openai_server

            base_url = stack.enter_context(fake_openai_server()).base_url
        api_key = os.environ.get("OPENAI_API_KEY", "not-needed-for-the-local-server")

        # 1. Just the messages: compress, look, send them any way you like.
        out = compress_messages(messages, target_tokens=args.budget)
        print(f"context {out.original_tokens} -> {out.compressed_tokens} tokens (budget {args.budget}); "
              f"whole prompt {out.prompt_tokens_before} -> {out.prompt_tokens_after}")
        print("--- user message sent ---\n" + out.messages[1]["content"] + "\n")

        # 2. A wrapped client: every call that sends a prompt compresses first; the rest is the client's own.
        client = wrap_openai(OpenAI(base_url=base_url, api_key=api_key), target_tokens=args.budget,
                             on_compression=lambda c: print(f"[contextzip] saved {c.tokens_saved} prompt tokens"))
        reply = client.chat.completions.create(model=args.model, messages=messages)
        print(f"--- reply from {base_url} ---\n{reply.choices[0].message.content}")

        # 3. The Responses API and the raw-response forms are compressed the same way (none is a silent bypass).
        response = client.responses.with_raw_response.create(model=args.model, input=messages[1]["content"],
                                                             instructions=messages[0]["content"])
        print(f"--- responses.create (HTTP {response.status_code}) ---\n{response.parse().output_text}")


if __name__ == "__main__":
    main()
