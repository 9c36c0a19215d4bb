"""Every command-line error is one line in the command line's terms, exit code 2 for usage errors and 1 for
runtime errors; .json and .jsonl inputs; `models --json`; environment-variable fallbacks; the data folder."""

from __future__ import annotations

import json
import os
import pathlib

import pytest
from click.testing import CliRunner

from contextzip.cli import cli, default_data_dir

TEXT = "Marta Lindqvist kept the light for 31 years. The light was automated in 1987. Bananas are yellow."


def run(args, input=TEXT, env=None):
    result = CliRunner().invoke(cli, args, input=input, env=env)
    return result.exit_code, result.output


ERRORS = [
    # (arguments, exit code, what the one line says)
    (["compress", "missing.txt", "--budget", "5"], 2, "'missing.txt' does not exist"),
    (["compress", "-"], 2, "give exactly one of --budget N or --rate R"),
    (["compress", "-", "--budget", "10", "--rate", "0.5"], 2, "give exactly one of --budget N or --rate R"),
    (["compress", "-", "--budget", "0"], 2, "--budget must be > 0, but got 0"),
    (["compress", "-", "--budget", "-3"], 2, "--budget must be > 0, but got -3"),
    (["compress", "-", "--budget", "abc"], 2, "'abc' is not a valid integer"),
    (["compress", "-", "--rate", "1.5"], 2, "--rate must be in (0, 1], but got 1.5"),
    (["compress", "-", "--rate", "0"], 2, "--rate must be in (0, 1], but got 0.0"),
    (["compress", "-", "--budget", "5", "-c", "nope"], 2, "--compressor must be one of"),
    (["compress", "-", "--budget", "5", "--bogus"], 2, "No such option '--bogus'"),
    (["frobnicate"], 2, "No such command 'frobnicate'"),
    (["eval", "--dataset", "nq", "--budget", "5", "--limit", "0"], 2, "--limit: must be > 0, but got 0"),
    (["eval", "--dataset", "nope", "--budget", "5"], 2, "'nope' is not one of"),
    (["eval", "--dataset", "nq", "--rate", "2"], 2, "--rate must be in (0, 1], but got 2.0"),
    (["eval", "--dataset", "nq", "--budget", "5", "-c", "nope"], 2, "--compressor must be one of"),
    (["eval", "--dataset", "nq", "--budget", "5", "--reader", "nope"], 2, "--reader"),
    (["eval", "--dataset", "hotpotqa", "--budget", "5", "--data-dir", "/nonexistent"], 1, "no data for 'hotpotqa'"),
    (["models", "--bogus"], 2, "No such option '--bogus'"),
    (["compress", "-", "--budget", "5", "--price-model", "nope"], 2, "--price-model: no price for model 'nope'"),
    (["compress", "-", "--budget", "5", "-c", "truncate", "-o", "novalue"], 2, "expected KEY=VALUE"),
    (["compress", "-", "--budget", "5", "-c", "truncate", "-o", "nosuch=1"], 2, "-o: "),
]


@pytest.mark.parametrize(("args", "code", "message"), ERRORS, ids=[" ".join(e[0]) for e in ERRORS])
def test_errors_are_one_line_with_their_exit_code(args, code, message):
    exit_code, output = run(args)
    assert exit_code == code, output
    assert output.startswith("Error: ") and output.count("\n") == 1, output
    assert message in output
    assert "target_tokens" not in output and "Traceback" not in output


def test_runtime_errors_in_the_input_exit_1(tmp_path):
    assert run(["compress", "-", "--budget", "5", "-c", "truncate"], input=b"\x00\x01\xff\xfe")[0] == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\nnot json\n', encoding="utf-8")
    code, output = run(["compress", str(bad), "--budget", "5", "-c", "truncate"])
    assert code == 1 and "bad.jsonl:2: not valid JSON" in output and output.count("\n") == 1
    for content, message in (('{"text": "a"}', "must hold a list of documents"), ("[1, 2]", "document 0 needs"),
                             ("[", "not valid JSON")):
        path = tmp_path / "bad.json"
        path.write_text(content, encoding="utf-8")
        code, output = run(["compress", str(path), "--budget", "5", "-c", "truncate"])
        assert code == 1 and message in output and output.count("\n") == 1, output
    code, output = run(["compress", str(tmp_path), "--budget", "5"])
    assert code == 2 and "is a directory" in output


