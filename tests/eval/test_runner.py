"""The eval runner: reader scores with closed-book and full-context references, cost and speed."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import pytest

from contextzip.compressors.truncate import TruncateCompressor
from contextzip.eval.datasets import EvalExample, load_dataset
from contextzip.eval.readers import Reader, ReaderPrompt
from contextzip.eval.runner import (
    ReaderReferences,
    add_answer_nll,
    add_replies,
    compress_examples,
    full_context,
    gold_answer_nll,
    reader_summary,
    run_eval,
    score_replies,
    summarize,
)
from contextzip.registry import load_compressor
from contextzip.types import CompressionResult, Document


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


# Gold-answer NLL and gist results (issue 12).
NLL_KEYS = ("answer_nll", "closed_book_answer_nll", "full_context_answer_nll")


class ScoringEchoReader(EchoReader):
    """An echo reader that also scores answers: NLL 1.0 when the answer is in the context, 3.0 otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self.scored: list[tuple[ReaderPrompt, str]] = []

    def answer_nll(self, prompts: Sequence[ReaderPrompt], answers: Sequence[str]) -> list[float]:
        self.scored.extend(zip(prompts, answers, strict=True))
        return [1.0 if p.context and a in p.context else 3.0 for p, a in zip(prompts, answers, strict=True)]


@dataclass(frozen=True)
class PassageGists(CompressionResult):
    """Stands in for contextzip.gist's GistResult: one gist block per kept document."""

    blocks: tuple[Any, ...] = ()

    def prompt_fragment(self) -> str:
        from contextzip.gist.embeds import GIST_PLACEHOLDER

        return "\n\n".join([GIST_PLACEHOLDER] * len(self.blocks))

    def context_gists(self) -> list[Any]:
        return list(self.blocks)


class OwnEmbeddingGists(TruncateCompressor):
    """Truncation whose result is one gist block: the kept text's own token embeddings in ``embed``'s table, so a
    reader sees through the gists exactly what it sees in the text."""

    name = "own-embedding-gists"

    def __init__(self, embed: Callable[[str], Any]) -> None:
        super().__init__()
        self.embed = embed

    def compress_batch(self, items: Any, **kwargs: Any) -> list[CompressionResult]:
        out: list[CompressionResult] = []
        for r in super().compress_batch(items, **kwargs):
            base = {f.name: getattr(r, f.name) for f in fields(r)}
            out.append(PassageGists(**base, blocks=(self.embed(r.text),) if r.text.strip() else ()))
        return out


def test_reader_nll_keys_and_gap_closed() -> None:
    examples = _examples()[:2]
    reader = ScoringEchoReader()
    refs = ReaderReferences.compute(reader, examples)
    assert refs.closed_book_nll == [3.0, 3.0] and refs.full_context_nll == [1.0, 1.0]
    assert ReaderReferences.compute(EchoReader(), examples).closed_book_nll is None  # no answer_nll: no NLLs
    records = compress_examples(load_compressor("truncate"), examples, target_tokens=8, warmup=0)
    add_replies(reader, records)
    assert add_answer_nll(reader, records) >= 0
    assert [r.answer_nll for r in records] == [1.0, 3.0]  # "yellow" is cut by the 8-token head
    summary = reader_summary(records, refs)
    assert summary["answer_nll"] == 2.0 and summary["closed_book_answer_nll"] == 3.0
    assert summary["full_context_answer_nll"] == 1.0 and summary["answer_nll_gap_closed"] == 0.5
    without = reader_summary(records, ReaderReferences.compute(EchoReader(), examples))
    assert "answer_nll" in without and "closed_book_answer_nll" not in without
    assert "answer_nll_gap_closed" not in without
    no_answer = [EvalExample("d", "q?", [Document("text", "0")], [])]
    assert gold_answer_nll(reader, no_answer, [None]) == [None]  # nothing to score: not asked


def test_gist_results_reach_the_reader_as_gist_prompts() -> None:
    import torch

    from contextzip.gist.embeds import GIST_PLACEHOLDER

    examples = _examples()[:2]
    compressor = OwnEmbeddingGists(lambda text: torch.zeros(len(text.split()), 576))
    records = compress_examples(compressor, examples, target_tokens=8, warmup=0)
    reader = ScoringEchoReader()
    add_replies(reader, records)
    add_answer_nll(reader, records)
    for prompt, _ in reader.scored:
        assert prompt.context == GIST_PLACEHOLDER and prompt.uses_gists and prompt.gists[0].shape[1] == 576
    assert reader.prompts[0].uses_gists and records[0].reply == GIST_PLACEHOLDER
    summary = summarize(records, compressor)
    assert summary["mean_decoder_positions"] == statistics.fmean(r.result.compressed_tokens for r in records)
    text_records = compress_examples(load_compressor("truncate"), examples, target_tokens=8, warmup=0)
    assert "mean_decoder_positions" not in summarize(text_records, compressor)


@pytest.mark.slow
def test_run_eval_smollm2_nll_text_and_gists(data_dir) -> None:
    """The real reader on three NQ questions: the NLL keys beside the accuracy keys, for a text compressor and for
    gists that are the kept text's own embeddings (which must score as the text does)."""
    import torch

    from contextzip.engine import ScoringEngine
    from contextzip.eval.readers import SmolLM2Reader

    # Short replies: what is checked is that gists score and answer as their text does, not how well.
    reader = SmolLM2Reader(engine=ScoringEngine(device="cpu", dtype="float32", batch_size=8), max_new_tokens=8)
    examples = load_dataset("nq", str(data_dir), limit=3)
    refs = ReaderReferences.compute(reader, examples)

    def embed(text: str) -> Any:
        ids = reader.tokenizer(text, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            return reader.model.get_input_embeddings()(torch.tensor(ids)).clone()

    text_summary, _ = run_eval("nq", "truncate", rate=0.5, limit=3, data_dir=str(data_dir), reader=reader,
                               references=refs)
    gist_summary, records = run_eval("nq", OwnEmbeddingGists(embed), rate=0.5, limit=3, data_dir=str(data_dir),
                                     reader=reader, references=refs)
    for summary in (text_summary, gist_summary):
        for key in ("reader_accuracy", "closed_book_reader_accuracy", "full_context_reader_accuracy", *NLL_KEYS):
            assert key in summary, key
        assert all(0.0 < summary[k] < 20.0 for k in NLL_KEYS)
        assert summary["full_context_answer_nll"] < summary["closed_book_answer_nll"]
    assert gist_summary["answer_nll"] == pytest.approx(text_summary["answer_nll"], abs=1e-3)
    assert gist_summary["reader_accuracy"] == text_summary["reader_accuracy"]
    assert "mean_decoder_positions" in gist_summary and "mean_decoder_positions" not in text_summary
    assert all(r.answer_nll is not None for r in records)
