"""training/train_gist.py on a tiny batch: both stages' losses go down, the held-out split is by article, and a
checkpoint resumes the projector and the step."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest
import torch

_path = pathlib.Path(__file__).parents[2] / "training" / "train_gist.py"
_spec = importlib.util.spec_from_file_location("train_gist", _path)
train_gist = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(train_gist)  # type: ignore[union-attr]

ITEMS = [
    {"passage": "The secret code of the lighthouse is 7431. Marta Lindqvist keeps it.",
     "question": "What is the secret code of the lighthouse?", "answer": "7431"},
    {"passage": "The keeper of the north light in 1890 was Ansel Brandt, a carpenter from Kiel.",
     "question": "Who kept the north light in 1890?", "answer": "Ansel Brandt"},
]


@pytest.fixture(scope="module")
def trainer(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    args = train_gist.parse_args(["--batch-size", "2", "--kl", "0.5", "--lr", "3e-3", "--recon-tokens", "12",
                                  "--work-dir", str(tmp_path_factory.mktemp("gist-work"))])
    return train_gist.Trainer(args)


def _steps(trainer, loss_fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    losses = []
    for _ in range(n):
        loss = loss_fn()
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        trainer.optimizer.step()
        losses.append(loss.item())
    return losses


def test_a_tiny_run_lowers_both_losses_and_resumes(trainer) -> None:  # type: ignore[no-untyped-def]
    qa = _steps(trainer, lambda: trainer.qa_loss(ITEMS, 4), 6)
    assert qa[-1] < qa[0], f"the QA + KL loss did not go down: {qa}"
    recon = _steps(trainer, lambda: trainer.recon_loss([it["passage"] for it in ITEMS], 4), 6)
    assert recon[-1] < recon[0], f"the reconstruction loss did not go down: {recon}"
    trainer.step = 12
    trainer.save_checkpoint()
    again = train_gist.Trainer(trainer.args)
    again.maybe_resume()
    assert again.step == 12
    assert again.projector.weights_hash() == trainer.projector.weights_hash()


def test_held_out_split_is_by_article() -> None:
    titles = [f"Article {i}" for i in range(200)]
    held = [t for t in titles if train_gist.held_out(t)]
    assert 20 <= len(held) <= 60  # about a fifth, by a hash of the title
    assert all(train_gist.held_out(t) for t in held)  # deterministic


def test_the_contrast_term_adds_a_hinge_only_when_passages_differ(trainer) -> None:  # type: ignore[no-untyped-def]
    trainer.projector.eval()
    torch.manual_seed(0)
    trainer.args.contrast, trainer.args.kl = 0.0, 0.0
    plain = trainer.qa_loss(ITEMS, 4).item()
    trainer.args.contrast, trainer.args.margin = 1.0, 100.0  # a margin no gist meets: the hinge is active
    with_hinge = trainer.qa_loss(ITEMS, 4).item()
    assert with_hinge > plain + 50  # the hinge is about margin - (wrong - own) > 50 nats here
    same = [ITEMS[0], dict(ITEMS[0])]  # the same passage twice: no wrong passage to contrast with
    trainer.args.contrast = 0.0
    base_same = trainer.qa_loss(same, 4).item()
    trainer.args.contrast = 1.0
    assert trainer.qa_loss(same, 4).item() == pytest.approx(base_same, abs=1e-5)
    trainer.args.contrast, trainer.args.margin, trainer.args.kl = 0.0, 1.0, 0.5
    trainer.projector.train()
