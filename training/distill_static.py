"""Distil ``minilm-static``, the first stage of query-guided's dense scoring: static word-piece vectors of the
packaged all-MiniLM-L6-v2, made with `model2vec <https://github.com/MinishLab/model2vec>`_.

model2vec runs every word piece of MiniLM's vocabulary through the model once (mean pooling), reduces the
vectors with PCA and weights them by the word piece's Zipf rank (SIF). A sentence's vector is then the mean of
its word pieces' rows: no transformer pass, ~1 ms for a 10-document context. The rows are kept at 128 PCA
dimensions in int8 (3.8 MB); on the tune halves, 128 dimensions lost at most 3 answers of 150-300 against
256 dimensions, and int8 none against float16 (see ``docs/sections/performance.md``). No evaluation data is read:
the only input is the model's own vocabulary.

Distillation needs ``pip install "model2vec[distill]"``, which pins ``transformers<5.4``: run it in a separate
environment (loading the result needs only ``model2vec`` itself, a dependency of contextzip).

Usage: HF_HUB_OFFLINE=1 python training/distill_static.py [--out contextzip/data/minilm_static]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from contextzip.model_registry import resolve_model_path

DIMENSIONS = 128
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CARD = """---
library_name: model2vec
license: apache-2.0
base_model: {base}
---

# minilm-static

Static word-piece embeddings of [{base}](https://huggingface.co/{base}) (Apache-2.0), distilled with
[model2vec](https://github.com/MinishLab/model2vec) {version} by `training/distill_static.py`: mean pooling, PCA
to {dims} dimensions, SIF weighting (coefficient 1e-4), int8 rows. Input: the model's own vocabulary only.
Used by contextzip's query-guided compressor as the first stage of its dense scoring (`dense_tokens`).
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--out", default=os.path.join(here, "contextzip", "data", "minilm_static"))
    args = parser.parse_args(argv)
    import model2vec
    from model2vec.distill import distill

    start = time.perf_counter()
    model = distill(model_name=resolve_model_path("minilm"), pca_dims=DIMENSIONS, quantize_to="int8", device="cpu")
    model.base_model_name = BASE_MODEL
    model.config["tokenizer_name"] = BASE_MODEL  # not the local path it was read from
    model.save_pretrained(args.out)
    config_path = os.path.join(args.out, "config.json")
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    config.update(tokenizer_name=BASE_MODEL, hidden_dim=DIMENSIONS)
    with open(config_path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(args.out, "README.md"), "w", encoding="utf-8") as f:
        f.write(CARD.format(base=BASE_MODEL, version=model2vec.__version__, dims=DIMENSIONS))
    print(f"{model.embedding.shape[0]} word pieces x {model.embedding.shape[1]} ({model.embedding.dtype}) "
          f"in {time.perf_counter() - start:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
