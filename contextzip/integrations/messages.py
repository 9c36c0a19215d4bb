"""Compress the context inside chat messages (OpenAI chat and Anthropic Messages formats), nothing else.

Only *context* is ever compressed; system instructions and the user's question are copied unchanged. Context is
found in three places, and all of it shares one budget (one ``compress()`` call):

1. **documents passed explicitly** (``documents=[...]``): compressed and inserted at the start of the last user
   turn as a ``<context>...</context>`` block;
2. **content parts**: Anthropic ``document`` blocks with a text source, and text parts or blocks marked
   ``"context": True`` (or ``"context": {"id": ..., "title": ...}``; the marker is removed from the output, so
   the request stays valid for the API);
3. **a marked block** ``<context>...</context>`` inside any message's text (system prompts included: only what is
   between the tags is compressed). Its paragraphs (blank-line separated) are its documents.

**Boundaries that document text cannot move.** Documents are untrusted, so a block runs from the *first* opening
marker of a text to its *last* closing one (a ``</context>`` inside a document neither ends the block nor moves text
into the question; text between two blocks of one text is context too), and every marker-like string inside a
document (``</context>``, ``<CONTEXT id=x>``, ``< /context >``) is neutralised to ``&lt;/context>`` before
compression. After assembly the context placed in the messages is counted again: that count is
:attr:`CompressedMessages.compressed_tokens` (the proxy's ``X-ContextZip-Compressed-Tokens``), never over budget.

The query is the text of the last user turn (context removed) unless ``query`` is given. Input messages are never
mutated: the result holds new ones, plus the :class:`~contextzip.CompressionResult` and token counts.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from contextzip.api import resolve_compressor
from contextzip.budget import resolve_budget
from contextzip.compressors.base import BaseCompressor, DocumentsInput, as_documents
from contextzip.errors import ContextZipError
from contextzip.segment import split_paragraphs
from contextzip.tokens import TokenCounter
from contextzip.types import CompressionResult, Document

logger = logging.getLogger(__name__)

MessageFormat = Literal["openai", "anthropic"]
FORMATS = ("openai", "anthropic")
CONTEXT_BLOCK = re.compile(r"(<context(?:\s[^>]*)?>)(.*)(</context>)", re.DOTALL)  # greedy: to the LAST close
_ANY_MARKER = re.compile(r"<(?=\s*/?\s*context\b)", re.IGNORECASE)  # what an LLM could read as a marker
_MARKER_KEYS = ("context",)


@dataclass
class _Slot:
    """Where context lives: a <context> block, a content part, or documents to insert into the last user turn."""

    kind: Literal["block", "part", "insert"]
    message: int | None            # index in messages, or None for the Anthropic ``system`` parameter
    part: int | None               # index in a content list, or None for string content
    doc_indices: list[int]
    span: tuple[int, int] = (0, 0)  # for "block": the inner text's span in the part's text
    leading: str = ""
    trailing: str = ""


@dataclass
class MessageContext:
    """The context found in a conversation, ready to compress, and how to put the compressed text back."""

    messages: list[Any]
    system: Any
    format: MessageFormat
    documents: list[Document]
    query: str | None
    slots: list[_Slot] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.documents)

    def rebuild(self, result: CompressionResult | None) -> tuple[list[Any], Any, list[str]]:
        """New (messages, system) with each context location holding its compressed documents, and the context
        texts as placed (each block's inner text without its framing whitespace, each part's text)."""
        placed: list[str] = []
        messages = copy.deepcopy(self.messages)
        system = copy.deepcopy(self.system)
        texts = [d.text for d in result.documents] if result is not None else [d.text for d in self.documents]
        removed: list[tuple[int | None, int]] = []
        # Blocks first, in reverse span order within a text, so earlier spans stay valid.
        for slot in sorted(self.slots, key=lambda s: (s.kind != "block", -s.span[0])):
            if slot.kind == "block":
                inner = "\n\n".join(texts[i] for i in slot.doc_indices if texts[i].strip())
                new_inner = slot.leading + inner + slot.trailing if inner else "\n"
                placed.append(inner.strip())
                system = self._edit_text(messages, system, slot,
                                         lambda t, s=slot, n=new_inner: t[: s.span[0]] + n + t[s.span[1]:])
            elif slot.kind == "part":
                text = texts[slot.doc_indices[0]]
                if text.strip():
                    self._set_part(messages, system, slot, text)
                    placed.append(text)
                else:
                    removed.append((slot.message, slot.part or 0))
        # Dropped parts go, highest index first; then documents given explicitly go into the last user turn.
        for m, p in sorted(removed, key=lambda k: (-1 if k[0] is None else k[0], k[1]), reverse=True):
            content = system if m is None else messages[m]["content"]
            del content[p]
            if not content and m is not None:
                messages[m]["content"] = ""
        for slot in self.slots:
            if slot.kind == "insert":
                inner = "\n\n".join(texts[i] for i in slot.doc_indices if texts[i].strip())
                self._insert(messages, slot.message, f"<context>\n{inner}\n</context>\n\n")
                placed.append(inner.strip())
        _strip_markers(messages, system)
        return messages, system, [p for p in placed if p]

    # -- editing helpers -------------------------------------------------------------------------------

    @staticmethod
    def _container(messages: list[Any], system: Any, slot: _Slot) -> tuple[Any, Any]:
        return (system, None) if slot.message is None else (messages[slot.message]["content"], messages[slot.message])

    def _edit_text(self, messages: list[Any], system: Any, slot: _Slot, edit: Any) -> Any:
        content, msg = self._container(messages, system, slot)
        if slot.part is None:
            if msg is None:
                return edit(content)
            msg["content"] = edit(content)
        else:
            content[slot.part]["text"] = edit(content[slot.part]["text"])
        return system

    def _set_part(self, messages: list[Any], system: Any, slot: _Slot, text: str) -> None:
        content, _ = self._container(messages, system, slot)
        part = content[slot.part]
        if part.get("type") == "document":
            part["source"] = {**part["source"], "data": text}
        else:
            part["text"] = text

    @staticmethod
    def _insert(messages: list[Any], index: int | None, block: str) -> None:
        if index is None:
            raise ValueError("documents need a user turn to go into")
        msg = messages[index]
        content = msg.get("content")
        if isinstance(content, str) or content is None:
            msg["content"] = block + (content or "")
        else:
            content.insert(0, {"type": "text", "text": block.rstrip("\n")})


def neutralize_markers(text: str) -> str:
    """``text`` with every context marker in it made inert (``</context>`` -> ``&lt;/context>``)."""
    return _ANY_MARKER.sub("&lt;", text) if "<" in text else text


def _strip_markers(messages: list[Any], system: Any) -> None:
    lists = [m.get("content") for m in messages if isinstance(m, dict)] + [system]
    for content in lists:
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    for key in _MARKER_KEYS:
                        part.pop(key, None)


def _marker(part: Mapping[str, Any]) -> dict[str, Any] | None:
    """Metadata for a text part marked as context, or None when it is not marked."""
    value = part.get("context")
    if value is True:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    return None


def _part_text(part: Any) -> str | None:
    if isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("text"), str):
        return part["text"]
    return None


def _check_messages(messages: Any, fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, but got {fmt!r}")
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        raise TypeError(f"messages must be a list of message dicts, but got {type(messages).__name__}")
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str):
            raise TypeError(f"message {i} must be a dict with a 'role', but got {m!r:.80}")


def find_context(
    messages: Sequence[Mapping[str, Any]],
    *,
    format: MessageFormat = "openai",
    system: Any = None,
    documents: DocumentsInput | None = None,
    query: str | None = None,
) -> MessageContext:
    """Locate the context in ``messages`` (see the module docstring) and the query; nothing is compressed yet."""
    _check_messages(messages, format)
    msgs = list(messages)
    docs: list[Document] = []
    slots: list[_Slot] = []

    def add_block(text: str, m: int | None, p: int | None) -> None:
        for match in CONTEXT_BLOCK.finditer(text):
            inner = match.group(2)
            start, end = match.span(2)
            stripped = inner.strip()
            lead = inner[: len(inner) - len(inner.lstrip())]
            trail = inner[len(inner.rstrip()):]
            indices = []
            for para in split_paragraphs(stripped) if stripped else []:
                indices.append(len(docs))
                docs.append(Document(neutralize_markers(para.text), str(len(docs))))
            slots.append(_Slot("block", m, p, indices, (start, end), lead, trail))

    def scan(content: Any, m: int | None) -> None:
        if isinstance(content, str):
            add_block(content, m, None)
            return
        if not isinstance(content, list):
            return
        for p, part in enumerate(content):
            if not isinstance(part, Mapping):
                continue
            text = _part_text(part)
            meta = _marker(part) if text is not None else None
            if text is not None and meta is not None:
                doc_id = str(meta.pop("id", len(docs)))
                slots.append(_Slot("part", m, p, [len(docs)]))
                docs.append(Document(text, doc_id, meta))
            elif text is not None:
                add_block(text, m, p)
            elif (format == "anthropic" and part.get("type") == "document"
                  and isinstance(part.get("source"), Mapping) and part["source"].get("type") == "text"
                  and isinstance(part["source"].get("data"), str)):
                meta = {"title": part["title"]} if isinstance(part.get("title"), str) else {}
                slots.append(_Slot("part", m, p, [len(docs)]))
                docs.append(Document(part["source"]["data"], str(len(docs)), meta))

    if system is not None:
        scan(system, None)
    for m, msg in enumerate(msgs):
        scan(msg.get("content"), m)

    last_user = next((i for i in range(len(msgs) - 1, -1, -1) if msgs[i]["role"] == "user"), None)
    if documents is not None:
        explicit = as_documents(documents)
        if last_user is None:
            raise ValueError("documents were given but messages has no user turn to put them in")
        indices = list(range(len(docs), len(docs) + len(explicit)))
        for d in explicit:
            docs.append(Document(neutralize_markers(d.text), d.id, d.metadata))
        slots.append(_Slot("insert", last_user, None, indices))
    if query is None and last_user is not None:
        query = _question_text(msgs[last_user].get("content")) or None
    elif query is not None and not isinstance(query, str):
        raise TypeError(f"query must be a str or None, but got {type(query).__name__}")
    return MessageContext(msgs, system, format, docs, query, slots)


def _question_text(content: Any) -> str:
    """The last user turn's own text: context blocks and context parts left out."""
    if isinstance(content, str):
        return CONTEXT_BLOCK.sub(" ", content).strip()
    if isinstance(content, list):
        pieces = []
        for part in content:
            text = _part_text(part)
            if text is not None and _marker(part) is None:
                pieces.append(CONTEXT_BLOCK.sub(" ", text).strip())
        return "\n".join(p for p in pieces if p).strip()
    return ""


