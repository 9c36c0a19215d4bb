"""``contextzip eval``: options, reader wiring (a local OpenAI-compatible server), errors as one line."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from contextzip.cli import cli

READER_KEYS = ("reader_accuracy", "reader_f1", "closed_book_reader_accuracy", "full_context_reader_accuracy")


def test_eval_with_openai_reader(data_dir, chat_server: Any) -> None:
    chat_server.reply = "Wilhelm Conrad Röntgen"
    result = CliRunner().invoke(
        cli, ["eval", "--dataset", "nq", "--compressor", "truncate", "--rate", "0.5", "--reader", "openai:test",
              "--limit", "3", "--reader-limit", "2", "--json", "--data-dir", str(data_dir)],
        env={"OPENAI_BASE_URL": chat_server.base_url, "OPENAI_API_KEY": "k"},
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # progress bars go to stderr
    for key in READER_KEYS:
        assert 0.0 <= summary[key] <= 1.0, key
    assert summary["reader"] == "openai:test" and summary["n_reader"] == 2 and summary["n"] == 3
    # NQ's first question is who got the first Nobel Prize in Physics: the fixed reply is right for it only
    assert summary["closed_book_reader_accuracy"] == pytest.approx(0.5)


def test_eval_without_reader(data_dir) -> None:
    result = CliRunner().invoke(cli, ["eval", "--dataset", "nq", "-c", "truncate", "--rate", "0.5", "--limit", "2",
                                      "--json", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # progress bars go to stderr
    assert "reader_accuracy" not in summary
    for key in ("mean_tokens_saved", "p50_ms", "p95_ms", "tokens_per_second", "budget_violations"):
        assert key in summary


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reader", "gpt"], "reader must be one of"),
        (["--reader", "smollm2", "--reader-limit", "0"], "must be > 0, but got 0"),
        (["--limit", "0"], "must be > 0, but got 0"),
    ],
)
def test_eval_bad_options_fail_in_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["eval", "--dataset", "nq", "--rate", "0.5", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_eval_help_lists_reader_and_qmsum() -> None:
    result = CliRunner().invoke(cli, ["eval", "--help"])
    assert "--reader" in result.output and "qmsum" in result.output
    assert "--budget" in result.output and "answer_nll" in result.output


def test_eval_budget_or_rate_exactly_one() -> None:
    for extra in ([], ["--budget", "8", "--rate", "0.5"]):
        result = CliRunner().invoke(cli, ["eval", "--dataset", "nq", "-c", "truncate", *extra])
        assert result.exit_code == 2 and "give exactly one of --budget N or --rate R" in result.output


@pytest.mark.slow
def test_eval_smollm2_reader(data_dir) -> None:
    """The acceptance command, on two questions."""
    result = CliRunner().invoke(cli, ["eval", "--dataset", "nq", "--compressor", "truncate", "--rate", "0.5",
                                      "--reader", "smollm2", "--limit", "2", "--json", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # progress bars go to stderr
    for key in READER_KEYS:
        assert 0.0 <= summary[key] <= 1.0, key
    for key in ("answer_nll", "closed_book_answer_nll", "full_context_answer_nll"):
        assert summary[key] > 0.0, key  # the gold answer's NLL, for a text compressor too
