"""Placement and masking of gists in ``inputs_embeds`` (contextzip.gist.embeds), with the real SmolLM2-135M.

The check of the issue: with each gist block replaced by the passage's own token embeddings, the decoder computes
exactly what it computes for the plain prompt (its ids: the text pieces around the placeholder and the passage's
ids), alone and inside a left-padded batch; and ``generate`` on a batch of mixed prompts gives each prompt's own
reply.
"""

from __future__ import annotations

import pytest
import torch

from contextzip.gist.embeds import GIST_PLACEHOLDER, build_inputs_embeds, chat_prompt, generate, prompt_pieces

PASSAGE = "The first Nobel Prize in Physics was awarded in 1901 to Wilhelm Conrad Röntgen, of Germany."
OTHER = "Paris is the capital of France. The Eiffel Tower was built for the 1889 World's Fair."


def _ids(tokenizer, text):  # type: ignore[no-untyped-def]
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _prompt(tokenizer, question: str, n_gists: int) -> str:  # type: ignore[no-untyped-def]
    context = "\n\n".join([GIST_PLACEHOLDER] * n_gists)
    user = f"Context:\n{context}\n\nQuestion: {question}\nAnswer:" if n_gists else f"Question: {question}\nAnswer:"
    return chat_prompt(tokenizer, [{"role": "user", "content": user}])


def _plain_ids(tokenizer, text: str, passages: list[str]) -> list[int]:  # type: ignore[no-untyped-def]
    """The ids the gist prompt stands for: each text piece's ids with each passage's ids in its placeholder."""
    pieces = prompt_pieces(tokenizer, text, len(passages))
    ids = list(pieces[0])
    for passage, piece in zip(passages, pieces[1:], strict=True):
        ids += _ids(tokenizer, passage) + list(piece)
    return ids


def _token_gists(model, tokenizer, passages: list[str]) -> list[torch.Tensor]:  # type: ignore[no-untyped-def]
    table = model.get_input_embeddings()
    with torch.no_grad():
        return [table(torch.tensor(_ids(tokenizer, p))) for p in passages]


@torch.no_grad()
def test_token_embeddings_in_place_of_gists_give_the_plain_prompts_logits(decoder) -> None:  # type: ignore[no-untyped-def]
    tokenizer, model = decoder
    long_text = _prompt(tokenizer, "Who won the first Nobel Prize in Physics?", 2)
    short_text = _prompt(tokenizer, "Capital?", 1)
    rows = [(long_text, [PASSAGE, OTHER]), (short_text, ["France."])]
    batch = build_inputs_embeds(model, tokenizer, [t for t, _ in rows],
                                [_token_gists(model, tokenizer, p) for _, p in rows])
    width = batch["inputs_embeds"].shape[1]
    batched = model(inputs_embeds=batch["inputs_embeds"], attention_mask=batch["attention_mask"],
                    position_ids=batch["position_ids"]).logits
    for r, (text, passages) in enumerate(rows):
        ids = _plain_ids(tokenizer, text, passages)
        plain = model(input_ids=torch.tensor([ids])).logits[0]
        n = len(ids)
        assert int(batch["attention_mask"][r].sum()) == n
        assert batch["attention_mask"][r, : width - n].sum() == 0, "rows must be left-padded"
        assert batch["position_ids"][r, width - n:].tolist() == list(range(n))
        torch.testing.assert_close(batched[r, width - n:], plain, atol=1e-4, rtol=1e-4)
        alone = build_inputs_embeds(model, tokenizer, [text], [_token_gists(model, tokenizer, passages)])
        torch.testing.assert_close(model(**alone).logits[0], plain, atol=1e-4, rtol=1e-4)
    assert width > len(_plain_ids(tokenizer, short_text, ["France."])), "the short prompt was padded"


@torch.no_grad()
def test_generate_on_a_batch_of_mixed_prompts_equals_each_prompt_alone(decoder) -> None:  # type: ignore[no-untyped-def]
    tokenizer, model = decoder
    torch.manual_seed(1)
    scale = float(model.get_input_embeddings().weight.norm(dim=-1).mean())
    soft = torch.nn.functional.normalize(torch.randn(4, model.config.hidden_size), dim=-1) * scale
    prompts = [
        (_prompt(tokenizer, "Who won the first Nobel Prize in Physics?", 1), _token_gists(model, tokenizer, [PASSAGE])),
        (_prompt(tokenizer, "What is the capital of France?", 0), []),
        (_prompt(tokenizer, "What was built in 1889?", 2), [soft, *_token_gists(model, tokenizer, [OTHER])]),
        (_prompt(tokenizer, "Name a physicist.", 1), [soft[:1]]),
    ]
    batched = generate(model, tokenizer, [t for t, _ in prompts], [g for _, g in prompts], max_new_tokens=10)
    alone = [generate(model, tokenizer, [t], [g], max_new_tokens=10)[0] for t, g in prompts]
    assert batched == alone
    assert all(isinstance(r, str) for r in batched)
    ids = _plain_ids(tokenizer, prompts[0][0], [PASSAGE])
    out = model.generate(torch.tensor([ids]), max_new_tokens=10, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert tokenizer.decode(out[0][len(ids):], skip_special_tokens=True) == batched[0], \
        "token embeddings in place of the gists must generate what the plain prompt generates"

def test_placeholder_and_block_shape_errors_are_clear(decoder) -> None:  # type: ignore[no-untyped-def]
    tokenizer, model = decoder
    text = _prompt(tokenizer, "Q?", 1)
    with pytest.raises(ValueError, match="1 gist placeholders but 2"):
        build_inputs_embeds(model, tokenizer, [text], [[torch.zeros(1, 576), torch.zeros(1, 576)]])
    with pytest.raises(ValueError, match="shape"):
        build_inputs_embeds(model, tokenizer, [text], [[torch.zeros(2, 10)]])


@torch.no_grad()
def test_vllm_prompt_embeds_payload_is_the_unpadded_row(decoder) -> None:  # type: ignore[no-untyped-def]
    import base64
    import io

    from contextzip.gist.embeds import prompt_embeds_base64

    tokenizer, model = decoder
    text = _prompt(tokenizer, "Who won the first Nobel Prize in Physics?", 1)
    gists = _token_gists(model, tokenizer, [PASSAGE])
    payload = prompt_embeds_base64(model, tokenizer, text, gists)
    tensor = torch.load(io.BytesIO(base64.b64decode(payload)), weights_only=True)
    ids = _plain_ids(tokenizer, text, [PASSAGE])
    assert tensor.shape == (len(ids), model.config.hidden_size)  # the Completions API's (sequence, hidden)
    torch.testing.assert_close(tensor, model.get_input_embeddings()(torch.tensor(ids)))
