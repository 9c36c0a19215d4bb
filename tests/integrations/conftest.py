"""Fixtures for the integration tests: the fake OpenAI-compatible server of contextzip.testing, on 127.0.0.1."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def fake_openai():
    """A :class:`~contextzip.testing.fixtures.FakeOpenAIServer` on a free loopback port, for the whole session."""
    from contextzip.testing.fixtures import fake_openai_server

    with fake_openai_server() as server:
        yield server
