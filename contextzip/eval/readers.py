"""Readers: the LLM that answers a question from a (compressed) context, so compression is judged by the answers.

``SmolLM2Reader`` runs SmolLM2-135M-Instruct offline (greedy, short answers, left-padded batches through the
shared :class:`~contextzip.engine.ScoringEngine`), reads gist prompts (soft tokens in place of the context, through
:mod:`contextzip.gist.embeds`) and scores a gold answer's negative log-likelihood (``answer_nll``).
``OpenAIReader`` sends the same text prompt to any OpenAI-compatible endpoint. ``get_reader("smollm2" |
"openai:<model>" | "none")`` builds one by name.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
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
    """One question for a reader: the question and its context (``None`` for closed book).

    With ``gists`` (one ``(k, hidden)`` tensor per :data:`~contextzip.gist.embeds.GIST_PLACEHOLDER` in
    ``context``, in order: a ``GistResult``'s ``prompt_fragment()`` and ``context_gists()``), a reader that
    supports it places the vectors in the decoder's input where the placeholders are.
    """

    question: str
    context: str | None = None
    long_answer: bool = False  # QMSum-style free-form answers instead of a short span
    gists: Sequence[Any] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.gists:
            from contextzip.gist.embeds import GIST_PLACEHOLDER

            found = (self.context or "").count(GIST_PLACEHOLDER)
            if found != len(self.gists):
                raise ValueError(f"the context has {found} gist placeholders but {len(self.gists)} gists were given")

    @property
    def uses_gists(self) -> bool:
        return bool(self.gists)

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


@runtime_checkable
class LikelihoodReader(Reader, Protocol):
    """A reader that also scores a given answer: mean negative log-likelihood, nats per token, per prompt."""

    def answer_nll(self, prompts: Sequence[ReaderPrompt], answers: Sequence[str]) -> list[float]: ...


def keep_last_positions(tokenizer: Any, text: str, gists: Sequence[Any], limit: int,
                        placeholder: str | None = None) -> tuple[str, list[Any], int]:
    """``text`` (one ``placeholder`` per gist block, :data:`~contextzip.gist.embeds.GIST_PLACEHOLDER` by default)
    and ``gists`` cut to their last ``limit`` decoder positions, as :meth:`SmolLM2Reader.encode` keeps the last
    tokens: text is cut at a token boundary, a block by rows. Returns the text, the blocks and the number of
    positions kept."""
    if placeholder is None:
        from contextzip.gist.embeds import GIST_PLACEHOLDER as placeholder
    pieces = text.split(placeholder)
    encoded = [tokenizer(p, add_special_tokens=False, return_offsets_mapping=True) if p else None for p in pieces]
    sizes = [len(e["input_ids"]) if e is not None else 0 for e in encoded]
    total = sum(sizes) + sum(int(g.shape[0]) for g in gists)
    excess = total - limit
    if excess <= 0:
        return text, list(gists), total
    for j, piece in enumerate(pieces):
        if excess < sizes[j]:
            start = encoded[j]["offset_mapping"][excess][0]  # type: ignore[index]
            return placeholder.join([piece[start:], *pieces[j + 1:]]), list(gists[j:]), limit
        excess -= sizes[j]
        if j < len(gists):
            if excess < gists[j].shape[0]:
                return placeholder.join(["", *pieces[j + 1:]]), [gists[j][excess:], *gists[j + 1:]], limit
            excess -= int(gists[j].shape[0])
    return "", [], 0  # unreachable: limit > 0


def clean_reply(text: str) -> str:
    """First line of a reply, without a leading "Answer:" echo or surrounding whitespace."""
    text = text.strip()
    if text.lower().startswith("answer:"):
        text = text[len("answer:"):].strip()
    return text.split("\n", 1)[0].strip() if text else ""


class SmolLM2Reader(LazyModel):
    """SmolLM2-135M-Instruct as a reader: greedy decoding of at most ``max_new_tokens`` tokens, and the gold
    answer's NLL (:meth:`answer_nll`). Text prompts generate from token ids; gist prompts and every NLL go
    through ``inputs_embeds`` (:mod:`contextzip.gist.embeds`), a text prompt being one with no placeholders.

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

    def embeds_prompt(self, prompt: ReaderPrompt) -> tuple[str, list[Any], int]:
        """The chat-templated text with gist placeholders, its gists and its number of decoder positions, cut
        to the last ``max_context_tokens`` positions (see :func:`keep_last_positions`)."""
        from contextzip.gist.embeds import chat_prompt

        text = chat_prompt(self.tokenizer, prompt.messages())
        return keep_last_positions(self._tokenizer, text, list(prompt.gists or []), self.max_context_tokens)

    def answer(self, prompts: Sequence[ReaderPrompt]) -> list[str]:
        if not prompts:
            return []
        self.warm_up()
        gist_idx = [i for i, p in enumerate(prompts) if p.uses_gists]
        text_idx = [i for i, p in enumerate(prompts) if not p.uses_gists]
        replies: list[str] = [""] * len(prompts)
        for idx, generated in ((text_idx, self._generate_from_ids), (gist_idx, self._generate_from_embeds)):
            if idx:
                for i, reply in zip(idx, generated([prompts[i] for i in idx]), strict=True):
                    replies[i] = reply
        return [reply.strip() if p.long_answer else clean_reply(reply) for p, reply in zip(prompts, replies, strict=True)]

    def answer_nll(self, prompts: Sequence[ReaderPrompt], answers: Sequence[str]) -> list[float]:
        """Mean negative log-likelihood (nats per token) of each answer as the assistant's reply to its prompt:
        the answer's tokens (stripped, no end-of-turn token) right after the generation prompt."""
        from contextzip.gist.embeds import batch_nll, build_inputs_embeds

        if len(prompts) != len(answers):
            raise ValueError(f"got {len(prompts)} prompts but {len(answers)} answers")
        if not prompts:
            return []
        self.warm_up()
        tokenizer, model = self._tokenizer, self._model
        rows = [self.embeds_prompt(p) for p in prompts]
        gold = [list(tokenizer(str(a).strip(), add_special_tokens=False)["input_ids"]) for a in answers]
        for i, ids in enumerate(gold):
            if not ids:
                raise ValueError(f"answers[{i}] is empty: there is nothing to score")

        def collate(batch: list[int]) -> dict[str, Any]:
            return build_inputs_embeds(model, tokenizer, [rows[i][0] for i in batch], [rows[i][1] for i in batch],
                                       [gold[i] for i in batch])

        out = self.engine.run(list(range(len(rows))), lengths=[rows[i][2] + len(gold[i]) for i in range(len(rows))],
                              collate=collate, forward=lambda tensors: batch_nll(model, tensors),
                              desc="Scoring answers")
        return [float(v) for v in out]

    def _generate_from_embeds(self, prompts: Sequence[ReaderPrompt]) -> list[str]:
        from contextzip.gist.embeds import generate

        rows = [self.embeds_prompt(p) for p in prompts]

        def collate(batch: list[int]) -> dict[str, Any]:
            return {"texts": [rows[i][0] for i in batch], "gists": [rows[i][1] for i in batch],
                    "long_answer": any(prompts[i].long_answer for i in batch)}

        def forward(batch: dict[str, Any]) -> list[str]:
            new_tokens = self.long_max_new_tokens if batch["long_answer"] else self.max_new_tokens
            return generate(self._model, self._tokenizer, batch["texts"], batch["gists"], max_new_tokens=new_tokens,
                            batch_size=len(batch["texts"]))

        return self.engine.run(list(range(len(rows))), lengths=[r[2] for r in rows], collate=collate, forward=forward,
                               desc="Reading")

    def _generate_from_ids(self, prompts: Sequence[ReaderPrompt]) -> list[str]:
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

        return self.engine.run(list(range(len(encoded))), lengths=[len(e) for e in encoded],
                               collate=collate, forward=forward, desc="Reading")


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
            raise ImportError("OpenAIReader needs the openai SDK: pip install 'contextzip-rag[openai]'") from exc
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
        if any(p.uses_gists for p in prompts):
            raise ValueError(f"reader {self.name} reads text only: gist prompts (vectors in the decoder's input) "
                             "need a self-hosted reader such as smollm2")
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
