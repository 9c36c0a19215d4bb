"""Integrations: meet users where they already are. Each module imports its framework only when used.

- :mod:`contextzip.integrations.langchain`: ``ContextZipCompressor`` (a ``BaseDocumentCompressor``),
  ``ContextZipRetriever`` (wraps any retriever) and ``rag_chain``; ``pip install 'contextzip-rag[langchain]'``.
- :mod:`contextzip.integrations.llamaindex`: ``ContextZipPostprocessor`` (a ``BaseNodePostprocessor``);
  ``pip install 'contextzip-rag[llamaindex]'``. Both share :mod:`~contextzip.integrations.documents` (settings, stats).
- :mod:`contextzip.integrations.openai` / :mod:`~contextzip.integrations.anthropic`: ``compress_messages`` compresses
  only the context of a chat request before the API call; ``wrap_openai`` / ``wrap_anthropic`` wrap a client.
  What counts as context: :mod:`~contextzip.integrations.messages`; the wrapper machinery:
  :mod:`~contextzip.integrations.endpoint`.
- :mod:`contextzip.integrations.server`: the compressing OpenAI-compatible proxy behind ``contextzip serve``;
  ``pip install 'contextzip-rag[server]'``.
"""
