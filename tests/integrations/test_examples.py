"""The integration examples that run without a model stay runnable as written (document_qa with a fast compressor)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_document_qa_writes_one_prompt_per_question(tmp_path, counter):
    out = tmp_path / "prompts.jsonl"
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "document_qa.py"), str(REPO / "examples" / "document_qa_sample.jsonl"),
         "--budget", "30", "--compressor", "truncate", "-o", str(out)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "4 prompts written" in proc.stderr and "compressing" in proc.stderr  # the progress bar
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3", "q4"]
    for r in rows:
        assert r["compressed_tokens"] <= 30 and r["prompt"].endswith(f"Question: {r['question']}")
        context = r["prompt"].split("<context>\n", 1)[1].split("\n</context>", 1)[0]
        assert counter.count(context) == r["compressed_tokens"]
