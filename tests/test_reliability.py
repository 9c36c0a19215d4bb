"""Hard inputs the library must survive (issue 14): lone surrogates in every compressor, string metadata in
``to_dict``, numpy integer budgets, and the fuzz targets for segmentation and message parsing."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contextzip.registry import compressor_names, load_compressor
from contextzip.segment import encodable, split_paragraphs, split_sentences, split_words
from contextzip.testing.conformance import is_faithful_subsequence
from contextzip.types import Document, DocumentResult, DocumentStatus

# Fuzz profile: small and derandomised in CI; CONTEXTZIP_FUZZ_EXAMPLES=20000 for a long nightly run.
FUZZ = settings(max_examples=int(os.environ.get("CONTEXTZIP_FUZZ_EXAMPLES", "300")), derandomize=True,
                deadline=None, suppress_health_check=[HealthCheck.too_slow])

SURROGATE_DOCS = [
    ("The Harwick Point lighthouse was first lit in 1872 \ud800 by its keepers. " * 12)
    + "Marta \udfff Lindqvist kept the light for 31 years.",
    "Bananas grow in hands \ud83d. A banana plant is a giant herb, not a tree. " * 6,
]
SURROGATE_QUERY = "Who kept the Harwick Point light \ud800?"
ABSTRACTIVE = {"abstractive"}


def test_encodable_keeps_length_and_offsets():
    text = "a\ud800b\udfffc 東京 😀"
    out = encodable(text)
    assert len(out) == len(text) and out == "a\ufffdb\ufffdc 東京 😀"
    out.encode("utf-8")  # encodable, as a tokenizer needs
    assert encodable("plain ascii") == "plain ascii"


@pytest.mark.slow
@pytest.mark.parametrize("name", compressor_names())
def test_lone_surrogates_never_crash_and_stay_faithful(name, counter):
    if name == "gist":  # a random projector (the trained one may be absent); its text is placeholders, not text
        import torch

        from contextzip.gist.projector import GistProjector

        torch.manual_seed(0)
        compressor = load_compressor(name, projector=GistProjector())
    else:
        compressor = load_compressor(name)
    result = compressor.compress(SURROGATE_DOCS, SURROGATE_QUERY, target_tokens=60)
    assert result.compressed_tokens <= 60
    sources = "\n\n".join(SURROGATE_DOCS)
    assert "\ufffd" not in result.text  # nothing the source does not hold
    if name in ABSTRACTIVE or name == "gist":
        return
    for doc, source in zip(result.documents, SURROGATE_DOCS, strict=True):
        assert is_faithful_subsequence(doc.text, source, getattr(compressor, "elision", None)), (name, doc.text[:200])
    assert is_faithful_subsequence(result.text, sources, getattr(compressor, "elision", None))


def test_truncate_keeps_lone_surrogates_verbatim():
    result = load_compressor("truncate").compress(SURROGATE_DOCS, target_tokens=40)
    assert "\ud800" in result.text and SURROGATE_DOCS[0].startswith(result.text)


def test_to_dict_with_string_metadata():
    """A mapping-like but non-dict metadata, and string values, serialise (no ValueError from dict(str))."""
    result = load_compressor("truncate").compress(
        [Document("one two three four five six", "a", {"title": "T", "source": "web"})], target_tokens=3)
    d = result.to_dict()
    assert d["documents"][0]["metadata"] == {"title": "T", "source": "web"}
    doc = DocumentResult("x", 0, 1, 1, DocumentStatus.KEPT, "x", metadata="just a string")  # type: ignore[arg-type]
    assert doc.to_dict()["metadata"] == {"value": "just a string"}
    result.to_json()
    with pytest.raises(TypeError, match="metadata must be a mapping"):
        Document("text", "a", "web")  # type: ignore[arg-type]


@pytest.mark.parametrize("budget", [np.int64(5), np.int32(5), np.uint16(5)])
def test_numpy_integer_budgets_through_compress(budget):
    result = load_compressor("truncate").compress(["one two three four five six seven eight nine ten"],
                                                  target_tokens=budget)
    assert result.target_tokens == 5 and type(result.target_tokens) is int and result.compressed_tokens <= 5


# --- fuzz targets: segmentation and message parsing ---------------------------------------------------------

_ALPHABET = st.sampled_from(list("ab .!?\n\t。！？「」,;:\"'()-`#*0123456789") + ["東京", "😀", "ไทย", "\ud800",
                                                                                "</context>", "<context>", "\u200b"])
_TEXT = st.lists(_ALPHABET, max_size=60).map("".join) | st.text(max_size=80)


@FUZZ
@given(_TEXT)
def test_fuzz_segmentation(text):
    for split in (split_sentences, split_words, split_paragraphs):
        spans = split(text)
        last = 0
        for span in spans:
            assert last <= span.start < span.end <= len(text)
            assert span.text == text[span.start:span.end] == span.text.strip()
            assert not text[last:span.start].strip() or split is not split_paragraphs
            last = span.end


@FUZZ
@given(st.lists(_TEXT, min_size=1, max_size=4), _TEXT, st.booleans())
def test_fuzz_message_parsing(docs, question, as_parts):
    from contextzip.integrations.messages import CONTEXT_BLOCK, compress_chat, find_context

    context = "\n\n".join(docs)
    if as_parts:
        content = [{"type": "text", "text": d, "context": True} for d in docs] + [{"type": "text", "text": question}]
    else:
        content = f"<context>\n{context}\n</context>\n\n{question}"
    messages = [{"role": "user", "content": content}]
    ctx = find_context(messages)
    for d in ctx.documents:
        if not as_parts:
            assert "</context>" not in d.text and "<context" not in d.text.lower()
    out = compress_chat(messages, format="openai", target_tokens=8, compressor="truncate")
    assert out.compressed_tokens <= 8
    if not as_parts and "</context>" not in question and "<context" not in question:
        forwarded = out.messages[0]["content"]
        assert forwarded.count("</context>") == 1
        assert forwarded[CONTEXT_BLOCK.search(forwarded).end():].strip() == question.strip()


# --- the CLI with closed standard streams --------------------------------------------------------------------

def _cli(args: str, redirect: str, tmp_path) -> tuple[int, str]:
    import subprocess
    import sys

    doc = tmp_path / "doc.txt"
    doc.write_text("one two three four five six seven eight nine ten")
    cmd = f"{sys.executable} -m contextzip.cli compress -b 3 -c truncate {args.format(doc=doc)} {redirect}"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stderr


def test_cli_closed_stdin_is_a_clear_error(tmp_path):
    rc, err = _cli("-", "<&-", tmp_path)
    assert rc == 1 and "stdin is closed" in err and "Traceback" not in err


@pytest.mark.parametrize("redirect,message", [(">&-", "stdout is closed"), ("> /dev/full", "cannot write")])
def test_cli_unwritable_stdout_is_never_a_silent_loss(tmp_path, redirect, message):
    rc, err = _cli("{doc}", redirect, tmp_path)
    assert rc == 1 and message in err and "Traceback" not in err


def test_serve_has_a_log_level():
    from click.testing import CliRunner

    from contextzip.cli import cli

    out = CliRunner().invoke(cli, ["serve", "--help"])
    assert "--log-level" in out.output
