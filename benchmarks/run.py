"""Regenerate docs/benchmarks.md and its plots: contextzip, its baselines and peer systems, side by side.

    .venv/bin/python benchmarks/run.py                      # what `make bench` runs
    .venv/bin/python benchmarks/run.py --limit 100 --lm-limit 30 --reader-limit nq=30,hotpotqa=15
    .venv/bin/python benchmarks/run.py --render-only         # rebuild the page from benchmarks/results/

Every (data set, method, rate) cell runs on the first ``--limit`` questions (``--lm-limit`` for methods that run
a language model per question, which are slow on CPU), and the reader (SmolLM2-135M-Instruct by default) answers
the first ``--reader-limit`` of them. Cells are cached as JSON under ``benchmarks/results/`` keyed by their
settings, so a re-run only computes what is missing (``--fresh`` recomputes everything). The page also appends
every ``docs/sections/*.md`` verbatim.

The work is split by idea: ``benchmarks/methods.py`` (the rows), ``benchmarks/cells.py`` (computing and caching a
cell), ``benchmarks/report.py`` (the markdown page) and ``benchmarks/plots.py`` (its figures).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

if __package__ in (None, ""):  # run as a file: make `benchmarks.*` importable from the repository root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import ROOT, offline_hub_defaults  # noqa: E402

offline_hub_defaults()

from benchmarks.cells import read_not_run, run_all  # noqa: E402
from benchmarks.methods import METHOD_NAMES  # noqa: E402
from benchmarks.report import render  # noqa: E402

logger = logging.getLogger("benchmarks")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["hotpotqa", "nq"], choices=["hotpotqa", "nq", "squad", "qmsum"])
    p.add_argument("--rates", nargs="+", type=float, default=[0.5, 0.25, 0.1])
    p.add_argument("--methods", nargs="+", default=list(METHOD_NAMES), choices=METHOD_NAMES)
    p.add_argument("--limit", default="hotpotqa=60,nq=100", help="questions per data set: N or dataset=N,... [hotpotqa=60,nq=100]")
    p.add_argument("--lm-limit", default="hotpotqa=8,nq=20",
                   help="questions for methods that run an LM per question [hotpotqa=8,nq=20]")
    p.add_argument("--reader", default="smollm2", help="none, smollm2 or openai:<model> [smollm2]")
    p.add_argument("--reader-limit", default="hotpotqa=0,nq=20",
                   help="questions the reader answers per row: N or dataset=N,... [hotpotqa=0,nq=20]")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--results-dir", default=os.path.join(ROOT, "benchmarks", "results"))
    p.add_argument("--docs-dir", default=os.path.join(ROOT, "docs"))
    p.add_argument("--fresh", action="store_true", help="ignore cached cells and recompute everything")
    p.add_argument("--render-only", action="store_true", help="only rebuild the page from cached cells")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads [1]: on a shared, loaded CPU one thread measured ~10x faster than two "
                        "for SmolLM2 generation (threads spin-waiting on each other); 0 = torch's default")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.reader == "none":
        args.reader_limit = "0"
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "urllib3", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    not_run = read_not_run(args.results_dir) if args.render_only else run_all(args)
    render(args, not_run)
    logger.info("wrote %s", os.path.join(args.docs_dir, "benchmarks.md"))


if __name__ == "__main__":
    main()
