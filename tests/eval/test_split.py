"""``--split``: tune and report halves that never overlap, recorded in the summary."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from contextzip.cli import cli
from contextzip.eval.datasets import EvalExample, load_dataset, split_examples
from contextzip.eval.runner import trained_on


def _examples(n: int) -> list[EvalExample]:
    return [EvalExample(str(i), "q?", [], ["a"]) for i in range(n)]


def test_even_odd_and_nq_halves() -> None:
    ex = _examples(10)
    assert [e.id for e in split_examples("hotpotqa", ex, "tune")] == ["0", "2", "4", "6", "8"]
    assert [e.id for e in split_examples("hotpotqa", ex, "report")] == ["1", "3", "5", "7", "9"]
    assert len(split_examples("squad", ex, "all")) == 10
    nq = _examples(1300)
    tune, report = split_examples("nq", nq, "tune"), split_examples("nq", nq, "report")
    assert (len(tune), len(report)) == (300, 1000)
    assert tune[-1].id == "299" and report[0].id == "300"
    with pytest.raises(ValueError, match="split"):
        split_examples("nq", nq, "test")


def test_trained_on_walks_scorers() -> None:
    class Scorer:
        trained_on = ("squad",)

    class Comp:
        scorer = Scorer()

    assert trained_on(Comp()) == {"squad"}  # type: ignore[arg-type]


def test_hotpotqa_split_covers_both_kinds(data_dir) -> None:
    tune = load_dataset("hotpotqa", str(data_dir), split="tune")
    report = load_dataset("hotpotqa", str(data_dir), split="report")
    assert len(tune) == len(report) == 150
    assert not {e.id for e in tune} & {e.id for e in report}


def test_cli_records_split(data_dir) -> None:
    result = CliRunner().invoke(cli, ["eval", "--dataset", "nq", "-c", "truncate", "--rate", "0.5", "--limit", "2",
                                      "--split", "report", "--json", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["split"] == "report" and summary["in_sample"] is False and summary["n"] == 2


def test_cli_compressor_options(data_dir) -> None:
    ok = CliRunner().invoke(cli, ["eval", "--dataset", "hotpotqa", "-c", "query-guided", "-o", "fill_budget=false",
                                  "-o", "windows=words", "--rate", "0.5", "--limit", "1", "--json",
                                  "--data-dir", str(data_dir)])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(cli, ["eval", "--dataset", "nq", "-c", "truncate", "-o", "nonsense=1", "--rate", "0.5",
                                   "--limit", "1", "--data-dir", str(data_dir)])
    assert bad.exit_code != 0 and "nonsense" in bad.output