def count_prompt_tokens(messages: Sequence[Mapping[str, Any]], counter: TokenCounter, system: Any = None) -> int:
    """Tokens of every text in the conversation (message text, text parts, text documents), no overheads."""
    texts: list[str] = []

    def collect(content: Any) -> None:
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, Mapping):
                    continue
                if isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif part.get("type") == "document" and isinstance(part.get("source"), Mapping):
                    data = part["source"].get("data")
                    if isinstance(data, str) and part["source"].get("type") == "text":
                        texts.append(data)

    collect(system)
    for m in messages:
        collect(m.get("content"))
    return sum(counter.count_many(texts))


@dataclass(frozen=True)
class CompressedMessages:
    """New messages with compressed context, and the numbers.

    ``result`` is ``None`` when the messages hold no context (then the messages are an unchanged copy).
    ``prompt_tokens_before`` / ``prompt_tokens_after`` count all the text of the conversation;
    ``forwarded_tokens``, the context as placed in ``messages`` (see "Boundaries" in the module docstring).
    """

    messages: list[dict[str, Any]]
    result: CompressionResult | None
    query: str | None
    prompt_tokens_before: int
    prompt_tokens_after: int
    system: Any = None
    forwarded_tokens: int = 0

    @property
    def original_tokens(self) -> int:
        return self.result.original_tokens if self.result is not None else 0

    @property
    def compressed_tokens(self) -> int:
        """The context tokens actually forwarded (counted after assembly); 0 without context."""
        return self.forwarded_tokens if self.result is not None else 0

    @property
    def tokens_saved(self) -> int:
        return self.prompt_tokens_before - self.prompt_tokens_after

    def stats(self) -> dict[str, Any]:
        """Numbers only, JSON-ready."""
        r = self.result
        return {
            "context_found": r is not None,
            "context_original_tokens": self.original_tokens,
            "context_compressed_tokens": self.compressed_tokens,
            "target_tokens": r.target_tokens if r is not None else None,
            "prompt_tokens_before": self.prompt_tokens_before,
            "prompt_tokens_after": self.prompt_tokens_after,
            "tokens_saved": self.tokens_saved,
            "compressor": r.compressor if r is not None else None,
            "documents": [{"id": d.id, "status": d.status.value, "original_tokens": d.original_tokens,
                           "compressed_tokens": d.compressed_tokens} for d in r.documents] if r is not None else [],
        }


