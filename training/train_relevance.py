"""Train contextzip's cross-encoder relevance model (``contextzip-relevance``) on SQuAD v1.1 sentence labels.

The packaged all-MiniLM-L6-v2 reads ``[CLS] question [SEP] title: sentence sentence ... [SEP]`` (a paragraph's
sentences packed into windows, ``contextzip.compressors.cross_encoder.pack_windows``); its top layers, a keep
head (averaged over each sentence's word pieces) and a passage head (on ``[CLS]``) are trained with binary
cross-entropy. Labels: for each question, its paragraph's sentence that holds the answer is positive, the other
sentences of that paragraph negative, and every sentence of one other paragraph of the same article negative
(passage label: the window holds the answer sentence). No evaluation set of the acceptance criteria (HotpotQA,
NQ) is read. Fixed seed; resumable from ``--checkpoint``; a progress bar; CPU. See
``training/RELEVANCE_DATA_CARD.md``.

Usage: nice -n 19 env OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python training/train_relevance.py [--questions N]
       [--steps N] [--out contextzip/data/relevance] [--checkpoint PATH]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from contextzip.compressors.cross_encoder import (
    Window,
    build_relevance_model,
    clean_title,
    pack_windows,
    save_relevance_model,
)
from contextzip.model_registry import resolve_model_path
from contextzip.segment import split_sentences

logger = logging.getLogger("train_relevance")
SEED = 13
SQUAD = os.path.join("..", "shared", "data", "squad-v1.1", "dev-v1.1.json")
CONFIG = {"base_model": "minilm", "trainable_layers": 2, "max_length": 192, "keep": "mean of word-piece logits",
          "eval_sets_trained_on": ["squad"]}

Example = tuple[Window, list[float], float, list[float]]  # window, sentence, passage and answer-span labels


def squad_examples(path: str, tokenizer: Any, questions: int, val_articles: int, rng: random.Random,
                   max_length: int, offset: int = 0, strip_question_mark: float = 0.0,
                   ) -> tuple[list[Example], list[Example], dict[str, Any]]:
    """Windows with sentence and passage labels: (train, validation, counts). Validation: whole articles.

    ``strip_question_mark``: the share of training questions read without their final ``?`` (search-box
    queries rarely have one; the tokenizer is uncased, so case needs no such augmentation)."""
    with open(path, encoding="utf-8") as f:
        articles = json.load(f)["data"]
    rng.shuffle(articles)
    cache: dict[tuple[int, int], tuple[list[tuple[int, int]], list[list[int]], list[list[tuple[int, int]]]]] = {}

    def sentences(a: int, p: int) -> tuple[list[tuple[int, int]], list[list[int]], list[list[tuple[int, int]]]]:
        """A paragraph's sentence spans, word pieces and the pieces' character spans in the paragraph."""
        if (a, p) not in cache:
            text = articles[a]["paragraphs"][p]["context"]
            spans = split_sentences(text)
            enc = tokenizer([s.text for s in spans], add_special_tokens=False, return_offsets_mapping=True)
            offsets = [[(s.start + x, s.start + y) for x, y in off] for s, off in zip(spans, enc["offset_mapping"],
                                                                                       strict=True)]
            cache[(a, p)] = ([(s.start, s.end) for s in spans], enc["input_ids"], offsets)
        return cache[(a, p)]

    items = [(a, p, qa) for a, art in enumerate(articles) for p, para in enumerate(art["paragraphs"])
             for qa in para["qas"]]
    val_items = [it for it in items if it[0] < val_articles]
    train_items = [it for it in items if it[0] >= val_articles]
    rng.shuffle(train_items)
    train_items = train_items[offset: offset + questions]
    val_items = val_items[: max(50, questions // 20)] if val_articles else train_items  # 0: tiny runs, tests

    def build(chosen: list, strip: float = 0.0) -> list[Example]:
        out: list[Example] = []
        for a, p, qa in chosen:
            question = qa["question"].strip()
            if strip and rng.random() < strip:
                question = question.rstrip("?").rstrip()
            q_ids = tokenizer(question, add_special_tokens=False)["input_ids"]
            title = clean_title(articles[a]["title"])
            t_ids = tokenizer(f"{title}:", add_special_tokens=False)["input_ids"]
            starts = {ans["answer_start"] for ans in qa["answers"]}
            answers = {(ans["answer_start"], ans["answer_start"] + len(ans["text"])) for ans in qa["answers"]}
            n_par = len(articles[a]["paragraphs"])
            others = [o for o in range(n_par) if o != p]
            for para, positive in [(p, True)] + ([(rng.choice(others), False)] if others else []):
                spans, ids, offsets = sentences(a, para)
                labels = [float(positive and any(s <= st < e for st in starts)) for s, e in spans]
                for w in pack_windows(q_ids, t_ids, ids, max_length, tokenizer.cls_token_id, tokenizer.sep_token_id):
                    lab = [labels[k] for k in w.sentences]
                    tokens = [0.0] * len(w.input_ids)  # answer-span labels of the word pieces
                    for (s, e), k in zip(w.spans, w.sentences, strict=True):
                        for j, (x, y) in enumerate(offsets[k][: e - s]):
                            tokens[s + j] = float(positive and any(x < ae and y > as_ for as_, ae in answers))
                    out.append((w, lab, float(max(lab)), tokens))
        return out

    train = build(train_items, strip_question_mark)
    val = build(val_items) if val_articles else train
    counts = {"train_questions": len(train_items), "question_offset": offset, "train_windows": len(train), "val_questions": len(val_items),
              "val_windows": len(val), "val_articles": val_articles, "articles": len(articles)}
    return train, val, counts


def batches(data: list[Example], size: int, rng: random.Random) -> Iterator[list[Example]]:
    order = list(range(len(data)))
    rng.shuffle(order)
    for i in range(0, len(order), size):
        yield [data[k] for k in order[i: i + size]]


def collate(batch: list[Example]) -> dict[str, Any]:
    import torch

    from contextzip.engine import pad_batch

    out = pad_batch([w.input_ids for w, *_ in batch], 0)
    out["token_type_ids"] = pad_batch([w.token_type_ids for w, *_ in batch], 0)["input_ids"]
    n_sent = max(len(w.spans) for w, *_ in batch)
    width = out["input_ids"].shape[1]
    pool = torch.zeros((len(batch), n_sent, width))
    labels = torch.zeros((len(batch), n_sent))
    mask = torch.zeros((len(batch), n_sent))
    span = torch.zeros((len(batch), width))
    span_mask = torch.zeros((len(batch), width))
    for r, (w, lab, _, tokens) in enumerate(batch):
        for k, (s, e) in enumerate(w.spans):
            pool[r, k, s:e] = 1.0 / max(1, e - s)
            labels[r, k] = lab[k]
            mask[r, k] = 1.0
            span_mask[r, s:e] = 1.0
        span[r, : len(tokens)] = torch.tensor(tokens)
    out["pool"], out["labels"], out["mask"] = pool, labels, mask
    out["span"], out["span_mask"] = span, span_mask
    out["passage"] = torch.tensor([p for _, _, p, _ in batch])
    return out


def loss_of(model: Any, t: dict[str, Any], span_weight: float = 0.0) -> tuple[Any, Any]:
    """Sentence BCE (mean word-piece logit per sentence) + 0.5 x passage BCE + ``span_weight`` x answer-span
    BCE over the passage's word pieces; returns (loss, sentence logits)."""
    import torch

    keep, passage, span = model(t["input_ids"], t["attention_mask"], t["token_type_ids"])
    sent = torch.einsum("bt,bst->bs", keep, t["pool"])
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    s_loss = (bce(sent, t["labels"], reduction="none") * t["mask"]).sum() / t["mask"].sum()
    loss = s_loss + 0.5 * bce(passage, t["passage"])
    if span_weight:
        m = t["span_mask"]
        loss = loss + span_weight * (bce(span, t["span"], reduction="none") * m).sum() / m.sum().clamp(min=1)
    return loss, sent


