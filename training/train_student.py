"""Distil the teacher's word keep targets into contextzip's small token classifier (``contextzip-token-clf``).

Reads ``training/label_teacher.py``'s output, maps each word target to its all-MiniLM-L6-v2 word pieces, and
trains the student of ``contextzip.compressors.token_classification.build_student`` (frozen MiniLM word-piece
embeddings, casing/digit features, dilated 1-D convolutions, a keep/drop head) with soft-label cross-entropy.
Fixed seed, CPU, a few minutes. Writes ``contextzip/data/token_classifier/`` (config + fp16 safetensors).

Usage: python training/train_student.py [--labels PATH] [--out contextzip/data/token_classifier]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import time

import numpy as np

from contextzip.causal_lm import cache_dir
from contextzip.compressors.token_classification import STUDENT_CONFIG, build_student, token_features
from contextzip.model_registry import resolve_model_path

logger = logging.getLogger("train_student")
SEED = 13
CONFIG = {"base_model": "minilm", "width": 160, "kernel": 5, "dilations": [1, 2, 4], "n_features": 3,
          "keep_label": 1, "max_seq_len": 512}


def encode(rows: list[dict], tokenizer) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:  # type: ignore[no-untyped-def]
    out = []
    enc = tokenizer([r["text"] for r in rows], add_special_tokens=False, return_offsets_mapping=True,
                    truncation=True, max_length=CONFIG["max_seq_len"] - 2)
    for r, ids, offsets in zip(rows, enc["input_ids"], enc["offset_mapping"], strict=True):
        off = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
        spans = np.asarray(r["spans"], dtype=np.int64)
        target = np.asarray(r["target"], dtype=np.float32)
        owner = np.clip(np.searchsorted(spans[:, 0], off[:, 0], side="right") - 1, 0, len(spans) - 1)
        out.append((np.asarray(ids, dtype=np.int64), token_features(r["text"], off[:, 0], off[:, 1]),
                    target[owner]))
    return out


def batches(data: list, size: int, rng: random.Random, shuffle: bool):  # type: ignore[no-untyped-def]
    import torch

    order = sorted(range(len(data)), key=lambda i: len(data[i][0]))
    groups = [order[i: i + size] for i in range(0, len(order), size)]
    if shuffle:
        rng.shuffle(groups)
    for g in groups:
        width = max(len(data[i][0]) for i in g) + 2
        ids = torch.zeros((len(g), width), dtype=torch.long)
        mask = torch.zeros((len(g), width), dtype=torch.long)
        feats = torch.zeros((len(g), width, CONFIG["n_features"]))
        target = torch.zeros((len(g), width))
        for r, i in enumerate(g):
            x, f, t = data[i]
            n = len(x)
            ids[r, 0], ids[r, 1: n + 1], ids[r, n + 1] = 101, torch.from_numpy(x), 102  # [CLS] ... [SEP]
            mask[r, : n + 2] = 1
            feats[r, 1: n + 1] = torch.from_numpy(f)
            target[r, 1: n + 1] = torch.from_numpy(t)
        loss_mask = mask.clone()
        loss_mask[:, 0] = 0
        loss_mask[torch.arange(len(g)), mask.sum(1) - 1] = 0
        yield ids, mask, feats, target, loss_mask


def main() -> None:
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", default=os.path.join(cache_dir(), "training", "teacher_labels.jsonl"))
    parser.add_argument("--out", default=os.path.join("contextzip", "data", "token_classifier"))
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)

    with open(args.labels, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rng.shuffle(rows)
    base = resolve_model_path(CONFIG["base_model"])
    tokenizer = AutoTokenizer.from_pretrained(base)
    data = encode(rows, tokenizer)
    n_val = max(1, len(data) // 10)
    val, train = data[:n_val], data[n_val:]
    logger.info("%d training texts (%d word pieces), %d validation", len(train), sum(len(d[0]) for d in train), len(val))

    with safe_open(os.path.join(base, "model.safetensors"), "pt") as f:
        embeddings = f.get_tensor("embeddings.word_embeddings.weight").float()
    model = build_student(CONFIG, embeddings)
    params = [p for p in model.parameters() if p.requires_grad]
    logger.info("trainable parameters: %d", sum(p.numel() for p in params))
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    steps = args.epochs * ((len(train) + args.batch_size - 1) // args.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps, pct_start=0.1)

    def loss_of(batch) -> tuple:  # type: ignore[no-untyped-def]
        ids, mask, feats, target, loss_mask = batch
        logp = torch.log_softmax(model(ids, mask, feats), dim=-1)
        ce = -(target * logp[..., 1] + (1 - target) * logp[..., 0])
        return (ce * loss_mask).sum() / loss_mask.sum(), logp[..., 1].exp(), target, loss_mask

    start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        n = 0
        for batch in batches(train, args.batch_size, rng, shuffle=True):
            loss, *_ = loss_of(batch)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            total += loss.item()
            n += 1
        model.eval()
        with torch.no_grad():
            val_loss, preds, golds = 0.0, [], []
            for batch in batches(val, 32, rng, shuffle=False):
                loss, p, t, m = loss_of(batch)
                val_loss += float(loss)
                preds.append(p[m.bool()].numpy())
                golds.append(t[m.bool()].numpy())
            p, t = np.concatenate(preds), np.concatenate(golds)
            corr = float(np.corrcoef(p, t)[0, 1])
        logger.info("epoch %d: train loss %.4f, val loss %.4f, val Pearson(pred, target) %.3f (%.0f s)",
                    epoch + 1, total / max(1, n), val_loss, corr, time.perf_counter() - start)

    os.makedirs(args.out, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()
             if not k.startswith("embeddings.")}
    save_file(state, os.path.join(args.out, "model.safetensors"))
    with open(os.path.join(args.out, STUDENT_CONFIG), "w", encoding="utf-8") as f:
        json.dump({**CONFIG, "seed": SEED, "epochs": args.epochs, "val_pearson": round(corr, 4),
                   "teacher": "0.5 * reference alignment + 0.5 * SmolLM2-135M self-information rank"}, f, indent=2)
    logger.info("saved the student to %s", args.out)


if __name__ == "__main__":
    main()
