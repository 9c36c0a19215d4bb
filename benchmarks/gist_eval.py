"""Gists against text at the same number of decoder positions: SmolLM2-135M-Instruct's gold-answer NLL and accuracy.

    .venv/bin/python benchmarks/gist_eval.py                         # NQ, first 200 questions, k = 1 4 8 16
    .venv/bin/python benchmarks/gist_eval.py --dataset squad-held-out --limit 200

For each number of positions p, two rows through the same reader on the same questions: ``gist`` with a budget of
p decoder positions (one NQ passage is one segment, so k = p) and ``query-guided`` text budgeted in the decoder's
own tokens (``token_counter="hf:smollm2-135m"``), so both put p positions in front of the question. The
closed-book and full-passage references are computed once. ``squad-held-out`` is SQuAD v1.1's questions from the
articles ``training/train_gist.py`` held out (each with its own paragraph only). Writes
``docs/sections/gist_eval.md`` (included verbatim in docs/benchmarks.md), ``docs/gist-positions.png`` and the
raw JSON under ``benchmarks/results/gist/``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from typing import Any

if __package__ in (None, ""):  # run as a file: make `benchmarks.*` and `training.*` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import ROOT, offline_hub_defaults  # noqa: E402

offline_hub_defaults()

KEYS = ("reader_accuracy", "answer_nll", "answer_nll_gap_closed", "mean_compressed_tokens", "p50_ms")


def squad_held_out(data_dir: str | None, limit: int | None) -> list[Any]:
    """SQuAD questions of the articles the gist projector never saw, each with its own paragraph."""
    from contextzip.eval.datasets import load_squad
    from training.train_gist import held_out

    examples = [ex for ex in load_squad(data_dir, distractors=0) if held_out(ex.documents[0].metadata["title"])]
    return examples[:limit] if limit else examples


def main(argv: list[str] | None = None) -> int:
    from contextzip.eval import runner
    from contextzip.eval.datasets import load_dataset
    from contextzip.eval.readers import SmolLM2Reader
    from contextzip.gist import GistCompressor
    from contextzip.registry import load_compressor

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="nq", choices=["nq", "squad-held-out"])
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--split", default="all", help="for nq: all (questions 1-N), tune or report")
    parser.add_argument("--positions", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--text-compressor", default="query-guided")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--projector", default=None, help="a trained projector folder (default: the packaged one)")
    parser.add_argument("--control-positions", type=int, nargs="*", default=[8],
                        help="positions at which to add the control row: each question read with the gists of "
                             "the next question's passage")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    if args.dataset == "nq":
        examples = load_dataset("nq", args.data_dir, args.limit, args.split)
    else:
        examples = squad_held_out(args.data_dir, args.limit)
    reader = SmolLM2Reader()
    started = time.time()
    refs = runner.ReaderReferences.compute(reader, examples)
    rows: list[dict[str, Any]] = []
    gist = GistCompressor(args.projector)
    text = load_compressor(args.text_compressor, token_counter="hf:smollm2-135m")
    for p in args.positions:
        for name, comp in (("gist", gist), (args.text_compressor, text)):
            records = runner.compress_examples(comp, examples, target_tokens=p)
            summary = {"method": name, "positions": p, **runner.summarize(records, comp),
                       **runner.read_records(reader, records, refs)}
            rows.append({k: summary.get(k) for k in ("method", "positions", *KEYS, "n_reader",
                                                      "mean_decoder_positions")})
            print(json.dumps(rows[-1]), flush=True)
            if name == "gist" and p in args.control_positions:
                rows.append(control(runner, reader, records, refs, p))
                print(json.dumps(rows[-1]), flush=True)
    ref_summary = refs.scores()
    out = {"dataset": args.dataset, "split": args.split, "n": len(examples), "rows": rows,
           "references": ref_summary, "seconds": round(time.time() - started),
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "projector": args.projector or "packaged", "reader": reader.name, "reader_dtype": str(reader.engine.dtype)}
    print(json.dumps(out["references"]))
    if not args.no_write:
        write(out)
    return 0


def control(runner: Any, reader: Any, records: list[Any], refs: Any, p: int) -> dict[str, Any]:
    """The same reader on the same questions with the gists of the *next* question's passage: what the gists give
    without the right passage (a learned prompt's format and prior), to set against what they carry of it."""
    n = len(records)
    swapped = [runner.ExampleRecord(r.example, records[(i + 1) % n].result, r.latency_ms) for i, r in enumerate(records)]
    summary = runner.read_records(reader, swapped, refs)
    return {"method": "gist, other passage (control)", "positions": p,
            **{k: summary.get(k) for k in KEYS if k in summary}, "n_reader": summary.get("n_reader"),
            "mean_compressed_tokens": float(p), "mean_decoder_positions": float(p)}


def write(out: dict[str, Any]) -> None:
    folder = os.path.join(ROOT, "benchmarks", "results", "gist")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{out['dataset']}-{out['split']}-{out['n']}.json"), "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=2)
    plot(out, os.path.join(ROOT, "docs", "gist-positions.png"))
    with open(os.path.join(ROOT, "docs", "sections", "gist_eval.md"), "w", encoding="utf-8") as fh:
        fh.write(markdown(out))