def finish(context: MessageContext, result: CompressionResult | None, counter: TokenCounter) -> CompressedMessages:
    """Put ``result`` (for ``context``) back into new messages and count what changed, and the context placed
    (raises :class:`~contextzip.ContextZipError`, so nothing is sent, if assembly ever made it exceed the budget)."""
    messages, system, placed = context.rebuild(result)
    before = count_prompt_tokens(context.messages, counter, context.system)
    after = count_prompt_tokens(messages, counter, system) if result is not None else before
    forwarded = sum(counter.count_many(placed)) if result is not None else 0
    if result is not None and forwarded > result.target_tokens:
        raise ContextZipError(f"the assembled context has {forwarded} tokens for a budget of {result.target_tokens}")
    return CompressedMessages(messages, result, context.query, before, after, system, forwarded)


class ChatOptions(TypedDict, total=False):
    """The options of one chat compression: a wrapper's defaults, a ``contextzip={...}`` field, or keywords.

    - ``target_tokens`` / ``rate``: the budget for all the context together (exactly one);
    - ``query``: what the context should answer; defaults to the last user turn's own text;
    - ``documents``: documents to compress and insert, as a ``<context>`` block, at the start of the last user
      turn;
    - ``compressor``: a registry name or a compressor instance (default ``"query-guided"``);
    - ``token_counter``: "o200k_base" (default), "cl100k_base" or "hf:<model>".
    """

    target_tokens: int | None
    rate: float | None
    query: str | None
    documents: DocumentsInput | None
    compressor: str | BaseCompressor
    token_counter: str | None


