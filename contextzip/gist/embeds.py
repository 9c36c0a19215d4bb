"""Prompts with gists in them, for any Hugging Face causal LM: ``inputs_embeds``, masks, ``generate`` and the NLL of a
continuation.

A prompt is ordinary text (usually the output of the tokenizer's chat template) with :data:`GIST_PLACEHOLDER` where
gists go; the i-th placeholder is replaced by the i-th block of vectors given for that prompt. Text between
placeholders is tokenized piece by piece, the pieces' token embeddings come from the model's own embedding table,
and rows are left-padded so every row ends where generation starts. Position ids follow the attention mask, so a
padded row computes exactly what the same row computes alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

GIST_PLACEHOLDER = "<|gist|>"

__all__ = ["GIST_PLACEHOLDER", "batch_nll", "build_inputs_embeds", "chat_prompt", "continuation_nll", "generate", "label_logits",
           "prompt_embeds_base64", "prompt_pieces"]


def chat_prompt(tokenizer: Any, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
    """The chat-templated text of ``messages`` (placeholders pass through the template untouched)."""
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=add_generation_prompt)


def prompt_pieces(tokenizer: Any, text: str, n_gists: int, placeholder: str = GIST_PLACEHOLDER) -> list[list[int]]:
    """Token ids of the text around the placeholders: ``n_gists + 1`` pieces (some may be empty)."""
    pieces = text.split(placeholder)
    if len(pieces) != n_gists + 1:
        raise ValueError(f"the prompt has {len(pieces) - 1} gist placeholders but {n_gists} gist blocks were given")
    return [list(tokenizer(p, add_special_tokens=False)["input_ids"]) if p else [] for p in pieces]


def _rows(model: Any, tokenizer: Any, texts: Sequence[str], gists: Sequence[Sequence[torch.Tensor]],
          continuations: Sequence[Sequence[int]] | None, placeholder: str) -> list[tuple[torch.Tensor, int]]:
    """Per prompt: (embeddings (L, d), number of continuation tokens at its end)."""
    if len(gists) != len(texts):
        raise ValueError(f"got {len(gists)} gist lists for {len(texts)} prompts")
    if continuations is not None and len(continuations) != len(texts):
        raise ValueError(f"got {len(continuations)} continuations for {len(texts)} prompts")
    table = model.get_input_embeddings()
    weight = table.weight
    rows = []
    for i, text in enumerate(texts):
        blocks = list(gists[i])
        pieces = prompt_pieces(tokenizer, text, len(blocks), placeholder)
        tail = list(continuations[i]) if continuations is not None else []
        parts: list[torch.Tensor] = []
        for j, ids in enumerate(pieces):
            if j == len(pieces) - 1:
                ids = ids + tail
            if ids:
                parts.append(table(torch.as_tensor(ids, dtype=torch.long, device=weight.device)))
            if j < len(blocks):
                block = torch.as_tensor(blocks[j]).to(device=weight.device, dtype=weight.dtype)
                if block.ndim != 2 or block.shape[1] != weight.shape[1]:
                    raise ValueError(f"a gist block must have shape (k, {weight.shape[1]}), but got {tuple(block.shape)}")
                parts.append(block)
        if not parts:
            raise ValueError("an empty prompt has nothing to condition on")
        rows.append((torch.cat(parts, 0), len(tail)))
    return rows


def build_inputs_embeds(model: Any, tokenizer: Any, texts: Sequence[str], gists: Sequence[Sequence[torch.Tensor]],
                        continuations: Sequence[Sequence[int]] | None = None,
                        placeholder: str = GIST_PLACEHOLDER) -> dict[str, torch.Tensor]:
    """Left-padded ``inputs_embeds``, ``attention_mask`` and ``position_ids`` for a batch of prompts.

    With ``continuations`` (token ids appended after each prompt, e.g. a gold answer), ``labels`` holds them at
    their positions and -100 elsewhere, ready for a language-model loss.
    """
    rows = _rows(model, tokenizer, texts, gists, continuations, placeholder)
    width = max(r.shape[0] for r, _ in rows)
    dim = rows[0][0].shape[1]
    ref = rows[0][0]
    embeds = torch.zeros(len(rows), width, dim, dtype=ref.dtype, device=ref.device)
    mask = torch.zeros(len(rows), width, dtype=torch.long, device=ref.device)
    labels = torch.full((len(rows), width), -100, dtype=torch.long, device=ref.device)
    for r, (row, n_tail) in enumerate(rows):
        n = row.shape[0]
        embeds[r, width - n:] = row
        mask[r, width - n:] = 1
        if n_tail:
            labels[r, width - n_tail:] = torch.as_tensor(list(continuations[r]), device=ref.device)  # type: ignore[index]
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = {"inputs_embeds": embeds, "attention_mask": mask, "position_ids": positions}
    if continuations is not None:
        out["labels"] = labels
    return out


def continuation_nll(model: Any, tokenizer: Any, texts: Sequence[str], gists: Sequence[Sequence[torch.Tensor]],
                     continuations: Sequence[Sequence[int]], batch_size: int = 8,
                     placeholder: str = GIST_PLACEHOLDER) -> list[float]:
    """Mean negative log-likelihood (nats per token) of each continuation after its prompt."""
    out: list[float] = []
    for start in range(0, len(texts), batch_size):
        sl = slice(start, start + batch_size)
        batch = build_inputs_embeds(model, tokenizer, texts[sl], gists[sl], continuations[sl], placeholder)
        out.extend(batch_nll(model, batch).tolist())
    return out


def label_logits(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits predicting each next position, float32; the ``labels`` they predict; where a label is set)."""
    logits = model(inputs_embeds=batch["inputs_embeds"], attention_mask=batch["attention_mask"],
                   position_ids=batch["position_ids"]).logits
    targets = batch["labels"][:, 1:]
    return logits[:, :-1].float(), targets, targets != -100


