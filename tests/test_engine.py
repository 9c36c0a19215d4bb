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


def test_max_padding_closes_batches_that_would_pad_too_much():
    lengths = [100, 98, 40, 39, 10, 9]
    loose = ScoringEngine(device="cpu", batch_size=64, max_batch_tokens=10_000)
    assert loose.plan_batches(lengths) == [[0, 1, 2, 3, 4, 5]]
    tight = ScoringEngine(device="cpu", batch_size=64, max_batch_tokens=10_000, max_padding=1.25)
    batches = tight.plan_batches(lengths)
    assert batches == [[0, 1], [2, 3], [4, 5]]
    for b in batches:
        assert max(lengths[i] for i in b) * len(b) <= 1.25 * sum(lengths[i] for i in b)
    assert ScoringEngine(device="cpu", max_padding="auto").max_padding == 1.25
    with pytest.raises(ValueError, match="max_padding"):
        ScoringEngine(max_padding=0.5)


def test_cpu_max_batch_tokens_applies_on_cpu_only():
    engine = ScoringEngine(device="cpu", batch_size=64, max_batch_tokens=4096, cpu_max_batch_tokens=1024)
    assert all(len(b) <= 2 for b in engine.plan_batches([510] * 6))
    with pytest.raises(ValueError, match="cpu_max_batch_tokens"):
        ScoringEngine(cpu_max_batch_tokens=0)


def test_pad_batch_rounds_width_to_a_multiple():
    from contextzip.engine import pad_batch

    out = pad_batch([[5, 6, 7], [8]], 0, multiple=8)
    assert tuple(out["input_ids"].shape) == (2, 8)
    assert out["attention_mask"].sum(1).tolist() == [3, 1]
    assert tuple(pad_batch([[5, 6, 7]], 0)["input_ids"].shape) == (1, 3)


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
