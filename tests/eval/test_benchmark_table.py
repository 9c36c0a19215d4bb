"""The benchmarks page's table: retention with its bootstrap interval, and the tune / report halves of a cell."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from benchmarks.cells import retention_interval, split_retention  # noqa: E402
from benchmarks.report import table  # noqa: E402


def _cell(retained: list[bool]) -> dict:
    rows = [{"id": f"q{i}", "retained": k, "original_tokens": 100, "compressed_tokens": 25, "target_tokens": 25,
             "violation": False, "latency_ms": 1.0} for i, k in enumerate(retained)]
    return {"method": "query-guided", "rate": 0.25, "n": len(rows), "answer_retention": sum(retained) / len(rows),
            "mean_ratio": 0.25, "mean_original_tokens": 100, "mean_compressed_tokens": 25, "mean_tokens_saved": 75,
            "budget_violations": 0, "under_95_percent_of_budget": 0, "p50_ms": 1.0, "p95_ms": 1.0,
            "tokens_per_second": 1.0, "rows": rows}


def test_split_halves_follow_the_eval_splits() -> None:
    cell = _cell([True] * 300 + [False] * 100)  # NQ: the first 300 questions are the tune half
    assert split_retention(cell, "nq", "tune") == (1.0, 300)
    assert split_retention(cell, "nq", "report") == (0.0, 100)
    alternating = _cell([True, False] * 10)  # other sets: even positions tune, odd report
    assert split_retention(alternating, "hotpotqa", "tune") == (1.0, 10)
    assert split_retention(alternating, "hotpotqa", "report") == (0.0, 10)


def test_table_shows_the_interval_and_the_halves() -> None:
    cell = _cell([True, False] * 50)
    lo, hi = retention_interval(cell)
    assert lo < 0.5 < hi
    line = table([cell], "hotpotqa").splitlines()[2]
    assert f"0.500 [{lo:.3f}, {hi:.3f}]" in line and "1.000 (50) / 0.000 (50)" in line


def test_timings_name_the_machine_they_were_measured_on() -> None:
    from benchmarks.report import environment, machine_label

    old, new = _cell([True] * 4), {**_cell([True] * 4), "machine": "Some CPU (AVX2), 2 logical CPUs"}
    assert machine_label(old) == "" and machine_label(new).startswith("M-")
    lines = table([old, new], "hotpotqa").splitlines()[2:]
    assert f"1 / 1 ({machine_label(new)})" in lines[1] and "(M-" not in lines[0]
    header = "\n".join(environment([old, new]))
    assert f"{machine_label(new)}: Some CPU (AVX2), 2 logical CPUs (1 cells)" in header and "not recorded (1 cells)" in header
