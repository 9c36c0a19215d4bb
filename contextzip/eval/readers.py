"""Readers: the LLM that answers a question from a (compressed) context, so compression is judged by the answers.

``SmolLM2Reader`` runs SmolLM2-135M-Instruct offline (greedy, short answers, left-padded batches through the
shared :class:`~contextzip.engine.ScoringEngine`). ``OpenAIReader`` sends the same prompt to any
OpenAI-compatible endpoint. ``get_reader("smollm2" | "openai:<model>" | "none")`` builds one by name.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from contextzip.engine import ScoringEngine, pad_batch
from contextzip.models import LazyModel
from contextzip.validation import check_positive_int

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You answer questions. Reply with the answer only: a few words, no full sentence, no explanation."
)
LONG_SYSTEM_PROMPT = "You answer questions about a meeting transcript in two or three sentences."


@dataclass(frozen=True)
class ReaderPrompt:
    """One question for a reader: the question and its context (``None`` for closed book)."""

    question: str
    context: str | None = None
    long_answer: bool = False  # QMSum-style free-form answers instead of a short span

    def messages(self) -> list[dict[str, str]]:
        system = LONG_SYSTEM_PROMPT if self.long_answer else SYSTEM_PROMPT
        if self.context is None or not self.context.strip():
            user = f"Question: {self.question}\nAnswer:"
        else:
            user = f"Context:\n{self.context.strip()}\n\nQuestion: {self.question}\nAnswer:"
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@runtime_checkable
class Reader(Protocol):
    """Answers many prompts; one reply per prompt, in order."""

    name: str

    def answer(self, prompts: Sequence[ReaderPrompt]) -> list[str]: ...


def clean_reply(text: str) -> str:
    """First line of a reply, without a leading "Answer:" echo or surrounding whitespace."""
    text = text.strip()
    if text.lower().startswith("answer:"):
        text = text[len("answer:"):].strip()
    return text.split("\n", 1)[0].strip() if text else ""


class SmolLM2Reader(LazyModel):
    """SmolLM2-135M-Instruct as a reader: greedy decoding of at most ``max_new_tokens`` tokens.

    Args:
        model_name_or_path: a registered causal LM ("smollm2-135m"), hub id or local path.
        engine: the scoring engine (device, dtype, batch sizes); prompts are length-sorted and left-padded.
        max_new_tokens: reply length for short answers; ``long_max_new_tokens`` for free-form answers.
        max_context_tokens: prompts longer than this (in the model's tokens) keep their last tokens, so the
            question and the generation prompt survive; SmolLM2 was trained on 8k.
    """

    name = "smollm2"

    def __init__(self, model_name_or_path: str = "smollm2-135m", engine: ScoringEngine | None = None,
                 max_new_tokens: int = 24, long_max_new_tokens: int = 96, max_context_tokens: int = 8000,
                 batch_size: int = 8) -> None:
        batch_size = check_positive_int("batch_size", batch_size)
        super().__init__(model_name_or_path,
                         engine or ScoringEngine(batch_size=batch_size, max_batch_tokens=batch_size * 2048))
        self.max_new_tokens = check_positive_int("max_new_tokens", max_new_tokens)
        self.long_max_new_tokens = check_positive_int("long_max_new_tokens", long_max_new_tokens)
        self.max_context_tokens = check_positive_int("max_context_tokens", max_context_tokens)

    def load(self) -> tuple[Any, Any]:
        from contextzip.causal_lm import load_causal_lm

        return load_causal_lm(self.model_name_or_path, self.engine)

    def encode(self, prompt: ReaderPrompt) -> list[int]:
        """The chat-templated prompt's token ids (the tail, when longer than ``max_context_tokens``)."""
        self.warm_up()
        text = self._tokenizer.apply_chat_template(prompt.messages(), tokenize=False, add_generation_prompt=True)
        ids = self._tokenizer(text, add_special_tokens=False)["input_ids"]
        return list(ids[-self.max_context_tokens:])

    def answer(self, prompts: Sequence[ReaderPrompt]) -> list[str]:
        if not prompts:
            return []
        self.warm_up()
        tokenizer, model = self._tokenizer, self._model
        encoded = [self.encode(p) for p in prompts]
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        long_flags = [p.long_answer for p in prompts]

        def collate(batch: list[int]) -> dict[str, Any]:
            # Left padding: every prompt ends where generation starts.
            tensors = pad_batch([encoded[i] for i in batch], pad_id, side="left")
            tensors["long_answer"] = any(long_flags[i] for i in batch)
            return tensors

        def forward(tensors: dict[str, Any]) -> list[str]:
            new_tokens = self.long_max_new_tokens if tensors["long_answer"] else self.max_new_tokens
            out = model.generate(input_ids=tensors["input_ids"], attention_mask=tensors["attention_mask"],
                                 max_new_tokens=new_tokens, do_sample=False, pad_token_id=pad_id)
            width = tensors["input_ids"].shape[1]
            return [tokenizer.decode(row[width:], skip_special_tokens=True) for row in out]

        replies = self.engine.run(list(range(len(encoded))), lengths=[len(e) for e in encoded],
                                  collate=collate, forward=forward, desc="Reading")
        return [reply.strip() if long_flags[i] else clean_reply(reply) for i, reply in enumerate(replies)]


class OpenAIReader:
    """Any OpenAI-compatible chat endpoint as a reader (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``).

    Args:
        model: the model name the endpoint serves.
        base_url / api_key: default to the environment variables; a local server needs no real key.
        max_tokens: reply length for short answers; ``long_max_tokens`` for free-form answers.
    """

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None,
                 max_tokens: int = 24, long_max_tokens: int = 128, timeout: float = 60.0) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"model must be a non-empty str, but got {model!r}")
        try:
            import openai
        except ImportError as exc:
            raise ImportError("OpenAIReader needs the openai SDK: pip install 'contextzip[openai]'") from exc
        self.model = model
        self.name = f"openai:{model}"
        self.max_tokens = max_tokens
        self.long_max_tokens = long_max_tokens
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        api_key = api_key or os.environ.get("OPENAI_API_KEY") or ("not-needed" if base_url else None)
        if api_key is None:
            raise ValueError("openai reader needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local endpoint)")
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout)

    def answer(self, prompts: Sequence[ReaderPrompt]) -> list[str]:
        replies = []
        for prompt in prompts:
            response = self._client.chat.completions.create(
                model=self.model, messages=prompt.messages(), temperature=0,  # type: ignore[arg-type]
                max_tokens=self.long_max_tokens if prompt.long_answer else self.max_tokens,
            )
            text = response.choices[0].message.content or ""
            replies.append(text.strip() if prompt.long_answer else clean_reply(text))
        return replies


READER_CHOICES = ("none", "smollm2", "openai:<model>")


def get_reader(spec: str | None, engine: ScoringEngine | None = None) -> Reader | None:
    """``"none"``/``None`` -> no reader; ``"smollm2"``; ``"openai:<model>"``."""
    if spec is None or spec == "none":
        return None
    if spec in ("smollm2", "smollm2-135m"):
        return SmolLM2Reader(engine=engine)
    if spec.startswith("openai:") and spec[len("openai:"):].strip():
        return OpenAIReader(spec[len("openai:"):].strip())
    raise ValueError(f"reader must be one of {list(READER_CHOICES)}, but got {spec!r}")
