"""contextzip.integrations.ray on a local Ray cluster started by the test (ray.init(num_cpus=2))."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'contextzip-rag[ray]')")
pytest.importorskip("ray.data")

from contextzip.integrations.ray import compress_dataset  # noqa: E402
from contextzip.registry import load_compressor  # noqa: E402

WORDS = "the river Elbe flows north through Dresden and Hamburg into the North Sea near Cuxhaven".split()


def rows(n: int) -> list[dict]:
    out = []
    for i in range(n):
        docs = [" ".join(WORDS[(i + k) % len(WORDS):] + WORDS[: (i + k) % len(WORDS)]) + f" Fact {i}-{k}."
                for k in range(3)]
        out.append({"id": i, "query": f"Where does the Elbe flow? {i}", "documents": docs, "budget": 10 + i % 3 * 5})
    return out


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.mark.slow
@pytest.mark.parametrize("compressor", ["truncate", "bm25-sentences"])
def test_same_outputs_as_compress_batch(local_ray, compressor):
    data = rows(60)
    out = compress_dataset(ray.data.from_items(data), compressor, budget_column="budget", num_workers=2,
                           batch_size=16).take_all()
    got = {int(r["id"]): r for r in out}
    expected = load_compressor(compressor).compress_batch([(r["query"], r["documents"]) for r in data],
                                                          target_tokens=[r["budget"] for r in data])
    assert sorted(got) == list(range(60))
    for r, e in zip(data, expected, strict=True):
        assert got[r["id"]]["compressed"] == e.text
        assert got[r["id"]]["compressed_tokens"] == e.compressed_tokens <= r["budget"]


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="exactly one"):
        compress_dataset(None, "truncate")
    with pytest.raises(ValueError, match="exactly one"):
        compress_dataset(None, "truncate", target_tokens=5, rate=0.5)
    with pytest.raises(TypeError, match="registry name"):
        compress_dataset(None, load_compressor("truncate"), target_tokens=5)
    with pytest.raises(ValueError, match="num_workers"):
        compress_dataset(None, "truncate", target_tokens=5, num_workers=0)