def evaluate(model: Any, data: list[Example]) -> dict[str, float]:
    """Validation loss and top-1 accuracy: the best-scored sentence of a positive window is its answer sentence."""
    import torch

    model.eval()
    total, n, hits, positives = 0.0, 0, 0, 0
    with torch.no_grad():
        for i in range(0, len(data), 32):
            batch = data[i: i + 32]
            t = collate(batch)
            loss, sent = loss_of(model, t)
            total += float(loss) * len(batch)
            n += len(batch)
            sent = sent.masked_fill(t["mask"] == 0, -1e9)
            for r, (_, lab, p, _) in enumerate(batch):
                if p > 0:
                    positives += 1
                    hits += int(lab[int(sent[r].argmax())] > 0)
    model.train()
    return {"val_loss": total / max(1, n), "val_top1": hits / max(1, positives)}


def train(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoTokenizer

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    base = resolve_model_path(CONFIG["base_model"])
    tokenizer = AutoTokenizer.from_pretrained(base)
    config = {**CONFIG, "trainable_layers": args.trainable_layers, "max_length": args.max_length,
              "span": args.span_weight > 0, "strip_question_mark": args.strip_question_mark}
    train_data, val_data, counts = squad_examples(args.squad, tokenizer, args.questions, args.val_articles, rng,
                                                  args.max_length, args.question_offset, args.strip_question_mark)
    logger.info("data: %s", counts)
    model = build_relevance_model(base, config)
    if args.init:  # a second stage: start from a saved model (e.g. add the answer-span head)
        from contextzip.compressors.cross_encoder import load_relevance_model

        _, init, init_config = load_relevance_model(args.init)
        model.load_state_dict(init.state_dict())
        config["init"] = {k: init_config.get(k) for k in ("steps", "train_questions", "val_top1", "seed")}
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    logger.info("trainable parameters: %d", sum(p.numel() for p in params))
    heads = [p for n, p in model.named_parameters() if p.requires_grad and n.endswith(("head.weight", "head.bias"))]
    layers = [p for p in params if all(p is not h for h in heads)]
    optimizer = torch.optim.AdamW([{"params": layers, "lr": args.lr}, {"params": heads, "lr": args.lr * 10}],
                                  weight_decay=0.01)
    per_epoch = (len(train_data) + args.batch_size - 1) // args.batch_size
    steps = min(args.steps or per_epoch * args.epochs, per_epoch * args.epochs)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[args.lr, args.lr * 10], total_steps=max(20, steps),
                                                    pct_start=0.1)
    step = 0
    if args.checkpoint and os.path.exists(args.checkpoint):
        state = torch.load(args.checkpoint, weights_only=False)
        model.load_state_dict(state["model"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = int(state["step"])
        logger.info("resumed from %s at step %d", args.checkpoint, step)
    start = time.perf_counter()
    history: list[float] = []
    first_val = evaluate(model, val_data) if args.eval_first else None
    bar = tqdm(total=steps, initial=step, desc="train relevance")
    done = 0
    for epoch in range(args.epochs):
        for batch in batches(train_data, args.batch_size, random.Random(SEED + epoch)):
            if done < step:  # resuming: the same order, skip what was trained
                done += 1
                continue
            if step >= steps:
                break
            loss, _ = loss_of(model, collate(batch), args.span_weight)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            done += 1
            history.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(history[-50:]):.4f}")
            if args.checkpoint and step % args.checkpoint_every == 0:
                torch.save({"model": {k: v for k, v in model.state_dict().items()
                                      if k in {n for n, p in model.named_parameters() if p.requires_grad}},
                            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                            "step": step}, args.checkpoint)
    bar.close()
    val = evaluate(model, val_data)
    seconds = time.perf_counter() - start
    logger.info("validation %s (before: %s), %d steps in %.0f s", val, first_val, step, seconds)
    summary = {**config, "seed": SEED, "steps": step, "batch_size": args.batch_size, "lr": args.lr,
               **counts, **{k: round(v, 4) for k, v in val.items()}, "train_seconds": round(seconds),
               "first_loss": round(float(np.mean(history[:20])), 4) if history else None,
               "last_loss": round(float(np.mean(history[-20:])), 4) if history else None}
    if first_val:
        summary["val_loss_before"] = round(first_val["val_loss"], 4)
    save_relevance_model(model, summary, args.out)
    logger.info("saved to %s", args.out)
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", default=SQUAD)
    parser.add_argument("--out", default=os.path.join("contextzip", "data", "relevance"))
    parser.add_argument("--checkpoint", default=None, help="resume from / save to this file")
    parser.add_argument("--checkpoint-every", type=int, default=50)
    parser.add_argument("--questions", type=int, default=4000, help="training questions (2+ windows each)")
    parser.add_argument("--question-offset", type=int, default=0,
                        help="skip the first N training questions (a second stage on fresh questions)")
    parser.add_argument("--val-articles", type=int, default=3,
                        help="articles held out for validation (0: validate on the training questions)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=None, help="stop after N steps [default: the epochs]")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--trainable-layers", type=int, default=CONFIG["trainable_layers"])
    parser.add_argument("--max-length", type=int, default=CONFIG["max_length"])
    parser.add_argument("--span-weight", type=float, default=1.0,
                        help="weight of the answer-span loss (0: no span head, as the first stage)")
    parser.add_argument("--strip-question-mark", type=float, default=0.0,
                        help="share of training questions read without their final '?'")
    parser.add_argument("--init", default=None, help="start from this saved relevance model (a second stage)")
    parser.add_argument("--eval-first", action="store_true", help="also measure validation before training")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    return train(parse_args(argv))


if __name__ == "__main__":
    main()
