"""Throughput of the token-classification compressor's default model against its teacher, on the same text.

Measures, in input tokens (o200k_base) per second:

* the distilled student (``contextzip-token-clf``): word keep probabilities alone, and a full ``compress`` at
  rate 0.33 (threshold search and rendering included), in float32 and bfloat16, and how many kept words
  the two dtypes share (difflib ratio of the kept-word sequences: 1.0 = the same words in the same order);
* the teacher signal: SmolLM2-135M self-information (one forward pass per text, as ``training/label_teacher.py``).

The CPU is often shared: run it at a quiet moment, and take the best of ``--repeats`` runs.
Usage: python benchmarks/throughput_token_classification.py [--texts 200] [--teacher-texts 24] [--json]
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import platform
import sys
import time

if __package__ in (None, ""):  # run as a file: make `benchmarks.*` and `training.*` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import best_of, offline_hub_defaults  # noqa: E402

offline_hub_defaults()

import numpy as np  # noqa: E402

from contextzip.compressors.token_classification import TokenClassificationCompressor  # noqa: E402
from contextzip.tokens import get_token_counter  # noqa: E402


def load_texts(n: int, data_dir: str) -> list[str]:
    """HotpotQA paragraphs joined per question (evaluation data: only read here, never trained on)."""
    from contextzip.eval.datasets import load_dataset

    examples = load_dataset("hotpotqa", data_dir, n)
    return ["\n\n".join(d.text for d in ex.documents) for ex in examples]


def teacher_seconds(texts: list[str], max_tokens: int = 2048) -> float:
    """Seconds for the teacher's self-information of ``texts``, computed as training does (after a warm-up)."""
    from training.label_teacher import self_information

    self_information(texts[:2], max_tokens)  # loads SmolLM2, untimed
    start = time.perf_counter()
    self_information(texts, max_tokens)
    return time.perf_counter() - start


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--teacher-texts", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--data-dir", default=os.path.join("..", "shared", "data"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    counter = get_token_counter()
    texts = load_texts(args.texts, args.data_dir)
    n_tokens = sum(counter.count_many(texts))
    result: dict = {"texts": len(texts), "input_tokens": n_tokens, "machine": platform.processor() or platform.machine(),
                    "torch_threads": torch.get_num_threads()}
    kept: dict[str, list[str]] = {}
    for dtype in ("float32", "bfloat16"):
        c = TokenClassificationCompressor(device=args.device, dtype=dtype)
        c.warm_up()
        c.scorer.score(texts[:4])
        score_s = best_of(lambda c=c: c.scorer.score(texts), args.repeats)
        compress_s = best_of(lambda c=c: c.compress_batch([(None, t) for t in texts], rate=0.33), args.repeats)
        kept[dtype] = [r.text for r in c.compress_batch([(None, t) for t in texts], rate=0.33)]
        result[f"student_{dtype}_score_tokens_per_s"] = round(n_tokens / score_s)
        result[f"student_{dtype}_compress_tokens_per_s"] = round(n_tokens / compress_s)
    same = [a == b for a, b in zip(kept["float32"], kept["bfloat16"], strict=True)]
    # Kept words that agree, in order (difflib's matching blocks over the two kept-word sequences).
    agree = [difflib.SequenceMatcher(None, a.split(), b.split(), autojunk=False).ratio()
             for a, b in zip(kept["float32"], kept["bfloat16"], strict=True)]
    result["bf16_identical_outputs"] = float(np.mean(same))
    result["bf16_kept_words_in_common"] = float(np.mean(agree))
    teacher_texts = texts[: args.teacher_texts]
    teacher_tokens = sum(counter.count_many(teacher_texts))
    t_s = teacher_seconds(teacher_texts)
    result["teacher_smollm2_tokens_per_s"] = round(teacher_tokens / t_s)
    best_student = max(result["student_float32_compress_tokens_per_s"], result["student_bfloat16_compress_tokens_per_s"])
    result["student_compress_vs_teacher"] = round(best_student / result["teacher_smollm2_tokens_per_s"], 1)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:40s} {v}")


if __name__ == "__main__":
    main()