def test_json_list_of_documents_is_read(tmp_path):
    path = tmp_path / "docs.json"
    path.write_text(json.dumps([{"id": "a", "text": "Marta kept the light for 31 years."}, "Bananas are yellow."]),
                    encoding="utf-8")
    code, output = run(["compress", str(path), "--rate", "1", "-c", "truncate", "--json"])
    assert code == 0, output
    assert [d["id"] for d in json.loads(output)["documents"]] == ["a", "1"]
    text = tmp_path / "notes.md"
    text.write_text('[{"id": "a", "text": "not parsed"}]', encoding="utf-8")
    code, output = run(["compress", str(text), "--rate", "1", "-c", "truncate", "--json"])
    assert code == 0 and [d["id"] for d in json.loads(output)["documents"]] == ["0"]  # anything else is text


def test_models_json_lists_descriptions_sizes_licences_availability():
    code, output = run(["models", "--json"])
    assert code == 0, output
    data = json.loads(output)
    minilm = next(m for m in data["models"] if m["name"] == "minilm")
    assert minilm["description"] and minilm["license"] and minilm["kind"] == "sentence-embedding"
    assert minilm["available"] is True and minilm["size_bytes"] > 1_000_000
    for model in data["models"]:
        assert set(model) >= {"name", "kind", "description", "license", "available", "size_bytes", "how_to_get"}
        assert model["available"] == (model["size_bytes"] is not None)
    assert {"name": "truncate"}.items() <= next(c for c in data["compressors"] if c["name"] == "truncate").items()
    assert all(c["description"] for c in data["compressors"])


def test_options_fall_back_to_environment_variables_shown_in_help():
    code, output = run(["compress", "-", "-c", "truncate", "--json"], env={"CONTEXTZIP_COMPRESS_BUDGET": "7"})
    assert code == 0 and json.loads(output)["target_tokens"] == 7
    code, output = run(["compress", "-h"])
    assert "CONTEXTZIP_COMPRESS_BUDGET" in output
    code, output = run(["eval", "-h"])
    output = " ".join(output.split())
    assert "CONTEXTZIP_DATA_DIR" in output and "beside the repository" in output


def test_data_dir_comes_from_the_environment_or_the_repository(monkeypatch, tmp_path):
    monkeypatch.delenv("CONTEXTZIP_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # never relative to the current directory
    repo = pathlib.Path(__file__).resolve().parents[1]
    assert pathlib.Path(default_data_dir()) == repo.parent / "shared" / "data"
    monkeypatch.setenv("CONTEXTZIP_DATA_DIR", str(tmp_path))
    assert default_data_dir() == str(tmp_path)
    code, output = run(["eval", "--dataset", "nq", "--budget", "5"], env={"CONTEXTZIP_DATA_DIR": str(tmp_path)})
    assert code == 1 and str(tmp_path) in output
    assert os.getcwd() == str(tmp_path)


def test_compress_options_reach_the_compressor(tmp_path):
    """``-o KEY=VALUE`` on ``compress`` is a constructor argument, as on ``eval``."""
    docs = tmp_path / "docs.json"
    docs.write_text('["Marta Lindqvist kept the light.", "The light was automated in 1987."]', encoding="utf-8")
    plain = run(["compress", str(docs), "--budget", "50", "-c", "truncate"])
    joined = run(["compress", str(docs), "--budget", "50", "-c", "truncate", "-o", "separator= || "])
    assert plain[0] == joined[0] == 0, (plain, joined)
    assert " || " not in plain[1] and "Marta Lindqvist kept the light. || The light was automated" in joined[1]


def test_price_model_estimates_the_saving():
    code, output = run(["compress", "-", "--budget", "8", "-c", "truncate", "--price-model", "gpt-4o-mini"])
    assert code == 0 and "gpt-4o-mini: about $" in output and "per million requests" in output


def test_serve_onnx_builds_query_guided_on_the_onnx_embedder(monkeypatch):
    import contextzip.integrations.server as server
    from contextzip.onnx_embedder import OnnxSentenceEmbedder

    seen = {}
    monkeypatch.setattr(server, "serve", lambda config, **kwargs: seen.update(config=config, **kwargs))
    code, out = run(["serve", "--upstream", "http://127.0.0.1:9/v1", "--budget", "300", "--onnx", "--port", "0"])
    assert code == 0, out
    comp = seen["config"].compressor
    assert comp.name == "query-guided" and isinstance(comp.embedder, OnnxSentenceEmbedder)
    code, out = run(["serve", "--upstream", "http://127.0.0.1:9/v1", "--onnx", "-c", "truncate"])
    assert code == 2 and "--onnx is for the query-guided compressor, not 'truncate'" in out
