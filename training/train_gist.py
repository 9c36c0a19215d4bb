"""Train contextzip's gist projector (``contextzip/data/gist``): segments of text become k soft tokens that
SmolLM2-135M-Instruct reads through ``inputs_embeds``.

The encoder (all-MiniLM-L6-v2) and the decoder (SmolLM2-135M-Instruct) stay frozen; only the projector
(:class:`contextzip.gist.projector.GistProjector`, ~3M parameters) learns. Every batch draws its k from
``--ks``, so one projector serves every k (the first k queries of 16).

- Stage 1, reconstruction (xRAG's paraphrase pretraining): the decoder, shown only the gists of a segment and
  asked to repeat the context, is trained to produce the segment's first ``--recon-tokens`` tokens. Segments:
  XSum and CNN/DailyMail articles and the training articles of SQuAD.
- Stage 2, question answering with self-distillation: the prompt the evaluation reader uses
  (``contextzip.eval.readers.ReaderPrompt``), with the gists in place of the passage; loss = the gold answer's NLL
  + ``--kl`` x KL(teacher || student) over the answer positions, where the teacher is the same frozen decoder
  reading the full passage. Questions: SQuAD v1.1 training articles.

SQuAD is split by article (sha1 of the title): 20% of the articles are held out and used only for the validation
figures printed after each stage. NQ and HotpotQA, the evaluation sets, are never read. Fixed seed; resumable
(``--work-dir`` keeps a checkpoint every ``--save-every`` steps; rerunning continues from it); a progress bar.
See training/GIST_DATA_CARD.md.

Usage: HF_HUB_OFFLINE=1 python training/train_gist.py [--stage1-steps N] [--stage2-steps N] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import random
import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from contextzip.causal_lm import load_causal_lm
from contextzip.engine import ScoringEngine
from contextzip.eval.readers import ReaderPrompt
from contextzip.gist.embeds import (
    GIST_PLACEHOLDER,
    batch_nll,
    build_inputs_embeds,
    chat_prompt,
    continuation_nll,
    label_logits,
)
from contextzip.gist.encoder import GistEncoder
from contextzip.gist.projector import GistProjector, ProjectorConfig

logger = logging.getLogger("train_gist")
DATA = os.path.join("..", "shared", "data")
SEED = 17


def held_out(title: str) -> bool:
    """SQuAD articles kept out of training (20%, by a hash of the title)."""
    return int(hashlib.sha1(title.encode()).hexdigest(), 16) % 5 == 0


def squad(data_dir: str) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """(training paragraphs, training questions, held-out questions); a question: passage, question, answer."""
    with open(os.path.join(data_dir, "squad-v1.1", "dev-v1.1.json"), encoding="utf-8") as fh:
        articles = json.load(fh)["data"]
    paragraphs, train, held = [], [], []
    for article in articles:
        out = held if held_out(article["title"]) else train
        for paragraph in article["paragraphs"]:
            if out is train:
                paragraphs.append(paragraph["context"])
            for qa in paragraph["qas"]:
                out.append({"passage": paragraph["context"], "question": qa["question"],
                            "answer": qa["answers"][0]["text"].strip()})
    return paragraphs, train, held


def articles(data_dir: str) -> list[str]:
    """XSum and CNN/DailyMail article texts (reconstruction only)."""
    texts = []
    for rel, key in (("xsum-test1000/xsum_test_subset1000.jsonl", "document"),
                     ("cnndm-200/summeval_cnndm_test.jsonl", "source")):
        path = os.path.join(data_dir, rel)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                texts.extend(json.loads(line)[key] for line in fh if line.strip())
    return texts


class Trainer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.engine = ScoringEngine(dtype="float32")
        self.tokenizer, self.decoder = load_causal_lm("smollm2-135m", self.engine)
        for p in self.decoder.parameters():
            p.requires_grad_(False)
        self.encoder = GistEncoder(engine=self.engine, max_wordpieces=args.max_wordpieces)
        norm = float(self.decoder.get_input_embeddings().weight.norm(dim=-1).mean())
        self.projector = GistProjector(ProjectorConfig(embed_norm=norm, max_gists=max(args.ks)))
        self.optimizer = torch.optim.AdamW(self.projector.parameters(), lr=args.lr, weight_decay=0.01)
        self.step = 0
        self.log: list[dict[str, Any]] = []
        self.end_ids = self.tokenizer("<|im_end|>", add_special_tokens=False)["input_ids"]

    # --- one batch -------------------------------------------------------------------------------------------
    def gists(self, passages: Sequence[str], k: int) -> torch.Tensor:
        states, mask = GistEncoder.stack(self.encoder.states(passages))
        return self.projector(states, mask, k)

    def qa_prompt(self, question: str, passage: str | None) -> str:
        return chat_prompt(self.tokenizer, ReaderPrompt(question, passage).messages())

    def ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def recon_loss(self, segments: Sequence[str], k: int) -> torch.Tensor:
        g = self.gists(segments, k)
        prompt = chat_prompt(self.tokenizer, [{"role": "user", "content": f"Context:\n{GIST_PLACEHOLDER}\n\n"
                                                                         "Repeat the context word for word."}])
        targets = [self.ids(s)[: self.args.recon_tokens] for s in segments]
        batch = build_inputs_embeds(self.decoder, self.tokenizer, [prompt] * len(segments),
                                    [[row] for row in g], targets)
        return batch_nll(self.decoder, batch).mean()

    def qa_loss(self, items: Sequence[dict[str, Any]], k: int) -> torch.Tensor:
        g = self.gists([it["passage"] for it in items], k)
        answers = [self.ids(it["answer"]) + self.end_ids for it in items]
        student = build_inputs_embeds(self.decoder, self.tokenizer,
                                      [self.qa_prompt(it["question"], GIST_PLACEHOLDER) for it in items],
                                      [[row] for row in g], answers)
        logits, targets, valid = label_logits(self.decoder, student)
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets.clamp(min=0), reduction="none")
        own = (nll * valid).sum(1) / valid.sum(1)
        loss = own.mean()
        if self.args.contrast > 0 and len(items) > 1:
            # The same questions read with the gists of the next item's passage: the answer must be likelier
            # with its own passage's gists by --margin nats (a learned soft prompt alone scores both the same).
            other = [it["passage"] != items[(i - 1) % len(items)]["passage"] for i, it in enumerate(items)]
            control = build_inputs_embeds(self.decoder, self.tokenizer,
                                          [self.qa_prompt(it["question"], GIST_PLACEHOLDER) for it in items],
                                          [[row] for row in g.roll(1, dims=0)], answers)
            wrong = batch_nll(self.decoder, control)
            hinge = torch.relu(self.args.margin - (wrong - own)) * torch.tensor(other, dtype=own.dtype)
            loss = loss + self.args.contrast * hinge.mean()
        if self.args.kl > 0:
            with torch.no_grad():
                teacher = build_inputs_embeds(self.decoder, self.tokenizer,
                                              [self.qa_prompt(it["question"], it["passage"]) for it in items],
                                              [[] for _ in items], answers)
                t_logits, _, t_valid = label_logits(self.decoder, teacher)
            # Both batches are left-padded and end with the answer: the answer positions line up from the right.
            s_rows, t_rows = logits[valid], t_logits[t_valid]
            kl = torch.nn.functional.kl_div(s_rows.log_softmax(-1), t_rows.log_softmax(-1), log_target=True,
                                            reduction="batchmean")
            loss = loss + self.args.kl * kl
        return loss

    # --- loops ------------------------------------------------------------------------------------------------
    def lr_at(self, step: int, total: int) -> float:
        warm = 20
        if step < warm:
            return self.args.lr * (step + 1) / warm
        return self.args.lr * max(0.05, 0.5 * (1 + math.cos(math.pi * step / total)))

    def run(self, stage1: list[str], qa: list[dict[str, Any]], held: list[dict[str, Any]]) -> None:
        a, rng = self.args, random.Random(SEED + self.step)
        total = a.stage1_steps + a.stage2_steps
        bar = tqdm(total=total, initial=self.step, desc="Training gists")
        while self.step < total:
            recon = self.step < a.stage1_steps
            k = rng.choice(a.ks)
            if recon:
                loss = self.recon_loss(rng.sample(stage1, a.batch_size), k)
            else:
                loss = self.qa_loss(rng.sample(qa, a.batch_size), k)
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr_at(self.step, total)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.projector.parameters(), 1.0)
            self.optimizer.step()
            self.step += 1
            self.log.append({"step": self.step, "stage": 1 if recon else 2, "k": k, "loss": round(loss.item(), 4)})
            bar.update(1)
            bar.set_postfix(stage=1 if recon else 2, k=k, loss=f"{loss.item():.3f}")
            if self.step % a.save_every == 0 or self.step == total:
                self.save_checkpoint()
            if self.step in (a.stage1_steps, total) or self.step % a.validate_every == 0:
                logger.info("validation after step %d: %s", self.step, json.dumps(self.validate(held)))
        bar.close()

    @torch.no_grad()
    def validate(self, held: list[dict[str, Any]]) -> dict[str, float]:
        """Held-out SQuAD answer NLL: closed book, full passage and gists at each k."""
        items = random.Random(SEED).sample(held, min(self.args.val_questions, len(held)))
        answers = [self.ids(it["answer"]) for it in items]
        out: dict[str, float] = {}

        def nll(prompts: list[str], gists: list[list[torch.Tensor]]) -> float:
            vals = continuation_nll(self.decoder, self.tokenizer, prompts, gists, answers, batch_size=16)
            return round(statistics.fmean(vals), 4)

        out["closed_book"] = nll([self.qa_prompt(it["question"], None) for it in items], [[] for _ in items])
        out["full_passage"] = nll([self.qa_prompt(it["question"], it["passage"]) for it in items],
                                  [[] for _ in items])
        self.projector.eval()
        for k in sorted(set(self.args.ks)):
            g = torch.cat([self.gists([it["passage"] for it in items[s:s + 16]], k)
                           for s in range(0, len(items), 16)])
            out[f"gist_k{k}"] = nll([self.qa_prompt(it["question"], GIST_PLACEHOLDER) for it in items],
                                    [[row] for row in g])
            if k == 8:  # the control: each question read with the gists of the next question's passage
                out["gist_k8_control"] = nll([self.qa_prompt(it["question"], GIST_PLACEHOLDER) for it in items],
                                             [[row] for row in g.roll(-1, dims=0)])
        self.projector.train()
        return out

    # --- checkpoints ------------------------------------------------------------------------------------------
    def checkpoint_path(self) -> str:
        return os.path.join(self.args.work_dir, "checkpoint.pt")

    def save_checkpoint(self) -> None:
        os.makedirs(self.args.work_dir, exist_ok=True)
        tmp = self.checkpoint_path() + ".tmp"
        torch.save({"step": self.step, "projector": self.projector.state_dict(),
                    "optimizer": self.optimizer.state_dict(), "log": self.log,
                    "config": self.projector.config.__dict__}, tmp)
        os.replace(tmp, self.checkpoint_path())

    def maybe_resume(self) -> None:
        if os.path.exists(self.checkpoint_path()):
            state = torch.load(self.checkpoint_path(), weights_only=False)
            self.projector.load_state_dict(state["projector"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.step, self.log = state["step"], state["log"]
            logger.info("resumed from step %d", self.step)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=DATA)
    parser.add_argument("--out", default=os.path.join("contextzip", "data", "gist"))
    parser.add_argument("--work-dir", default=os.path.join("training", ".gist-work"))
    parser.add_argument("--stage1-steps", type=int, default=150)
    parser.add_argument("--stage2-steps", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8, 8, 16])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--kl", type=float, default=0.5)
    parser.add_argument("--contrast", type=float, default=0.0,
                        help="weight of a hinge that makes the answer likelier with its own passage's gists than "
                             "with another passage's (by --margin nats); 0: off")
    parser.add_argument("--margin", type=float, default=1.0)
    parser.add_argument("--recon-tokens", type=int, default=48)
    parser.add_argument("--max-wordpieces", type=int, default=256)
    parser.add_argument("--val-questions", type=int, default=96)
    parser.add_argument("--save-every", type=int, default=25)
    parser.add_argument("--validate-every", type=int, default=100)
    parser.add_argument("--export", action="store_true",
                        help="save the projector of the last checkpoint in --work-dir to --out without training on "
                             "(a run stopped before the end of its schedule; the card records the step)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    random.seed(SEED)
    torch.manual_seed(SEED)
    started = time.time()

    paragraphs, qa, held = squad(args.data_dir)
    trainer = Trainer(args)
    stage1 = [text[s:e] for text in articles(args.data_dir) + paragraphs for s, e in trainer.encoder.segments(text)]
    stage1 = [s for s in stage1 if len(s.split()) >= 12]
    logger.info("stage 1: %d segments; stage 2: %d questions; held out: %d questions", len(stage1), len(qa),
                len(held))
    trainer.maybe_resume()
    if not args.export:
        trainer.run(stage1, qa, held)
    validation = trainer.validate(held)
    card = {"trained_on": {"stage1_segments": len(stage1), "stage2_questions": len(qa),
                           "sources": ["squad-v1.1 (training articles)", "xsum-test1000", "cnndm-200"]},
            "held_out": {"squad_questions": len(held), "rule": "sha1(title) % 5 == 0"},
            "eval_sets_trained_on": ["squad"], "seed": SEED, "steps": trainer.step,
            "planned_steps": args.stage1_steps + args.stage2_steps,
            "args": {k: v for k, v in vars(args).items() if k not in ("data_dir", "out", "work_dir")},
            "validation_answer_nll": validation, "seconds": round(time.time() - started),
            "loss_by_step": trainer.log[:: max(1, len(trainer.log) // 50)]}
    trainer.projector.save_pretrained(args.out, **card)
    logger.info("saved %s: %s", args.out, json.dumps(validation))


if __name__ == "__main__":
    main()
