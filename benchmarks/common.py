"""What every benchmark script shares: where the repository is, offline-first model loading, the load average,
best-of timing and where results are written.

A script run as a file (``python benchmarks/run.py``) first puts the repository root on ``sys.path`` so that
``benchmarks.*`` and ``training.*`` import; it then calls :func:`offline_hub_defaults` before anything imports
transformers or huggingface_hub.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")

_OFFLINE_DEFAULTS = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def offline_hub_defaults() -> None:
    """Load only local weights (the packaged models) and keep tokenizers single-threaded, unless the caller's
    environment says otherwise."""
    for name, value in _OFFLINE_DEFAULTS.items():
        os.environ.setdefault(name, value)


def load() -> list[float]:
    """The 1-, 5- and 15-minute load averages, rounded: every timing records them."""
    return [round(x, 2) for x in os.getloadavg()]


def best_of(fn: Callable[[], Any], repeats: int, warm: Callable[[], Any] | None = None) -> float:
    """The fastest of ``repeats`` timed calls of ``fn`` (seconds), after one untimed ``warm()`` call if given."""
    if warm is not None:
        warm()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def write_result(name: str, tag: str, result: Any) -> str:
    """``result`` as JSON in ``benchmarks/results/NAME[-TAG].json``; returns the path."""
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"{name}{'-' + tag if tag else ''}.json")
    with open(path, "w") as fh:
        json.dump(result, fh, indent=2)
    return path


def machine() -> str:
    """The machine in one line (CPU model, logical CPUs, memory, GPU, OS): recorded with every benchmark cell, so
    a page rendered elsewhere still says where each timing was taken."""
    import platform

    import torch

    from contextzip.engine import cpu_info

    model, flags = cpu_info()
    cpu = model or platform.processor() or platform.machine()
    isa = [name for flag, name in (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_vnni", "VNNI"),
                                   ("avx_vnni", "AVX-VNNI")) if flag in flags]
    if isa:
        cpu += f" ({', '.join(isa)})"
    mem = ""
    try:
        mem = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        pass
    device = "CUDA " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU (CPU only)"
    return (f"{cpu}, {os.cpu_count()} logical CPUs{mem}, {device}; {platform.system()} {platform.release()}; "
            f"torch threads {torch.get_num_threads()}")



def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table: the header row, the rule, one line per row (cells as given, ``str()`` of each)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
