"""The eval runner: reader scores with closed-book and full-context references, cost and speed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from contextzip.eval.datasets import EvalExample, load_dataset
from contextzip.eval.readers import Reader, ReaderPrompt
from contextzip.eval.runner import (
    ReaderReferences,
    add_replies,
    compress_examples,
    full_context,
    reader_summary,
    run_eval,
    score_replies,
)
from contextzip.registry import load_compressor
from contextzip.types import Document


class EchoReader:
    """Replies with the context's first ``words`` words, or "no idea" without context; records prompts."""

    name = "echo"

    def __init__(self, words: int = 1000) -> None:
        self.words = words
        self.prompts: list[ReaderPrompt] = []

    def answer(self, prompts: Sequence[ReaderPrompt]) -> list[str]:
        self.prompts.extend(prompts)
        return [" ".join(p.context.split()[: self.words]) if p.context else "no idea" for p in prompts]


def _examples() -> list[EvalExample]:
    return [
        EvalExample("a", "Capital of France?", [Document("Paris is the capital of France.", "0"),
                                                Document("Bananas are yellow fruit.", "1")], ["Paris"]),
        EvalExample("b", "Colour of bananas?", [Document("Paris is the capital of France.", "0"),
                                                Document("Bananas are yellow fruit.", "1")], ["yellow"]),
        EvalExample("c", "What was decided?", [Document("We decided to ship the red remote.", "0")],
                    ["They decided to ship a red remote control."], skip_answer=True, meta={"long_answer": True}),
    ]


def test_echo_reader_is_a_reader() -> None:
    assert isinstance(EchoReader(), Reader)


def test_score_replies_hand_checked() -> None:
    ex = _examples()
    scores = score_replies(ex, ["It is Paris.", "green", "We decided to ship the red remote."])
    assert scores["reader_accuracy"] == pytest.approx(0.5)  # Paris yes, yellow no
    # F1: "it is paris" vs "paris" = 2 * (1/3 * 1) / (1/3 + 1) = 0.5; "green" vs "yellow" = 0
    assert scores["reader_f1"] == pytest.approx(0.25)
    assert 0.5 < scores["reader_rouge_l"] < 1.0
    assert score_replies(ex, [None, None, None]) == {}
    assert set(score_replies(ex[:1], ["Paris"], "closed_book_")) == {"closed_book_reader_accuracy",
                                                                     "closed_book_reader_f1"}


def test_references_and_reader_summary() -> None:
    examples = _examples()[:2]
    reader = EchoReader()
    refs = ReaderReferences.compute(reader, examples)
    assert refs.closed_book == ["no idea", "no idea"]
    assert refs.full_context == [" ".join(full_context(ex).split()) for ex in examples]  # echo joins words
    scores = refs.scores()
    assert scores["closed_book_reader_accuracy"] == 0.0
    assert scores["full_context_reader_accuracy"] == 1.0  # the full context holds both answers
    compressor = load_compressor("truncate")
    records = compress_examples(compressor, examples, target_tokens=8, warmup=0)
    seconds = add_replies(EchoReader(), records, limit=1)  # only the first question is read
    assert seconds >= 0 and records[0].reply is not None and records[1].reply is None
    summary = reader_summary(records, refs)
    assert summary["n_reader"] == 1
    assert summary["reader_accuracy"] == 1.0  # "Paris is the capital ..." survives truncation to 8 tokens
    assert summary["closed_book_reader_accuracy"] == 0.0 and summary["full_context_reader_accuracy"] == 1.0
    other = ReaderReferences("echo", list(reversed(examples)), ["x", "y"], ["x", "y"])
    with pytest.raises(ValueError, match="other questions"):
        reader_summary(records, other)


def test_run_eval_with_reader(data_dir) -> None:
    reader = EchoReader(words=30)
    summary, records = run_eval("nq", "truncate", rate=0.5, limit=4, data_dir=str(data_dir), reader=reader,
                                reader_limit=3)
    for key in ("reader_accuracy", "reader_f1", "closed_book_reader_accuracy", "full_context_reader_accuracy",
                "closed_book_reader_f1", "full_context_reader_f1", "mean_tokens_saved", "p50_ms", "p95_ms",
                "tokens_per_second", "answer_word_recall"):
        assert key in summary, key
    assert summary["reader"] == "echo" and summary["n_reader"] == 3 and summary["n"] == 4
    assert summary["closed_book_reader_accuracy"] == 0.0
    assert len(reader.prompts) == 3 * 3  # closed book, full context, compressed: 3 questions each
    assert [r.reply is not None for r in records] == [True, True, True, False]
    assert summary["mean_tokens_saved"] == pytest.approx(
        sum(r.result.original_tokens - r.result.compressed_tokens for r in records) / 4)
    with pytest.raises(ValueError, match="reader_limit must be > 0"):
        run_eval("nq", "truncate", rate=0.5, limit=1, data_dir=str(data_dir), reader=reader, reader_limit=0)


def test_run_eval_without_reader_has_no_reader_keys(data_dir) -> None:
    summary, _ = run_eval("hotpotqa", "truncate", rate=0.25, limit=3, data_dir=str(data_dir))
    assert not any(k.endswith("reader_accuracy") for k in summary)
    assert summary["budget_violations"] == 0


def test_qmsum_loads_and_scores_rouge(data_dir) -> None:
    examples = load_dataset("qmsum", str(data_dir), limit=3)
    assert len(examples) == 3
    assert all(ex.skip_answer and ex.meta["long_answer"] and ex.answers for ex in examples)
    assert all(sid in {d.id for d in ex.documents} for ex in examples for sid in ex.supporting)
    summary, _ = run_eval("qmsum", "truncate", rate=0.1, limit=2, data_dir=str(data_dir),
                          reader=EchoReader(words=40), reader_limit=2)
    assert summary["answer_retention"] is None  # long free-form answers: no exact-string retention
    assert 0.0 < summary["answer_word_recall"] <= 1.0
    assert 0.0 <= summary["reader_rouge_l"] <= 1.0
    assert "full_context_reader_rouge_l" in summary and "reader_accuracy" not in summary
