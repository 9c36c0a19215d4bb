"""The examples stay runnable as written, and quiet: nothing on stderr at default logging (issue 15.3)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
QUIET_ENV = {k: v for k, v in os.environ.items() if k not in ("TRANSFORMERS_VERBOSITY", "HF_HUB_VERBOSITY")}
QUIET_ENV.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")


def run_example(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=QUIET_ENV,
                          cwd=REPO)


@pytest.mark.slow
@pytest.mark.parametrize("example", ["demo.py", "openai_wrap.py", "langchain_rag.py", "llamaindex_postprocessor.py"])
def test_examples_print_nothing_on_stderr(example):
    """``make demo`` and the integration examples: no progress bar or warning from contextzip or its
    dependencies (transformers' "Loading weights" bar included) at default logging."""
    proc = run_example(str(REPO / "examples" / example))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    assert proc.stderr == ""


def test_document_qa_writes_one_prompt_per_question(tmp_path, counter):
    out = tmp_path / "prompts.jsonl"
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "document_qa.py"), str(REPO / "examples" / "document_qa_sample.jsonl"),
         "--budget", "30", "--compressor", "truncate", "-o", str(out), "--progress"],
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


def test_document_qa_keeps_input_fields_takes_a_template_and_is_quiet_when_piped(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "question": "Who kept the light?", "source": "crm-17",
                                  "documents": ["Marta kept the light for 31 years.", "Bananas are yellow."]}) + "\n",
                      encoding="utf-8")
    proc = run_example(str(REPO / "examples" / "document_qa.py"), str(source), "--budget", "12", "-c", "truncate",
                       "--template", "[{source}] {question}\n{context}")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    row = json.loads(proc.stdout)
    assert row["id"] == "a" and row["source"] == "crm-17" and row["question"] == "Who kept the light?"
    assert row["prompt"].startswith("[crm-17] Who kept the light?\n")
    assert [d["id"] for d in row["documents"]] == ["0", "1"]
    bad = run_example(str(REPO / "examples" / "document_qa.py"), str(source), "--budget", "12", "-c", "truncate",
                      "--template", "{missing} {context}")
    assert bad.returncode != 0 and "--template" in bad.stderr and "missing" in bad.stderr
