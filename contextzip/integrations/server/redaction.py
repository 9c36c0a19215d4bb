"""Keep the upstream API key from ever reaching a client: in a body, in any JSON escaping, across stream chunks.

* plain bytes: every occurrence of the key becomes ``[REDACTED]``;
* JSON escapes: the key with any of its characters written as ``\\uXXXX`` (either case) or ``/`` as ``\\/`` is
  replaced too; a body the proxy parses and serialises again is redacted in every decoded string (:meth:`value`);
* a stream: bytes are released one complete server-sent event at a time (events end with a blank line), so a key
  split across two network chunks is whole when it is checked; a stream that is no SSE is released with a rolling
  window that holds back only a tail which could start the key.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"
_EVENT_END = re.compile(rb"\r?\n\r?\n")
_MAX_HELD = 64 * 1024  # bytes held waiting for an event's end before the rolling window takes over


class Redactor:
    """Redacts one secret (``key``) from what the proxy sends back; ``None`` or empty redacts nothing."""

    def __init__(self, key: str | None) -> None:
        self.key = key or None
        self.key_bytes = key.encode() if key else b""
        # Any JSON escaping of the key: each character literal or as \\uXXXX (either case), "/" also as "\\/".
        self._escaped = re.compile("".join(self._char_pattern(c) for c in key).encode()) if key else None

    @staticmethod
    def _char_pattern(c: str) -> str:
        code = f"{ord(c):04x}"
        alternatives = [re.escape(c), "\\\\u" + "".join(f"[{h}{h.upper()}]" if h.isalpha() else h for h in code)]
        if c == "/":
            alternatives.append(r"\\/")
        return "(?:" + "|".join(alternatives) + ")"

    def plain(self, data: bytes) -> bytes:
        """``data`` with every occurrence of the key, literal or JSON-escaped, replaced by ``[REDACTED]``."""
        if not self.key_bytes:
            return data
        data = data.replace(self.key_bytes, REDACTED.encode())
        if b"\\" in data and self._escaped is not None:
            data = self._escaped.sub(REDACTED.encode(), data)
        return data

    def value(self, obj: Any) -> Any:
        """A parsed JSON value with the key redacted in every string and object key."""
        if isinstance(obj, str):
            return obj.replace(self.key, REDACTED) if self.key and self.key in obj else obj
        if isinstance(obj, list):
            return [self.value(v) for v in obj]
        if isinstance(obj, dict):
            return {self.value(k): self.value(v) for k, v in obj.items()}
        return obj

    def stream(self) -> StreamRedactor:
        return StreamRedactor(self)


class StreamRedactor:
    """One stream's redaction: ``feed`` each chunk, send what it returns; ``flush`` at the end."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        if not self.redactor.key:
            return chunk
        data = self._held + chunk
        ends = list(_EVENT_END.finditer(data))
        if ends:
            cut = ends[-1].end()
            out, self._held = data[:cut], data[cut:]
            return self.redactor.plain(out)
        if len(data) <= _MAX_HELD:
            self._held = data
            return b""
        data = self.redactor.plain(data)
        keep = self._tail_that_could_start_the_key(data)
        self._held = data[len(data) - keep:] if keep else b""
        return data[: len(data) - keep]

    def _tail_that_could_start_the_key(self, data: bytes) -> int:
        key = self.redactor.key_bytes
        for n in range(min(len(key) - 1, len(data)), 0, -1):
            if key.startswith(data[-n:]):
                return n
        return 0

    def flush(self) -> bytes:
        data, self._held = self._held, b""
        return self.redactor.plain(data)