OPTION_KEYS = tuple(ChatOptions.__annotations__)


def check_options(options: Any, allowed: Sequence[str] = OPTION_KEYS) -> dict[str, Any]:
    """A copy of a ``contextzip`` options field (``None`` = no options), checked to be a dict of known names."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(f"contextzip options must be an object (a dict), but got {type(options).__name__}")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"contextzip options must be among {list(allowed)}, but got {unknown}")
    return dict(options)


def compress_chat(
    messages: Sequence[Mapping[str, Any]],
    *,
    format: MessageFormat,
    target_tokens: int | None = None,
    rate: float | None = None,
    query: str | None = None,
    documents: DocumentsInput | None = None,
    system: Any = None,
    compressor: str | BaseCompressor = "query-guided",
    token_counter: str | None = None,
) -> CompressedMessages:
    """Compress the context of a conversation (``format`` "openai" or "anthropic", with Anthropic's ``system``).

    The other arguments are :class:`ChatOptions`; what counts as context is in the module docstring.
    """
    resolve_budget(1, target_tokens, rate)  # validate before any work
    context = find_context(messages, format=format, system=system, documents=documents, query=query)
    comp = resolve_compressor(compressor, token_counter)
    result = None
    if context.found:
        result = comp.compress(context.documents, context.query, target_tokens=target_tokens, rate=rate)
        logger.debug("context %d -> %d tokens (budget %d)", result.original_tokens, result.compressed_tokens,
                     result.target_tokens)
    return finish(context, result, comp.token_counter)
