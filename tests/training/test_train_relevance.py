"""training/train_relevance.py on a tiny SQuAD slice: the loss goes down, the saved model loads back the same,
and a run resumes from its checkpoint."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import random

import pytest

_path = pathlib.Path(__file__).parents[2] / "training" / "train_relevance.py"
_spec = importlib.util.spec_from_file_location("train_relevance", _path)
train_relevance = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(train_relevance)  # type: ignore[union-attr]


def _squad(tmp_path: pathlib.Path) -> str:
    facts = [("Paris", "Paris is the capital of France. It lies on the Seine. Its mayor is elected.",
              "What is the capital of France?", "Paris"),
             ("Bananas", "Bananas grow in warm places. They are yellow when ripe. Monkeys eat them.",
              "What colour are ripe bananas?", "yellow"),
             ("Rome", "Rome is old. It was founded in 753 BC by Romulus. Many tourists visit.",
              "Who founded Rome?", "Romulus"),
             ("Ice", "Ice is frozen water. It melts at 0 degrees. Skaters like it.",
              "At what temperature does ice melt?", "0 degrees")]
    paragraphs = [{"context": c, "qas": [{"id": str(i), "question": q,
                                          "answers": [{"text": a, "answer_start": c.index(a)}]}]}
                  for i, (_, c, q, a) in enumerate(facts)]
    data = {"data": [{"title": "Val", "paragraphs": paragraphs[:2]}, {"title": "Train", "paragraphs": paragraphs}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.slow
def test_tiny_training_lowers_loss_and_round_trips(tmp_path: pathlib.Path) -> None:
    import torch

    from contextzip.compressors.cross_encoder import load_relevance_model

    out = tmp_path / "model"
    args = ["--squad", _squad(tmp_path), "--questions", "4", "--val-articles", "0", "--epochs", "6",
            "--batch-size", "4", "--lr", "1e-3", "--trainable-layers", "1", "--max-length", "64", "--out", str(out),
            "--eval-first", "--checkpoint", str(tmp_path / "ckpt.pt"), "--checkpoint-every", "2"]
    summary = train_relevance.main(args)
    assert summary["val_loss"] < summary["val_loss_before"]  # --val-articles 0: validation = training windows
    tokenizer, model, config = load_relevance_model(str(out))
    assert config["steps"] == summary["steps"] and config["eval_sets_trained_on"] == ["squad"]
    data, _, _ = train_relevance.squad_examples(_squad(tmp_path), tokenizer, 4, 0,
                                                random.Random(train_relevance.SEED), 64)  # as trained
    with torch.no_grad():
        reloaded = float(train_relevance.loss_of(model, train_relevance.collate(data))[0])
    assert reloaded == pytest.approx(summary["val_loss"], abs=0.02)  # fp16 weights
    # a finished run resumes at its last checkpoint and has nothing left to do
    again = train_relevance.main(args)
    assert again["steps"] == summary["steps"]
