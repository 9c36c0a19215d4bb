"""Fixtures for the integration tests: sample documents, a local echo upstream on 127.0.0.1."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def echo_upstream():
    """(app, base URL) of an OpenAI-compatible echo server on a free loopback port, for the whole session."""
    from contextzip.integrations.server import create_echo_upstream, run_in_thread

    app = create_echo_upstream()
    with run_in_thread(app) as url:
        yield app, url
