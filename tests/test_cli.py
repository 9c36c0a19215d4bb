"""The `contextzip compress` and `contextzip models` commands, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from contextzip.cli import cli

TEXT = ("The Harwick Point lighthouse was first lit in 1872. Its lamp burned whale oil. "
        "Marta Lindqvist kept the light for 31 years, from 1924 to 1955. "
        "The light was automated in 1987. Puffins nest on the island of Skarn. "
        "A ferry crosses to Skarn twice a day in summer.")


def test_compress_stdin_json_within_budget(counter):
    out = CliRunner().invoke(cli, ["compress", "-", "--query", "When was the light automated?", "--budget", "20",
                                   "--compressor", "bm25-sentences", "--json"], input=TEXT)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    for key in ("text", "original_tokens", "compressed_tokens", "ratio", "documents"):
        assert key in data
    assert data["compressed_tokens"] <= 20
    assert counter.count(data["text"]) == data["compressed_tokens"]
    assert "1987" in data["text"]


@pytest.mark.slow
def test_console_script_default_compressor():
    exe = os.path.join(os.path.dirname(sys.executable), "contextzip")
    proc = subprocess.run([exe, "compress", "-", "--query", "Who kept the light?", "--budget", "60", "--json"],
                          input=TEXT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["compressed_tokens"] <= 60
    assert "Lindqvist" in data["text"]


def test_compress_jsonl_keeps_ids(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"d{i}", "text": t, "metadata": {"n": i}})
                              for i, t in enumerate(TEXT.split(". "))), encoding="utf-8")
    out = CliRunner().invoke(cli, ["compress", str(path), "--rate", "0.5", "-c", "truncate", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert [d["id"] for d in data["documents"]] == [f"d{i}" for i in range(len(TEXT.split(". ")))]


@pytest.mark.parametrize("args", [[], ["--budget", "10", "--rate", "0.5"], ["--budget", "0"], ["--budget", "-3"],
                                  ["--rate", "1.5"]])
def test_bad_budgets_are_one_line_errors(args):
    out = CliRunner().invoke(cli, ["compress", "-", "-c", "truncate", *args], input=TEXT)
    assert out.exit_code != 0
    assert "Traceback" not in out.output
    assert "Error" in out.output


def test_binary_and_bad_jsonl_input(tmp_path):
    out = CliRunner().invoke(cli, ["compress", "-", "--budget", "5", "-c", "truncate"], input=b"\x00\x01\xff\xfe")
    assert out.exit_code != 0 and ("binary" in out.output or "UTF-8" in out.output)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\nnot json\n', encoding="utf-8")
    out = CliRunner().invoke(cli, ["compress", str(bad), "--budget", "5", "-c", "truncate"])
    assert out.exit_code != 0 and "bad.jsonl:2" in out.output


def test_unknown_compressor_is_reported():
    out = CliRunner().invoke(cli, ["compress", "-", "--budget", "5", "-c", "nope"], input=TEXT)
    assert out.exit_code != 0 and "compressor must be one of" in out.output


def test_models_lists_offline_availability():
    out = CliRunner().invoke(cli, ["models"])
    assert out.exit_code == 0
    assert "minilm" in out.output and "available offline" in out.output
    assert "query-guided" in out.output


def test_version_and_help():
    runner = CliRunner()
    assert runner.invoke(cli, ["--version"]).exit_code == 0
    result = runner.invoke(cli, ["-h"])
    assert result.exit_code == 0 and "Quickstart" in result.output


def test_python_dash_m():
    proc = subprocess.run([sys.executable, "-m", "contextzip", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "contextzip" in proc.stdout
