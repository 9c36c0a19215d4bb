from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from contextzip.cli import cli
from contextzip.eval.retrieval import beir_folder, evaluate_beir, ir_metrics, load_beir
from contextzip.retrievers import BM25Retriever


def _write_beir(folder):
    (folder / "qrels").mkdir(parents=True)
    docs = [("d1", "Wing flutter", "flutter of a swept wing at high speed"),
            ("d2", "Heat transfer", "heat transfer in a laminar boundary layer"),
            ("d3", "", "buckling of thin cylindrical shells under pressure")]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": i, "title": t, "text": x}) for i, t, x in docs))
    (folder / "queries.jsonl").write_text("\n".join(json.dumps({"_id": q, "text": t}) for q, t in [
        ("1", "wing flutter"), ("2", "boundary layer heat"), ("3", "no judged documents")]))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\td1\t3\n2\td2\t2\n2\td3\t1\n")


def test_load_beir_and_bm25_eval_on_a_tiny_collection(tmp_path):
    _write_beir(tmp_path)
    collection = load_beir(beir_folder("anything", str(tmp_path)))
    assert [d.id for d in collection.corpus] == ["d1", "d2", "d3"]
    assert collection.corpus[0].text.startswith("Wing flutter. flutter")
    assert set(collection.queries) == {"1", "2"}  # queries without judgements are left out
    summary = evaluate_beir(BM25Retriever(), collection)
    assert summary["recall@100"] == 0.5 * (1 + 0.5)  # query 2 never matches "buckling of shells"
    assert 0 < summary["ndcg@10"] < 1 and summary["index_bytes"] > 0 and summary["p50_ms"] > 0


def test_ir_metrics_by_hand():
    qrels = {"q": {"a": 2, "b": 1}}
    assert ir_metrics(qrels, {"q": {"a": 2.0, "b": 1.0}}) == {"ndcg@10": 1.0, "recall@100": 1.0}
    m = ir_metrics(qrels, {"q": {"x": 3.0, "a": 2.0}})
    assert m["recall@100"] == 0.5
    # trec_eval nDCG: linear gains; a (gain 2) at rank 2 over the ideal a, b (gains 2, 1)
    assert m["ndcg@10"] == pytest.approx((2 / 1.5849625) / (2 + 1 / 1.5849625), rel=1e-4)


def test_cli_on_a_tiny_collection_and_errors(tmp_path):
    _write_beir(tmp_path)
    runner = CliRunner()
    out = runner.invoke(cli, ["eval-retrieval", "--data-dir", str(tmp_path), "--retriever", "bm25", "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    assert {"ndcg@10", "recall@100", "index_bytes", "p50_ms"} <= set(summary)
    out = runner.invoke(cli, ["eval-retrieval", "--data-dir", str(tmp_path / "nope"), "--json"])
    assert out.exit_code != 0 and "no BEIR collection" in out.output


@pytest.mark.slow
@pytest.mark.data
def test_cranfield_bm25(data_dir):
    out = CliRunner().invoke(cli, ["eval-retrieval", "--dataset", "cranfield", "--data-dir", str(data_dir),
                                   "--retriever", "bm25", "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    assert summary["documents"] == 1400 and summary["queries"] == 225
    assert summary["ndcg@10"] > 0.3 and summary["recall@100"] > 0.6
