"""What every benchmark script shares: where the repository is, and offline-first model loading.

A script run as a file (``python benchmarks/run.py``) first puts the repository root on ``sys.path`` so that
``benchmarks.*`` and ``training.*`` import; it then calls :func:`offline_hub_defaults` before anything imports
transformers or huggingface_hub.
"""

from __future__ import annotations

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_OFFLINE_DEFAULTS = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def offline_hub_defaults() -> None:
    """Load only local weights (the packaged models) and keep tokenizers single-threaded, unless the caller's
    environment says otherwise."""
    for name, value in _OFFLINE_DEFAULTS.items():
        os.environ.setdefault(name, value)
