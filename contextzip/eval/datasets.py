"""Evaluation data sets read from ``../shared/data`` (never shipped with the package)."""

from __future__ import annotations

import glob
import json
import os
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from contextzip.types import Document

DATA_DIR_ENV = "CONTEXTZIP_DATA_DIR"


def default_data_dir() -> str:
    """$CONTEXTZIP_DATA_DIR, else ``shared/data`` beside the repository holding this package (never a path
    relative to the current directory)."""
    return os.environ.get(DATA_DIR_ENV) or str(pathlib.Path(__file__).resolve().parents[3] / "shared" / "data")


DATASETS = ("hotpotqa", "nq", "squad", "qmsum")
_FOLDERS = {"hotpotqa": "hotpotqa-distractor", "nq": "nq-open-oracle", "squad": "squad-v1.1", "qmsum": "qmsum"}
SPLITS = ("all", "tune", "report")
NQ_TUNE = 300  # NQ: questions 1-300 tune, 301-1300 report (the defaults were first chosen on the first 300)


@dataclass
class EvalExample:
    """One question with its context documents and gold answers."""

    id: str
    question: str
    documents: list[Document]
    answers: list[str]
    supporting: list[str] = field(default_factory=list)  # ids of documents that must keep text
    skip_answer: bool = False  # e.g. HotpotQA yes/no questions, whose answer is not in the context
    meta: dict[str, Any] = field(default_factory=dict)


def data_folder(name: str, data_dir: str | None = None) -> str:
    if name not in _FOLDERS:
        raise ValueError(f"dataset must be one of {sorted(_FOLDERS)}, but got {name!r}")
    folder = os.path.join(data_dir or default_data_dir(), _FOLDERS[name])
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no data for {name!r}: folder {folder!r} does not exist (see --data-dir)")
    return folder


def _files(folder: str, pattern: str) -> list[str]:
    files = sorted(glob.glob(os.path.join(folder, pattern)))
    if not files:
        raise FileNotFoundError(f"no {pattern} files in {folder!r}")
    return files


def _jsonl(path: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def load_hotpotqa(data_dir: str | None = None) -> list[EvalExample]:
    out = []
    for path in _files(data_folder("hotpotqa", data_dir), "*.jsonl"):
        for rec in _jsonl(path):
            answers = [s for obj in rec.get("answers_objects", []) for s in obj.get("spans", [])]
            docs, supporting = [], []
            for i, ctx in enumerate(rec["contexts"]):
                doc_id = str(ctx.get("id", i))
                docs.append(Document(ctx["paragraph_text"], doc_id, {"title": ctx.get("title", "")}))
                if ctx.get("is_supporting"):
                    supporting.append(doc_id)
            yes_no = all(a.strip().lower() in ("yes", "no") for a in answers)
            out.append(EvalExample(rec["question_id"], rec["question_text"], docs, answers, supporting, yes_no))
    return out


def load_nq(data_dir: str | None = None) -> list[EvalExample]:
    out = []
    for path in _files(data_folder("nq", data_dir), "*.jsonl"):
        for n, rec in enumerate(_jsonl(path)):
            docs = [Document(c["text"], str(i), {"title": c.get("title", "")}) for i, c in enumerate(rec["ctxs"])]
            out.append(EvalExample(f"nq-{n}", rec["question"], docs, list(rec["answers"])))
    return out


def load_squad(data_dir: str | None = None, distractors: int = 9) -> list[EvalExample]:
    """Each question's context: its paragraph plus ``distractors`` other paragraphs of the same article."""
    out = []
    for path in _files(data_folder("squad", data_dir), "*.json"):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)["data"]
        for article in data:
            paragraphs = article["paragraphs"]
            for p_idx, para in enumerate(paragraphs):
                # Deterministic choice: the paragraphs that follow, wrapping around the article.
                others = [(p_idx + k) % len(paragraphs) for k in range(1, len(paragraphs))][:distractors]
                chosen = sorted([p_idx, *others])
                docs = [Document(paragraphs[i]["context"], f"{article['title']}-{i}", {"title": article["title"]})
                        for i in chosen]
                gold = f"{article['title']}-{p_idx}"
                for qa in para["qas"]:
                    answers = [a["text"] for a in qa["answers"]]
                    out.append(EvalExample(qa["id"], qa["question"], docs, answers, [gold]))
    return out


def load_qmsum(data_dir: str | None = None, turns_per_document: int = 20) -> list[EvalExample]:
    """QMSum: every general and specific query of a meeting, with its transcript as context.

    The transcript's turns ("Speaker: words") are grouped ``turns_per_document`` at a time into documents (ids
    ``"0"``, ``"1"``, ...), and a specific query's supporting documents are those its relevant text spans touch.
    Answers are long free-form references, so ``skip_answer`` is set (no exact-answer retention) and
    ``meta["long_answer"]`` asks readers for a few sentences; score them with ROUGE-L and answer-word recall.
    """
    if turns_per_document <= 0:
        raise ValueError(f"turns_per_document must be > 0, but got {turns_per_document}")
    out = []
    for path in _files(data_folder("qmsum", data_dir), "*.jsonl"):
        for m, rec in enumerate(_jsonl(path)):
            turns = [f"{t.get('speaker', '').strip()}: {' '.join(t.get('content', '').split())}"
                     for t in rec["meeting_transcripts"]]
            docs = [Document("\n".join(turns[i:i + turns_per_document]), str(i // turns_per_document))
                    for i in range(0, len(turns), turns_per_document)]
            queries = [("g", q, []) for q in rec.get("general_query_list", [])]
            for q in rec.get("specific_query_list", []):
                touched = set()
                for span in q.get("relevant_text_span", []):
                    lo, hi = int(span[0]), int(span[-1])
                    touched.update(str(i // turns_per_document) for i in range(lo, hi + 1) if i < len(turns))
                queries.append(("s", q, sorted(touched, key=int)))
            for k, (kind, q, supporting) in enumerate(queries):
                out.append(EvalExample(f"qmsum-{m}-{kind}{k}", q["query"], docs, [q["answer"]], supporting,
                                       skip_answer=True, meta={"long_answer": True}))
    return out


LOADERS = {"hotpotqa": load_hotpotqa, "nq": load_nq, "squad": load_squad, "qmsum": load_qmsum}


def split_examples(name: str, examples: list[EvalExample], split: str = "all") -> list[EvalExample]:
    """The ``tune`` or ``report`` half of a data set (``all``: every example), so weights and thresholds are
    chosen on questions that are never reported: NQ tunes on its first 300 questions and reports the rest;
    every other set (HotpotQA: half bridge, half comparison either way) tunes on the examples at even positions
    of the file (0, 2, 4, ...) and reports the odd ones."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, but got {split!r}")
    if split == "all":
        return list(examples)
    if name == "nq":
        return list(examples[:NQ_TUNE] if split == "tune" else examples[NQ_TUNE:])
    return list(examples[0 if split == "tune" else 1::2])


def load_dataset(name: str, data_dir: str | None = None, limit: int | None = None,
                 split: str = "all") -> list[EvalExample]:
    """The examples of ``name`` in ``split`` (see :func:`split_examples`), the first ``limit`` of them."""
    if name not in LOADERS:
        raise ValueError(f"dataset must be one of {sorted(LOADERS)}, but got {name!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, but got {split!r}")
    examples = split_examples(name, LOADERS[name](data_dir), split)
    return examples[:limit] if limit else examples