def batch_nll(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-row mean NLL of the ``labels`` positions (gradients flow when enabled by the caller)."""
    logits, targets, valid = label_logits(model, batch)
    losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets.clamp(min=0), reduction="none")
    return (losses * valid).sum(1) / valid.sum(1).clamp(min=1)


@torch.no_grad()
def generate(model: Any, tokenizer: Any, texts: Sequence[str], gists: Sequence[Sequence[torch.Tensor]],
             max_new_tokens: int = 24, batch_size: int = 8, placeholder: str = GIST_PLACEHOLDER,
             **generate_kwargs: Any) -> list[str]:
    """Greedy replies (or ``generate_kwargs``' decoding) to prompts with gists, batched."""
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    replies: list[str] = []
    for start in range(0, len(texts), batch_size):
        sl = slice(start, start + batch_size)
        batch = build_inputs_embeds(model, tokenizer, texts[sl], gists[sl], placeholder=placeholder)
        kwargs = {"do_sample": False, **generate_kwargs}
        out = model.generate(inputs_embeds=batch["inputs_embeds"], attention_mask=batch["attention_mask"],
                             max_new_tokens=max_new_tokens, pad_token_id=pad_id, **kwargs)
        replies.extend(tokenizer.decode(row, skip_special_tokens=True) for row in out)
    return replies


def prompt_embeds_base64(model: Any, tokenizer: Any, text: str, gists: Sequence[torch.Tensor],
                         placeholder: str = GIST_PLACEHOLDER) -> str:
    """One prompt's embeddings, (L, hidden) with no padding, as base64 of ``torch.save``: the ``prompt_embeds``
    field of vLLM's OpenAI-compatible Completions API (``vllm serve MODEL --enable-prompt-embeds``).

    ``text`` must already be chat-templated (the Completions API applies no template to embeddings).
    """
    import base64
    import io

    row, _ = _rows(model, tokenizer, [text], [gists], None, placeholder)[0]
    buffer = io.BytesIO()
    torch.save(row.detach().cpu().contiguous(), buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
