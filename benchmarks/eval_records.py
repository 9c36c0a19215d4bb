"""One `contextzip eval` run that also saves per-question outcomes and output hashes, so two commits can be
compared question by question (which answers were lost or won, how many outputs are identical).

    python benchmarks/eval_records.py TAG DATASET COMPRESSOR RATE [LIMIT]   # writes benchmarks/results/records/
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import ROOT, offline_hub_defaults  # noqa: E402


def main() -> None:
    offline_hub_defaults()
    from contextzip.eval.metrics import contains_answer
    from contextzip.eval.runner import run_eval

    tag, dataset, compressor, rate = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    limit = int(sys.argv[5]) if len(sys.argv) > 5 else None
    summary, records = run_eval(dataset, compressor, rate=rate, limit=limit)
    rows = [{"q": r.example.question,
             "kept": contains_answer(r.result.text, r.example.answers) if r.example.answers else None,
             "h": hashlib.md5(r.result.text.encode("utf-8", "surrogatepass")).hexdigest(),
             "n": r.result.compressed_tokens} for r in records]
    folder = os.path.join(ROOT, "benchmarks", "results", "records")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{tag}-{dataset}-{compressor}-{rate}-{limit}.json"), "w") as f:
        json.dump({"summary": summary, "rows": rows}, f)
    print(tag, dataset, compressor, rate, limit, {k: summary.get(k) for k in (
        "answer_retention", "budget_violations", "supporting_retention", "p50_ms", "under_95_percent_of_budget")})


if __name__ == "__main__":
    main()
