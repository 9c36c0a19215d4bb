"""Teacher labels for the distilled token classifier (see training/DATA_CARD.md).

For every training text, each word (``contextzip.segment.split_words``) gets a soft keep target:

    target = 0.5 * aligned + 0.5 * rank(self-information)

* ``aligned``: the word (lower-cased, punctuation stripped, not a stop word) occurs in a human reference for
  the text: the XSum / CNN-DM reference summary, or the SQuAD answers asked about the paragraph (the spirit
  of LLMLingua-2's data distillation, with human references instead of GPT-4 compressions);
* ``rank(self-information)``: the word's percentile, within its text, of the summed surprisal
  ``-log p(token | prefix)`` of its tokens under SmolLM2-135M-Instruct (the signal of LLMLingua and
  Selective Context).

Only XSum, CNN-DM and SQuAD from ../shared/data are read: never HotpotQA or NQ (kept for evaluation).
Usage: python training/label_teacher.py [--out PATH] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import time

import numpy as np

from contextzip.causal_lm import cache_dir, load_causal_lm
from contextzip.engine import ScoringEngine
from contextzip.lexicon import STOPWORDS
from contextzip.segment import split_words

logger = logging.getLogger("label_teacher")
SEED = 13
_NORM = re.compile(r"[^\w]+")


def norm(word: str) -> str:
    return _NORM.sub("", word.lower())


def load_texts(data_dir: str, n_squad: int, n_xsum: int, n_cnndm: int) -> list[dict]:
    rng = random.Random(SEED)
    out: list[dict] = []
    with open(os.path.join(data_dir, "squad-v1.1", "dev-v1.1.json"), encoding="utf-8") as f:
        paragraphs = [p for a in json.load(f)["data"] for p in a["paragraphs"]]
    for p in rng.sample(paragraphs, n_squad):
        out.append({"source": "squad", "text": p["context"],
                    "references": [a["text"] for qa in p["qas"] for a in qa["answers"]]})
    with open(os.path.join(data_dir, "xsum-test1000", "xsum_test_subset1000.jsonl"), encoding="utf-8") as f:
        xsum = [json.loads(line) for line in f if line.strip()]
    for r in rng.sample(xsum, n_xsum):
        out.append({"source": "xsum", "text": r["document"], "references": [r["summary"]]})
    with open(os.path.join(data_dir, "cnndm-200", "summeval_cnndm_test.jsonl"), encoding="utf-8") as f:
        cnn = [json.loads(line) for line in f if line.strip()]
    for r in rng.sample(cnn, n_cnndm):
        out.append({"source": "cnndm", "text": r["source"], "references": list(r.get("references") or [r["reference"]])})
    return out


def truncate_words(text: str, max_words: int) -> str:
    words = split_words(text)
    return text if len(words) <= max_words else text[: words[max_words - 1].end]


def self_information(texts: list[str], max_tokens: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per text: (offset of each token's last character, token surprisal in nats), first token 0."""
    import torch

    engine = ScoringEngine(batch_size=16, max_batch_tokens=4096)
    tokenizer, model = load_causal_lm("smollm2-135m", engine)
    enc = tokenizer(texts, return_offsets_mapping=True, truncation=True, max_length=max_tokens,
                    add_special_tokens=False)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]

    def collate(batch: list[int]) -> dict:
        width = max(len(ids[i]) for i in batch)
        x = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
        m = torch.zeros((len(batch), width), dtype=torch.long)
        for r, i in enumerate(batch):
            x[r, : len(ids[i])] = torch.tensor(ids[i])
            m[r, : len(ids[i])] = 1
        return {"input_ids": x, "attention_mask": m}

    def forward(t: dict) -> torch.Tensor:
        logits = model(input_ids=t["input_ids"], attention_mask=t["attention_mask"]).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        nll = -logp.gather(-1, t["input_ids"][:, 1:, None]).squeeze(-1)
        return torch.nn.functional.pad(nll, (1, 0))

    start = time.perf_counter()
    rows = engine.run(list(range(len(ids))), lengths=[len(x) for x in ids], collate=collate, forward=forward,
                      desc="SmolLM2 self-information")
    n_tok = sum(len(x) for x in ids)
    elapsed = time.perf_counter() - start
    logger.info("teacher: %d tokens in %.1f s (%.0f tokens/s)", n_tok, elapsed, n_tok / elapsed)
    # A byte-level BPE token's span starts at its leading space; its last character lies inside its word.
    return [(np.asarray([o[1] - 1 for o in offsets[i]]), rows[i][: len(ids[i])].numpy()) for i in range(len(ids))]


def label(record: dict, starts: np.ndarray, surprisal: np.ndarray) -> dict:
    text = record["text"]
    words = split_words(text)
    ref_terms = {norm(w) for ref in record["references"] for w in ref.split()} - STOPWORDS - {""}
    w_starts = np.asarray([w.start for w in words])
    w_ends = np.asarray([w.end for w in words])
    # Each token's surprisal goes to the word its last character falls in.
    owner = np.searchsorted(w_starts, starts, side="right") - 1
    valid = (owner >= 0) & (starts < w_ends[np.clip(owner, 0, None)])
    si = np.zeros(len(words))
    np.add.at(si, owner[valid], surprisal[valid])
    covered = np.zeros(len(words), dtype=bool)
    covered[owner[valid]] = True
    n = int(covered.sum())
    if n < len(words):  # words past the teacher's window: drop them from this example
        last = int(np.nonzero(covered)[0].max()) + 1 if n else 0
        words, si = words[:last], si[:last]
    ranks = np.argsort(np.argsort(si, kind="stable"), kind="stable") / max(1, len(si) - 1)
    aligned = np.asarray([norm(w.text) in ref_terms for w in words], dtype=np.float64)
    target = 0.5 * aligned + 0.5 * ranks
    return {"source": record["source"], "text": text[: words[-1].end] if words else "",
            "spans": [[w.start, w.end] for w in words], "target": np.round(target, 4).tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.path.join("..", "shared", "data"))
    parser.add_argument("--out", default=os.path.join(cache_dir(), "training", "teacher_labels.jsonl"))
    parser.add_argument("--squad", type=int, default=600)
    parser.add_argument("--xsum", type=int, default=250)
    parser.add_argument("--cnndm", type=int, default=80)
    parser.add_argument("--max-words", type=int, default=220)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    records = load_texts(args.data_dir, args.squad, args.xsum, args.cnndm)
    for r in records:
        r["text"] = truncate_words(r["text"], args.max_words)
    si = self_information([r["text"] for r in records], max_tokens=384)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for r, (starts, surprisal) in zip(records, si, strict=True):
            row = label(r, starts, surprisal)
            if row["spans"]:
                f.write(json.dumps(row) + "\n")
    logger.info("wrote %d labelled texts to %s", len(records), args.out)


if __name__ == "__main__":
    main()
