"""Side by side: contextzip's language-model compressors against the real ``llmlingua`` package.

Pairs, with the same SmolLM2-135M-Instruct weights and the same token budget (tiktoken ``o200k_base``):

* ``long-perplexity`` vs llmlingua's LongLLMLingua (question-conditioned);
* ``perplexity`` vs llmlingua's LLMLingua (question-agnostic);

on HotpotQA (distractor, 10 paragraphs) at rates 0.5 and 0.25 and on NQ (gold passage) at rate 0.25. For each
question every system of a pair runs back to back, so both see the same machine load. Reported: answer retention
(a gold answer string survives in the compressed context), mean ratio (compressed / original tokens), budget
violations (output over the budget), mean and median seconds per question (one question per call).

The ``abstractive`` section measures the abstractive compressor: NQ selective augmentation (a question paired with
its gold passage vs with an unrelated passage) and QMSum val (ROUGE-L of a SmolLM2 reader's answer from the
compressed context, and answer-word recall of the compressed context).

Records are appended to a JSONL cache as they are measured, so an interrupted run resumes where it stopped and the
markdown can be regenerated from what was measured (``--report-only``). Usage::

    python -m benchmarks.lm_compressors --limit 100
    python -m benchmarks.lm_compressors --sections abstractive --limit 50
    python -m benchmarks.lm_compressors --report-only
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

if __package__ in (None, ""):  # run as a file: make `benchmarks.*` importable from the repository root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import ROOT, offline_hub_defaults  # noqa: E402

offline_hub_defaults()

from contextzip.eval.datasets import EvalExample, load_dataset  # noqa: E402
from contextzip.eval.metrics import contains_answer  # noqa: E402
from contextzip.stats import percentile  # noqa: E402

logger = logging.getLogger("benchmarks.lm_compressors")

DEFAULT_OUT = os.path.join(ROOT, "docs", "sections", "lm_compressors.md")
DEFAULT_CACHE = os.path.join(
    os.environ.get("CONTEXTZIP_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "contextzip"),
    "benchmarks", "lm_compressors.jsonl",
)
PAIRS = {"long": ("long-perplexity", "longllmlingua"), "plain": ("perplexity", "llmlingua")}
SETTINGS = [("hotpotqa", 0.5), ("hotpotqa", 0.25), ("nq", 0.25)]


# --- systems -----------------------------------------------------------------------------------------------

def make_system(name: str, dtype: str) -> Any:
    if name == "longllmlingua":
        from benchmarks.peers.llmlingua_peer import LongLLMLinguaPeer

        return LongLLMLinguaPeer()
    if name == "llmlingua":
        from benchmarks.peers.llmlingua_peer import LLMLinguaPeer

        return LLMLinguaPeer()
    from contextzip.registry import load_compressor

    return load_compressor(name, dtype=dtype)


# --- record cache ------------------------------------------------------------------------------------------

def read_records(path: str) -> list[dict[str, Any]]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def append_record(path: str, record: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


# --- perplexity section ------------------------------------------------------------------------------------

def run_perplexity(args: argparse.Namespace) -> None:
    done = {(r["dataset"], r["rate"], r["system"], r["id"]) for r in read_records(args.cache) if r.get("section") == "ppl"}
    systems: dict[str, Any] = {}
    for pair in args.pairs:
        for dataset in dict.fromkeys(d for d, _ in SETTINGS):
            if dataset not in args.datasets:
                continue
            rates = [r for d, r in SETTINGS if d == dataset]
            examples = load_dataset(dataset, args.data_dir, args.limit)
            names = PAIRS[pair]
            for name in names:
                if name not in systems:
                    systems[name] = make_system(name, args.dtype)
                    warm = examples[0]
                    systems[name].compress(warm.documents[:2], warm.question, rate=0.5)  # load the model, untimed
            for n, ex in enumerate(examples):  # question-major, so a partial run covers every rate
                for rate in rates:
                    for name in names:
                        key = (dataset, rate, name, ex.id)
                        if key in done:
                            continue
                        start = time.perf_counter()
                        result = systems[name].compress(ex.documents, ex.question, rate=rate)
                        seconds = time.perf_counter() - start
                        tokens = systems[name].token_counter.count(result.text)
                        append_record(args.cache, {
                            "section": "ppl", "dataset": dataset, "rate": rate, "system": name, "id": ex.id,
                            "answerable": bool(ex.answers) and not ex.skip_answer,
                            "retained": contains_answer(result.text, ex.answers) if ex.answers else None,
                            "original_tokens": result.original_tokens, "tokens": tokens,
                            "budget": result.target_tokens, "violation": tokens > result.target_tokens,
                            "seconds": seconds,
                        })
                        done.add(key)
                logger.info("%s pair %s: %d/%d", dataset, pair, n + 1, len(examples))


def perplexity_table(records: list[dict[str, Any]], limit: int | None) -> list[str]:
    lines = [
        "| dataset | rate | system | questions | answer retention | mean ratio | budget violations | s / question (mean) | s / question (median) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for pair in PAIRS.values():
        for dataset, rate in SETTINGS:
            by_system = {
                name: {r["id"]: r for r in records
                       if r.get("section") == "ppl" and r["dataset"] == dataset and r["rate"] == rate and r["system"] == name}
                for name in pair
            }
            common = set.intersection(*(set(v) for v in by_system.values()))
            if not common:
                continue
            for name in pair:
                rows = [by_system[name][i] for i in sorted(common)]
                answerable = [r for r in rows if r["answerable"]]
                retention = statistics.fmean(r["retained"] for r in answerable) if answerable else float("nan")
                ratio = statistics.fmean(r["tokens"] / r["original_tokens"] for r in rows if r["original_tokens"])
                seconds = [r["seconds"] for r in rows]
                label = f"contextzip `{name}`" if name in ("perplexity", "long-perplexity") else f"llmlingua {'LongLLMLingua' if name == 'longllmlingua' else 'LLMLingua'}"
                lines.append(
                    f"| {dataset} | {rate} | {label} | {len(rows)} ({len(answerable)} answerable) | {retention:.3f} | "
                    f"{ratio:.3f} | {sum(r['violation'] for r in rows)} | {statistics.fmean(seconds):.2f} | "
                    f"{percentile(seconds, 0.5):.2f} |"
                )
    return lines


# --- abstractive section -----------------------------------------------------------------------------------

def nq_pairs(data_dir: str | None, limit: int | None) -> list[tuple[EvalExample, EvalExample]]:
    """Each NQ question with an unrelated passage: the gold passage of the question ``len // 2`` further on."""
    examples = load_dataset("nq", data_dir, None)
    n = len(examples)
    chosen = examples[:limit] if limit else examples
    return [(ex, examples[(k + n // 2) % n]) for k, ex in enumerate(chosen)]


def run_abstractive(args: argparse.Namespace) -> None:
    from contextzip.compressors.abstractive import AbstractiveCompressor

    done = {(r["dataset"], r["id"], r.get("variant")) for r in read_records(args.cache) if r.get("section") == "abs"}
    compressor = AbstractiveCompressor(dtype=args.dtype)
    pairs = nq_pairs(args.data_dir, args.abstractive_limit)
    for k in range(0, len(pairs), args.batch):
        chunk = [p for p in pairs[k:k + args.batch]
                 if (("nq", p[0].id, "gold") not in done or ("nq", p[0].id, "unrelated") not in done)]
        if not chunk:
            continue
        items = [(ex.question, ex.documents) for ex, _ in chunk] + [(ex.question, other.documents) for ex, other in chunk]
        start = time.perf_counter()
        results = compressor.compress_batch(items, target_tokens=args.abstractive_budget)
        seconds = (time.perf_counter() - start) / len(items)
        for j, (ex, _) in enumerate(chunk):
            for variant, res in (("gold", results[j]), ("unrelated", results[len(chunk) + j])):
                append_record(args.cache, {
                    "section": "abs", "dataset": "nq", "id": ex.id, "variant": variant,
                    "empty": not res.text.strip(), "retained": contains_answer(res.text, ex.answers),
                    "passthrough": res.strategy.startswith("passthrough"),
                    "tokens": res.compressed_tokens, "budget": res.target_tokens,
                    "violation": res.compressed_tokens > res.target_tokens,
                    "faithfulness": res.extra.get("faithfulness"), "seconds": seconds,
                })
        logger.info("nq abstractive %d/%d", min(k + args.batch, len(pairs)), len(pairs))
    run_qmsum(args, compressor, done)


def qmsum_examples(data_dir: str | None, limit: int | None) -> list[dict[str, Any]]:
    from contextzip.eval.datasets import data_folder

    folder = data_folder("qmsum", data_dir)
    out = []
    with open(os.path.join(folder, "val.jsonl"), encoding="utf-8") as f:
        for m, line in enumerate(f):
            rec = json.loads(line)
            turns = rec["meeting_transcripts"]
            for q, query in enumerate(rec["specific_query_list"]):
                spans = query.get("relevant_text_span") or []
                if not spans:
                    continue
                # The query's relevant span of the transcript (the "gold span" setting), cut into chunks of turns.
                lo, hi = int(spans[0][0]), int(spans[-1][1])
                chunk = [f"{t['speaker']}: {t['content']}" for t in turns[lo:hi + 1]]
                docs = [" ".join(chunk[i:i + 8]) for i in range(0, len(chunk), 8)]
                out.append({"id": f"qmsum-{m}-{q}", "question": query["query"], "answer": query["answer"], "documents": docs})
    return out[:limit] if limit else out


def run_qmsum(args: argparse.Namespace, compressor: Any, done: set) -> None:
    from contextzip.eval.metrics import normalize_answer

    try:
        from rouge_score import rouge_scorer
    except ImportError:  # pragma: no cover
        logger.warning("rouge-score not installed: pip install rouge-score")
        return
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    examples = [e for e in qmsum_examples(args.data_dir, args.qmsum_limit) if ("qmsum", e["id"], "reader") not in done]
    if not examples:
        return
    from contextzip.compressors.abstractive import AbstractiveCompressor  # noqa: F401  (reader shares the model)

    for k in range(0, len(examples), args.batch):
        chunk = examples[k:k + args.batch]
        start = time.perf_counter()
        results = compressor.compress_batch([(e["question"], e["documents"]) for e in chunk],
                                            target_tokens=args.qmsum_budget)
        seconds = (time.perf_counter() - start) / len(chunk)
        answers = compressor.generator.answer([(e["question"], r.text) for e, r in zip(chunk, results, strict=True)],
                                              max_new_tokens=80)
        for e, r, a in zip(chunk, results, answers, strict=True):
            gold_words = set(normalize_answer(e["answer"]).split())
            ctx_words = set(normalize_answer(r.text).split())
            append_record(args.cache, {
                "section": "abs", "dataset": "qmsum", "id": e["id"], "variant": "reader",
                "rougeL_reader": scorer.score(e["answer"], a)["rougeL"].fmeasure,
                "rougeL_context": scorer.score(e["answer"], r.text)["rougeL"].fmeasure if r.text else 0.0,
                "answer_word_recall": len(gold_words & ctx_words) / max(1, len(gold_words)),
                "empty": not r.text.strip(), "tokens": r.compressed_tokens, "original_tokens": r.original_tokens,
                "faithfulness": r.extra.get("faithfulness"), "seconds": seconds, "budget": r.target_tokens,
                "violation": r.compressed_tokens > r.target_tokens,
            })
        logger.info("qmsum %d/%d", min(k + args.batch, len(examples)), len(examples))


def abstractive_lines(records: list[dict[str, Any]]) -> list[str]:
    abs_records = [r for r in records if r.get("section") == "abs"]
    lines: list[str] = []
    gold = [r for r in abs_records if r["dataset"] == "nq" and r["variant"] == "gold"]
    unrelated = [r for r in abs_records if r["dataset"] == "nq" and r["variant"] == "unrelated"]
    if gold and unrelated:
        faith = [r["faithfulness"] for r in gold if r.get("faithfulness") is not None]
        lines += [
            "| NQ pairing | questions | empty context | answer kept | mean tokens | budget violations | mean faithfulness | s / pair |",
            "|---|---|---|---|---|---|---|---|",
            f"| question + its gold passage | {len(gold)} ({sum(bool(r.get('passthrough')) for r in gold)} within "
            f"budget, passed unchanged) | {_mean(r['empty'] for r in gold):.3f} | "
            f"{_mean(r['retained'] for r in gold):.3f} | {_mean(r['tokens'] for r in gold):.1f} | "
            f"{sum(r['violation'] for r in gold)} | {_mean(faith):.3f} | {_mean(r['seconds'] for r in gold):.2f} |",
            f"| question + an unrelated passage | {len(unrelated)} | {_mean(r['empty'] for r in unrelated):.3f} | "
            f"{_mean(r['retained'] for r in unrelated):.3f} | {_mean(r['tokens'] for r in unrelated):.1f} | "
            f"{sum(r['violation'] for r in unrelated)} | - | {_mean(r['seconds'] for r in unrelated):.2f} |",
            "",
        ]
    qm = [r for r in abs_records if r["dataset"] == "qmsum"]
    if qm:
        lines += [
            "| QMSum val (specific queries, gold span) | queries | reader ROUGE-L | context ROUGE-L | answer-word recall | empty | mean ratio | budget violations | s / query |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| `abstractive` + SmolLM2 reader | {len(qm)} | {_mean(r['rougeL_reader'] for r in qm):.3f} | "
            f"{_mean(r['rougeL_context'] for r in qm):.3f} | {_mean(r['answer_word_recall'] for r in qm):.3f} | "
            f"{_mean(r['empty'] for r in qm):.3f} | {_mean(r['tokens'] / max(1, r['original_tokens']) for r in qm):.3f} | "
            f"{sum(r['violation'] for r in qm)} | {_mean(r['seconds'] for r in qm):.2f} |",
            "",
        ]
    return lines


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _mean(values: Iterable[Any]) -> float:
    vals = [float(v) for v in values]
    return statistics.fmean(vals) if vals else float("nan")


# --- report ------------------------------------------------------------------------------------------------

def write_report(args: argparse.Namespace) -> str:
    import platform

    records = read_records(args.cache)
    lines = [
        "### Language-model compressors vs llmlingua",
        "",
        "Same model for both (SmolLM2-135M-Instruct, contextzip's converted local copy; llmlingua 0.2.2 "
        "`PromptCompressor(model_name=<that folder>, device_map=\"cpu\")`, float32), same budget in tiktoken "
        "`o200k_base` tokens (llmlingua gets it as `target_token`, with `concate_question=False`), the same "
        "questions for both systems of a pair (the first N of each data set), run back to back per question. "
        f"contextzip ran with `dtype={args.dtype!r}`; torch used {_torch_threads()} thread(s) for both systems "
        "(OMP_NUM_THREADS). Machine: " + f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPU cores shared with other jobs, so times are noisy; compare a pair's rows, not tables "
        "taken at different moments. Reproduce: `python -m benchmarks.lm_compressors --limit 100`. "
        "The question counts are what finished in the time available (the first questions of each set, not a "
        "selection); with a handful of questions the retention figures are anecdotes, not estimates. HotpotQA's "
        "file lists its 150 bridge questions before its 150 comparison questions, so up to 150 questions are all "
        "bridge (two-hop) questions. A peer's retention counts its over-budget outputs too.",
        "",
    ]
    lines += perplexity_table(records, args.limit)
    lines.append("")
    abs_lines = abstractive_lines(records)
    if abs_lines:
        lines += [
            "#### Abstractive compression (RECOMP-style) and selective augmentation",
            "",
            "`abstractive` (SmolLM2-135M-Instruct writes a query-focused summary; a relevance gate returns an empty "
            "context when the documents do not bear on the question). NQ: each question with its gold passage, and "
            "with the gold passage of another question (unrelated). QMSum: the query's relevant transcript span, "
            "compressed, then answered by SmolLM2 as reader.",
            "",
            *abs_lines,
        ]
    text = "\n".join(lines).rstrip() + "\n"
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=100, help="questions per data set (same for every system)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--datasets", nargs="+", default=["hotpotqa", "nq"])
    parser.add_argument("--pairs", nargs="+", default=["long", "plain"], choices=sorted(PAIRS))
    parser.add_argument("--sections", nargs="+", default=["perplexity", "abstractive"],
                        choices=["perplexity", "abstractive"])
    parser.add_argument("--dtype", default="auto", help="contextzip's dtype (llmlingua runs float32 on CPU)")
    parser.add_argument("--abstractive-limit", type=int, default=50)
    parser.add_argument("--abstractive-budget", type=int, default=64)
    parser.add_argument("--qmsum-limit", type=int, default=20)
    parser.add_argument("--qmsum-budget", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--cache", default=DEFAULT_CACHE, help="JSONL of measured records (resumable)")
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    steps: dict[str, Callable[[argparse.Namespace], None]] = {"perplexity": run_perplexity,
                                                              "abstractive": run_abstractive}
    if not args.report_only:
        for section in args.sections:
            steps[section](args)
            write_report(args)
    sys.stdout.write(write_report(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