def markdown(out: dict[str, Any]) -> str:
    ref = out["references"]
    lines = [f"## Gists against text at equal decoder positions ({out['dataset']}, {out['n']} questions)", "",
             f"Reader: {out['reader']} ({out['reader_dtype']}); generated by `benchmarks/gist_eval.py` on "
             f"{out['date']} in {out['seconds']} s. *answer NLL*: the reader's mean negative log-likelihood (nats per "
             "token) of the first gold answer; *gap closed*: (closed-book NLL - NLL) / (closed-book NLL - "
             "full-passage NLL). *gist, other passage (control)*: each question read with the gists of the next "
             "question's passage, which shows what the gists give without the right passage (a learned prompt). The "
             "gist rows are the packaged projector (`training/train_gist.py`, trained on "
             "SQuAD training articles, XSum and CNN/DM; never on NQ).", "",
             f"- closed book: accuracy {ref.get('closed_book_reader_accuracy', float('nan')):.3f}, answer NLL "
             f"{ref.get('closed_book_answer_nll', float('nan')):.3f}",
             f"- full passage: accuracy {ref.get('full_context_reader_accuracy', float('nan')):.3f}, answer NLL "
             f"{ref.get('full_context_answer_nll', float('nan')):.3f}", "",
             "| positions | method | reader acc. | answer NLL | gap closed | mean positions used |",
             "|---|---|---|---|---|---|"]
    for r in out["rows"]:
        used = r.get("mean_decoder_positions") or r.get("mean_compressed_tokens")
        lines.append(f"| {r['positions']} | {r['method']} | {r['reader_accuracy']:.3f} | {r['answer_nll']:.3f} | "
                     f"{r['answer_nll_gap_closed']:.3f} | {used:.1f} |")
    lines += ["", "![accuracy and answer NLL against decoder positions](gist-positions.png)", ""]
    return "\n".join(lines)


def plot(out: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    ref = out["references"]
    for ax, key, label in ((axes[0], "reader_accuracy", "reader accuracy"), (axes[1], "answer_nll", "answer NLL")):
        for method in dict.fromkeys(r["method"] for r in out["rows"]):
            rows = [r for r in out["rows"] if r["method"] == method]
            ax.plot([r["positions"] for r in rows], [r[key] for r in rows], marker="o", label=method)
        for ref_key, style, name in ((f"closed_book_{key}", ":", "closed book"),
                                     (f"full_context_{key}", "--", "full passage")):
            if ref_key in ref:
                ax.axhline(ref[ref_key], linestyle=style, color="grey", label=name)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("decoder positions for the context")
        ax.set_ylabel(label)
        ax.legend()
    fig.suptitle(f"{out['dataset']}, {out['n']} questions, {out['reader']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
