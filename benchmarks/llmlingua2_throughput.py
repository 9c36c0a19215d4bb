"""Token classification, side by side with llmlingua 0.2.2's LLMLingua-2 path, on the same model and texts.

LLMLingua-2's released classifiers (``microsoft/llmlingua-2-xlm-roberta-large-meetingbank`` and
``...-bert-base-multilingual-cased-meetingbank``) cannot be downloaded here, so both libraries load the same
randomly initialised classifiers of the real shapes (XLM-RoBERTa large: 24 layers, hidden 1,024, vocabulary
250,002; mBERT base: 12 layers, hidden 768, vocabulary 119,547), saved once to a folder whose name contains the
hub name, which llmlingua's dataset code requires. Their tokenizers are trained here (a Unigram tokenizer with
XLM-R's pre-tokenizer and special tokens, a cased WordPiece one for mBERT) on SQuAD dev paragraphs: throughput
depends on the model's shape and the number of tokens, not on the weights' values.

Texts: the first ``--questions`` HotpotQA questions, each as its list of 10 paragraphs (the shape a retriever
hands over), at rate 0.33 for both. llmlingua gets ``compress_prompt_llmlingua2(paragraphs, rate=0.33)`` per
question; contextzip ``TokenClassificationCompressor(path, dtype=...)`` per question (``compress``) and for all
questions at once (``compress_batch``), and in float32 also on ONNX Runtime (``backend="onnx"``, arms "contextzip
onnx"). ``--joined`` measures the same with each question's paragraphs joined
into one text. Every arm runs once untimed (loading, first-call costs), then ``--repeats`` times; the best is kept.
Input tokens are ``o200k_base`` tokens of the texts. contextzip's default (its distilled student, dtype auto) is
measured on the same texts.

Usage: python benchmarks/llmlingua2_throughput.py [--questions 8] [--models xlmr-large mbert-base]
       [--dtypes float32 bfloat16] [--joined]
The CPU must be quiet (load average under 1, nothing else running): both sides are timed in one process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from typing import Any

if __package__ in (None, ""):  # run as a file: make `benchmarks.*` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import best_of, load, offline_hub_defaults, write_result  # noqa: E402

offline_hub_defaults()

SHAPES = {
    # name: (folder name containing the hub name llmlingua checks for, config kwargs)
    "xlmr-large": ("xlm-roberta-large-random", dict(vocab_size=250002, hidden_size=1024, num_hidden_layers=24,
                                                    num_attention_heads=16, intermediate_size=4096,
                                                    max_position_embeddings=514, type_vocab_size=1,
                                                    pad_token_id=1, bos_token_id=0, eos_token_id=2)),
    "mbert-base": ("bert-base-multilingual-cased-random", dict(vocab_size=119547, hidden_size=768,
                                                               num_hidden_layers=12, num_attention_heads=12,
                                                               intermediate_size=3072, max_position_embeddings=512,
                                                               type_vocab_size=2, pad_token_id=0)),
}


def _corpus(data_dir: str) -> list[str]:
    with open(os.path.join(data_dir, "squad-v1.1", "dev-v1.1.json"), encoding="utf-8") as fh:
        squad = json.load(fh)
    return [p["context"] for art in squad["data"] for p in art["paragraphs"]]


def build_model(kind: str, folder: str, data_dir: str) -> str:
    """Save a random classifier of ``kind``'s real shape and a tokenizer trained here; reuse it when present."""
    name, shape = SHAPES[kind]
    path = os.path.join(folder, name)
    if os.path.exists(os.path.join(path, "config.json")):
        return path
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    corpus = _corpus(data_dir)
    if kind == "xlmr-large":
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=32000, unk_token="<unk>",
                                          special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
        tok.train_from_iterator(corpus, trainer)
        tokenizer = transformers.XLMRobertaTokenizerFast(
            tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
            unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")
        config = transformers.XLMRobertaConfig(num_labels=2, architectures=["XLMRobertaForTokenClassification"],
                                               **shape)
        model_cls = transformers.XLMRobertaForTokenClassification
    else:
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=False)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=30000,
                                            special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        tok.train_from_iterator(corpus, trainer)
        tokenizer = transformers.BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]",
                                                   pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]",
                                                   do_lower_case=False)
        config = transformers.BertConfig(num_labels=2, architectures=["BertForTokenClassification"], **shape)
        model_cls = transformers.BertForTokenClassification
    torch.manual_seed(0)
    model = model_cls(config).eval()
    os.makedirs(path, exist_ok=True)
    tokenizer.save_pretrained(path)
    model.save_pretrained(path)
    return path


