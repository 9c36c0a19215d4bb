"""Integrations: meet users where they already are. Each module imports its framework only when used.

- :mod:`contextzip.integrations.langchain`: ``ContextZipCompressor`` (a ``BaseDocumentCompressor``) and
  ``ContextZipRetriever`` (wraps any retriever); ``pip install 'contextzip[langchain]'``.
- :mod:`contextzip.integrations.llamaindex`: ``ContextZipPostprocessor`` (a ``BaseNodePostprocessor``);
  ``pip install 'contextzip[llamaindex]'``.
- :mod:`contextzip.integrations.openai` / :mod:`~contextzip.integrations.anthropic`: ``compress_messages`` compresses
  only the context of a chat request before the API call; ``wrap_openai`` wraps an ``openai`` client.
- :mod:`contextzip.integrations.server`: the compressing OpenAI-compatible proxy behind ``contextzip serve``;
  ``pip install 'contextzip[server]'``.
"""
