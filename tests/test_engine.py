from __future__ import annotations

import pytest
import torch

from contextzip.engine import ScoringEngine, resolve_device, resolve_dtype


def test_plan_batches_sorts_longest_first_and_respects_limits():
    engine = ScoringEngine(device="cpu", batch_size=2, max_batch_tokens=10)
    batches = engine.plan_batches([1, 5, 3, 4])
    assert batches[0][0] == 1  # the longest first
    assert sorted(i for b in batches for i in b) == [0, 1, 2, 3]
    assert all(len(b) <= 2 for b in batches)
    lengths = [1, 5, 3, 4]
    assert all(max(lengths[i] for i in b) * len(b) <= 10 for b in batches)


def test_run_restores_caller_order():
    engine = ScoringEngine(device="cpu", dtype="float32", batch_size=2)
    items = [[1.0] * n for n in (3, 1, 4, 1, 5)]

    def collate(batch):
        width = max(len(x) for x in batch)
        return {"x": torch.tensor([x + [0.0] * (width - len(x)) for x in batch])}

    out = engine.run(items, lengths=[len(x) for x in items], collate=collate, forward=lambda t: t["x"].sum(1))
    assert [float(v) for v in out] == [3.0, 1.0, 4.0, 1.0, 5.0]


def test_device_and_dtype_resolution():
    assert resolve_device(None) in ("cpu", "cuda", "mps")
    assert resolve_dtype("bf16", "cpu") is torch.bfloat16
    assert resolve_dtype("float32", "cpu") is torch.float32
    with pytest.raises(ValueError, match="int8"):
        resolve_dtype("int8", "cpu")
    with pytest.raises(ValueError):
        ScoringEngine(batch_size=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            resolve_device("cuda")
