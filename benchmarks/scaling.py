"""Time and peak memory of a compressor against input size and shape, on HotpotQA text (issue 14, linear cost).

Every case runs in its own process (so the peak resident memory, ``ru_maxrss``, is that case's own, model
included) after a warm-up on a small input; tokens/s is the input's tokens over the compression time. Shapes:

* ``paragraphs``: HotpotQA paragraphs as documents (``--sizes`` in tokens; 30 paragraphs is the baseline);
* ``one-document``: the same paragraphs joined into one document (the ~1 MB case);
* ``sentences``: one sentence per document (the 10,000-documents case).

::

    python benchmarks/scaling.py --acceptance              # 30 paragraphs, ~1 MB document, 10,000 sentences
    python benchmarks/scaling.py --sizes 1000,10000,100000,1000000 --plot docs/scaling.png
    python benchmarks/scaling.py --profile sentences:10000  # cProfile of one case, top functions

Needs the shared data (``../shared/data/hotpotqa-distractor``); exits with a message when it is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import ROOT, offline_hub_defaults  # noqa: E402

offline_hub_defaults()

DATA = os.environ.get("CONTEXTZIP_DATA_DIR", os.path.join(os.path.dirname(ROOT), "shared", "data"))
HOTPOT = os.path.join(DATA, "hotpotqa-distractor", "dev300.jsonl")


def hotpot_paragraphs() -> tuple[list[str], str]:
    """Every distinct HotpotQA paragraph, in file order, and the first question."""
    seen: dict[str, None] = {}
    question = ""
    with open(HOTPOT, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            question = question or rec["question_text"]
            for ctx in rec["contexts"]:
                seen.setdefault(" ".join(ctx["paragraph_text"].split()), None)
    return list(seen), question


def build(shape: str, size: int) -> tuple[list[str], str]:
    """Documents of ``shape`` holding ``size`` units: tokens for paragraphs / one-document, documents for
    sentences (and for ``paragraphs`` when ``size`` < 1000: that many paragraphs)."""
    from contextzip.segment import split_sentences
    from contextzip.tokens import get_token_counter

    paragraphs, question = hotpot_paragraphs()
    counter = get_token_counter()
    if shape == "sentences":
        sentences = [s.text for p in paragraphs for s in split_sentences(p)]
        while len(sentences) < size:
            sentences += sentences
        return sentences[:size], question
    if shape == "paragraphs" and size < 1000:
        return paragraphs[:size], question
    docs, total, i = [], 0, 0
    while total < size:
        p = paragraphs[i % len(paragraphs)]
        docs.append(p)
        total += counter.count(p) + 1
        i += 1
    return (["\n\n".join(docs)] if shape == "one-document" else docs), question


def run_case(compressor: str, shape: str, size: int, budget: int) -> dict:
    """One case, in this process: warm up, then time one compression."""
    from contextzip.registry import load_compressor

    docs, question = build(shape, size)
    comp = load_compressor(compressor)
    comp.compress(hotpot_paragraphs()[0][:12], question, target_tokens=200)  # loads the model, warms caches
    start = time.perf_counter()
    result = comp.compress(docs, question, target_tokens=budget)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"compressor": compressor, "shape": shape, "size": size, "documents": len(docs),
            "characters": sum(len(d) for d in docs), "tokens": result.original_tokens,
            "compressed_tokens": result.compressed_tokens, "budget": budget, "seconds": round(seconds, 3),
            "tokens_per_second": round(result.original_tokens / seconds, 1), "peak_rss_mb": round(peak_mb, 1)}


def in_subprocess(compressor: str, shape: str, size: int, budget: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--case", f"{shape}:{size}", "--compressor", compressor,
                          "--budget", str(budget)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def profile(compressor: str, shape: str, size: int, budget: int, top: int = 30) -> None:
    import cProfile
    import pstats

    from contextzip.registry import load_compressor

    docs, question = build(shape, size)
    comp = load_compressor(compressor)
    comp.compress(hotpot_paragraphs()[0][:12], question, target_tokens=200)
    prof = cProfile.Profile()
    prof.enable()
    comp.compress(docs, question, target_tokens=budget)
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(top)


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(12, 4.5))
    for shape in sorted({r["shape"] for r in rows}):
        pts = sorted((r["tokens"], r["seconds"], r["peak_rss_mb"], r["tokens_per_second"]) for r in rows
                     if r["shape"] == shape)
        xs = [p[0] for p in pts]
        ax_t.plot(xs, [p[3] for p in pts], marker="o", label=shape)
        ax_m.plot(xs, [p[2] for p in pts], marker="o", label=shape)
    for ax, label in ((ax_t, "tokens per second"), (ax_m, "peak resident memory (MB, model included)")):
        ax.set_xscale("log")
        ax.set_xlabel("input tokens (o200k_base)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_t.set_ylim(bottom=0)
    ax_m.set_ylim(bottom=0)
    fig.suptitle(f"{rows[0]['compressor']} on HotpotQA text, budget {rows[0]['budget']} tokens")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compressor", default="query-guided")
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--sizes", default="", help="comma-separated token sizes for the paragraphs and one-document shapes")
    ap.add_argument("--shapes", default="paragraphs,one-document")
    ap.add_argument("--acceptance", action="store_true",
                    help="30 paragraphs, one ~1 MB document and 10,000 one-sentence documents, with ratios")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--profile", metavar="SHAPE:SIZE")
    ap.add_argument("--plot", metavar="PNG")
    ap.add_argument("--json", metavar="FILE", help="write the rows here")
    args = ap.parse_args()
    if not os.path.isfile(HOTPOT):
        sys.exit(f"HotpotQA data not found at {HOTPOT}")
    if args.case:
        shape, size = args.case.split(":")
        print(json.dumps(run_case(args.compressor, shape, int(size), args.budget)))
        return
    if args.profile:
        shape, size = args.profile.split(":")
        profile(args.compressor, shape, int(size), args.budget)
        return
    cases: list[tuple[str, int]] = []
    if args.acceptance:
        cases += [("paragraphs", 30), ("one-document", 283_000), ("sentences", 10_000)]
    for size in [int(s) for s in args.sizes.split(",") if s]:
        cases += [(shape, size) for shape in args.shapes.split(",")]
    rows = []
    for shape, size in cases:
        row = in_subprocess(args.compressor, shape, size, args.budget)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.acceptance:
        base = rows[0]["tokens_per_second"]
        for row in rows[1:3]:
            print(f"{row['shape']}: {row['tokens_per_second'] / base:.2f}x the tokens/s of 30 paragraphs, "
                  f"peak {row['peak_rss_mb']:.0f} MB")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
    if args.plot and rows:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