def _arms(lingua: Any, ours: Any, items: list[list[str]], rate: float,
          onnx: Any = None) -> dict[str, tuple[Any, Any]]:
    """Each arm's (timed run over every question, untimed warm-up call), by name; llmlingua's when given, and
    contextzip on ONNX Runtime (float32) when ``onnx`` is given."""
    arms: dict[str, tuple[Any, Any]] = {}
    if lingua is not None:
        arms["llmlingua"] = (lambda: [lingua.compress_prompt_llmlingua2(docs, rate=rate) for docs in items],
                             lambda: lingua.compress_prompt_llmlingua2(items[0], rate=rate))
    for label, comp in (("contextzip", ours), ("contextzip onnx", onnx)):
        if comp is None:
            continue
        warm = lambda comp=comp: comp.compress(items[0], rate=rate)  # noqa: E731
        arms[label] = (lambda comp=comp: [comp.compress(docs, rate=rate) for docs in items], warm)
        arms[f"{label} compress_batch"] = (
            lambda comp=comp: comp.compress_batch([(None, docs) for docs in items], rate=rate), warm)
    return arms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--models", nargs="+", default=["xlmr-large", "mbert-base"], choices=sorted(SHAPES))
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--joined", action="store_true", help="also each question's paragraphs as one text")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rate", type=float, default=0.33)
    parser.add_argument("--model-dir", default=os.path.join(os.path.expanduser("~"), ".cache", "contextzip",
                                                             "bench-models"))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--tag", default="")
    args = parser.parse_args(argv)

    import torch
    from llmlingua import PromptCompressor

    from contextzip.compressors.token_classification import TokenClassificationCompressor
    from contextzip.eval.datasets import default_data_dir, load_dataset
    from contextzip.tokens import get_token_counter

    data_dir = args.data_dir or default_data_dir()
    examples = load_dataset("hotpotqa", data_dir, args.questions)
    shapes = {"documents": [[d.text for d in ex.documents] for ex in examples]}
    if args.joined:
        shapes["joined"] = [["\n\n".join(docs)] for docs in shapes["documents"]]
    counter = get_token_counter()
    out: dict[str, Any] = {"questions": len(examples), "rate": args.rate, "torch_threads": torch.get_num_threads(),
                           "machine": platform.processor() or platform.machine(), "load_before": load(),
                           "rows": []}

    def record(row: dict[str, Any]) -> None:
        row["load_after"] = load()
        out["rows"].append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    baselines: dict[tuple[str, str, str], float] = {}  # llmlingua's tokens/s per (model, dtype, texts)
    for kind in args.models:
        path = build_model(kind, args.model_dir, data_dir)
        for dtype in args.dtypes:
            lingua = PromptCompressor(model_name=path, use_llmlingua2=True, device_map="cpu",
                                      model_config={"torch_dtype": getattr(torch, dtype)})
            ours = TokenClassificationCompressor(path, dtype=dtype, device="cpu")
            ours.warm_up()
            onnx = None
            if dtype == "float32":  # the same model and dtype on ONNX Runtime (backend="onnx")
                onnx = TokenClassificationCompressor(path, device="cpu", backend="onnx")
                onnx.warm_up()
            for shape, items in shapes.items():
                n_tokens = sum(sum(counter.count_many(docs)) for docs in items)

                arms = _arms(lingua, ours, items, args.rate, onnx)
                seconds: dict[str, float] = {}
                for name, (fn, warm) in arms.items():
                    try:
                        seconds[name] = best_of(fn, args.repeats, warm)
                    except Exception as exc:  # llmlingua 0.2.2 cannot run bfloat16 (it calls .numpy() on it)
                        record({"model": kind, "dtype": dtype, "texts": shape, "arm": name,
                                "error": f"{type(exc).__name__}: {exc}"})
                # The ratio is against llmlingua in the same dtype, else in float32 (its CPU default), said so.
                base_key = (kind, dtype, shape) if "llmlingua" in seconds else (kind, "float32", shape)
                if "llmlingua" in seconds:
                    baselines[base_key] = n_tokens / seconds["llmlingua"]
                base = baselines.get(base_key)
                for name, s in seconds.items():
                    row = {"model": kind, "dtype": dtype, "texts": shape, "arm": name, "input_tokens": n_tokens,
                           "seconds": round(s, 3), "tokens_per_second": round(n_tokens / s, 1)}
                    if base is not None:
                        row[f"ratio_vs_llmlingua_{base_key[1]}"] = round(n_tokens / s / base, 3)
                    record(row)
            del lingua, ours, onnx
    default = TokenClassificationCompressor()
    default.warm_up()
    for shape, items in shapes.items():
        n_tokens = sum(sum(counter.count_many(docs)) for docs in items)
        mine = _arms(None, default, items, args.rate)
        fn, warm = mine["contextzip"]
        s = best_of(fn, args.repeats, warm)
        fn, warm = mine["contextzip compress_batch"]
        sb = best_of(fn, args.repeats, warm)
        for name, sec in (("contextzip default", s), ("contextzip default compress_batch", sb)):
            record({"model": "contextzip-token-clf", "dtype": str(default.scorer.engine.dtype).replace("torch.", ""),
                    "texts": shape, "arm": name, "input_tokens": n_tokens, "seconds": round(sec, 3),
                    "tokens_per_second": round(n_tokens / sec, 1)})
    out["load_after"] = load()
    write_result("llmlingua2-throughput", args.tag, out)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
