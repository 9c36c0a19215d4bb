"""GPU throughput, one script of a few minutes: tokens/s against batch size and length (issue 11, item 4).

    .venv/bin/python benchmarks/gpu_throughput.py                 # needs a CUDA device
    .venv/bin/python benchmarks/gpu_throughput.py --quick         # fewer points (about a minute)

NOT RUN YET: no GPU was available in the session that wrote it (see docs/benchmarks.md, "Performance").

Models are randomly initialised with the real shapes (no download; throughput does not depend on the weights):
MiniLM-L6 (384 hidden, 6 layers: the query-guided scorer), a BERT-base token classifier (mBERT base: 768, 12
layers, 119,547 vocabulary) and an XLM-R-large token classifier (1,024, 24 layers, 250,002 vocabulary:
LLMLingua-2's model). For each model, dtype (bf16, fp16), batch size and sequence length it measures the forward
pass alone and a "pipelined" loop: inputs built in pinned host memory and copied with ``non_blocking=True`` on a
side stream while the previous batch runs, so the copy and the host-side preparation of batch k+1 overlap the
forward pass of batch k. ``--compile`` adds ``torch.compile`` (mode "max-autotune-no-cudagraphs") per shape.
Then the real path: ``QueryGuidedCompressor.compress_batch`` (MiniLM, the packaged weights) and
``TokenClassificationCompressor.compress_batch`` on HotpotQA contexts, in input tokens/s (o200k_base), against the
acceptance figures (>= 500k and >= 2M tokens/s). One JSON object is printed and written to
``benchmarks/results/gpu-throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import ROOT, offline_hub_defaults  # noqa: E402

offline_hub_defaults()

SHAPES = {
    "minilm-l6": dict(kind="encoder", hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                      intermediate_size=1536, vocab_size=30522),
    "mbert-base-token-clf": dict(kind="bert-clf", hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                 intermediate_size=3072, vocab_size=119547),
    "xlmr-large-token-clf": dict(kind="xlmr-clf", hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                 intermediate_size=4096, vocab_size=250002),
}


def build(name: str, dtype: Any, device: str) -> Any:
    import transformers

    spec = dict(SHAPES[name])
    kind = spec.pop("kind")
    if kind == "xlmr-clf":
        config = transformers.XLMRobertaConfig(max_position_embeddings=514, num_labels=2, **spec)
        model = transformers.XLMRobertaForTokenClassification(config)
    elif kind == "bert-clf":
        model = transformers.BertForTokenClassification(transformers.BertConfig(num_labels=2, **spec))
    else:
        model = transformers.BertModel(transformers.BertConfig(**spec))
    return model.to(device=device, dtype=dtype).eval()


def timed(fn: Any, repeats: int) -> float:
    import torch

    fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def sweep(name: str, dtype_name: str, batch_sizes: list[int], lengths: list[int], compile_: bool,
          batches: int) -> list[dict[str, Any]]:
    import torch

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype_name]
    model = build(name, dtype, "cuda")
    vocab = SHAPES[name]["vocab_size"]
    rows = []
    for length in lengths:
        for bs in batch_sizes:
            forward = torch.compile(model, mode="max-autotune-no-cudagraphs") if compile_ else model
            ids = torch.randint(5, vocab, (bs, length), device="cuda")
            mask = torch.ones_like(ids)
            try:
                with torch.inference_mode():
                    step = timed(lambda f=forward, i=ids, m=mask: f(input_ids=i, attention_mask=m), 5)
                    # pipelined: pinned host batches, copied non_blocking on a side stream, one batch ahead
                    host = [torch.randint(5, vocab, (bs, length)).pin_memory() for _ in range(2)]
                    copy_stream = torch.cuda.Stream()

                    def pipelined(f=forward, host=host, copy_stream=copy_stream) -> None:
                        with torch.cuda.stream(copy_stream):
                            nxt = host[0].to("cuda", non_blocking=True)
                        for k in range(batches):
                            torch.cuda.current_stream().wait_stream(copy_stream)
                            cur = nxt
                            cur.record_stream(torch.cuda.current_stream())
                            with torch.cuda.stream(copy_stream):
                                nxt = host[(k + 1) % 2].to("cuda", non_blocking=True)
                            f(input_ids=cur, attention_mask=torch.ones_like(cur))

                    piped = timed(pipelined, 2) / batches
            except torch.cuda.OutOfMemoryError:
                rows.append({"model": name, "dtype": dtype_name, "batch": bs, "length": length, "oom": True})
                torch.cuda.empty_cache()
                continue
            rows.append({"model": name, "dtype": dtype_name, "batch": bs, "length": length, "compiled": compile_,
                         "forward_tokens_per_s": round(bs * length / step),
                         "pipelined_tokens_per_s": round(bs * length / piped)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    del model
    torch.cuda.empty_cache()
    return rows


def real_path(limit: int) -> dict[str, Any]:
    """compress_batch of the packaged compressors on HotpotQA contexts, input tokens/s."""
    from contextzip.compressors.query_guided import QueryGuidedCompressor
    from contextzip.compressors.token_classification import TokenClassificationCompressor
    from contextzip.eval.datasets import load_dataset

    examples = load_dataset("hotpotqa", limit=limit)
    items = [(ex.question, ex.documents) for ex in examples]
    out = {}
    for name, comp in (("query-guided", QueryGuidedCompressor(device="cuda")),
                       ("token-classification", TokenClassificationCompressor(device="cuda"))):
        comp.compress_batch(items[:8], rate=0.25)
        start = time.perf_counter()
        results = comp.compress_batch(items, rate=0.25)
        seconds = time.perf_counter() - start
        tokens = sum(r.original_tokens for r in results)
        out[name] = {"items": len(items), "input_tokens": tokens, "seconds": round(seconds, 3),
                     "tokens_per_s": round(tokens / seconds)}
        print(name, out[name], file=sys.stderr, flush=True)
    out["acceptance"] = {"query-guided >= 500k": out["query-guided"]["tokens_per_s"] >= 500_000,
                         "token-classification >= 2M": out["token-classification"]["tokens_per_s"] >= 2_000_000}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--compile", action="store_true", help="also torch.compile each model")
    parser.add_argument("--real-limit", type=int, default=300, help="HotpotQA questions for the real path")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this benchmark needs a GPU")
    batch_sizes = [8, 64] if args.quick else [1, 8, 32, 64, 128, 256]
    lengths = [128, 512] if args.quick else [64, 128, 256, 512]
    result: dict[str, Any] = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                              "python": platform.python_version(), "sweeps": []}
    for name in SHAPES:
        for dtype in ("bf16", "fp16"):
            result["sweeps"] += sweep(name, dtype, batch_sizes, lengths, False, 4)
            if args.compile and dtype == "bf16":
                result["sweeps"] += sweep(name, dtype, batch_sizes[-2:], lengths[-1:], True, 4)
    result["real_path"] = real_path(args.real_limit)
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "benchmarks", "results", "gpu-throughput.json"), "w") as fh:
        json.dump(result, fh, indent=2)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
