"""Sample documents and helpers shared by the integration tests (no fixtures here)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PARAGRAPHS = [
    "The Harwick Point lighthouse was first lit in 1872. Its original lamp burned whale oil and could be seen "
    "eleven nautical miles out to sea. The tower was rebuilt in stone in 1901 after a storm cracked the frame.",
    "Seven keepers served at Harwick Point. The longest-serving keeper, Marta Lindqvist, tended the light for 31 "
    "years, from 1924 to 1955. She kept a daily log of ships, weather and repairs.",
    "The light was automated in 1987, when a solar-powered beacon replaced the keepers. The keeper's cottage "
    "became a museum that opens every summer.",
    "Bananas grow in hanging clusters called hands. A banana plant is a giant herb, not a tree, and each stem "
    "fruits only once before it dies back.",
]
QUESTION = "Who was the longest-serving keeper of the Harwick Point lighthouse?"


def import_error_without(module: str, setup: str, call: str) -> str:
    """What ``call`` raises (``"<type> <message>"``) in a fresh interpreter where ``module`` is not installed.

    ``setup`` runs first (typically the contextzip import, which must succeed without ``module``); an empty
    string means ``call`` raised no ImportError.
    """
    prelude = textwrap.dedent(f"""
        import sys
        class _Block:
            def find_spec(self, name, path=None, target=None):
                if name == {module!r} or name.startswith({module!r} + "."):
                    raise ImportError("No module named " + repr(name))
                return None
        sys.meta_path.insert(0, _Block())
    """)
    code = f"{setup}\ntry:\n    {call}\nexcept ImportError as exc:\n    print(type(exc).__name__, exc)\n"
    proc = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def own_fake_server():
    """A fake OpenAI server for one test module (``pytest.fixture(own_fake_server, scope="module")``), so the
    requests of its many call paths (Responses items, tool results, list content) stay out of the session
    server's records, which other modules read."""
    from contextzip.testing.fixtures import fake_openai_server

    with fake_openai_server() as server:
        yield server
