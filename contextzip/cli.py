"""contextzip: compress retrieved context to a token budget, keeping what the question needs.

\b
Quickstart:
  echo "Paris is the capital of France. Bananas are yellow." | contextzip compress - --query "capital of France?" --budget 10
  contextzip compress docs.jsonl --query "..." --rate 0.25 --json
  contextzip eval --dataset hotpotqa --compressor query-guided --rate 0.25
  contextzip models
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from contextzip import __version__

_ENV_PREFIX = "CONTEXTZIP"


def _read_documents(source: str, stream: Any) -> list[Any]:
    from contextzip.types import Document

    data = stream.read()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise click.ClickException(f"{source}: input is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if "\x00" in data:
        raise click.ClickException(f"{source}: input looks binary (it contains NUL bytes); give text or JSONL")
    if source.endswith(".jsonl"):
        docs = []
        for n, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise click.ClickException(f"{source}:{n}: not valid JSON ({exc.msg})") from exc
            if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                raise click.ClickException(f"{source}:{n}: each line needs a string field 'text'")
            doc_id = rec.get("id")
            docs.append(Document(rec["text"], str(doc_id) if doc_id is not None else str(len(docs)),
                                 rec.get("metadata") or {}))
        return docs
    return [Document(data, "0")]


def _budget(budget: int | None, rate: float | None) -> dict[str, Any]:
    if (budget is None) == (rate is None):
        raise click.UsageError("give exactly one of --budget N or --rate R")
    return {"target_tokens": budget} if budget is not None else {"rate": rate}


@click.group(help=__doc__, context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": _ENV_PREFIX})
@click.version_option(__version__, "--version", prog_name="contextzip")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def cli(verbose: int) -> None:
    if verbose:
        logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO, format="%(levelname)s %(name)s: %(message)s")


@cli.command()
@click.argument("file", default="-", type=click.Path(allow_dash=True, dir_okay=False))
@click.option("-q", "--query", help="The question the context should answer.")
@click.option("-b", "--budget", type=int, help="Token budget for the output.")
@click.option("-r", "--rate", type=float, help="Budget as a fraction of the input's tokens, in (0, 1].")
@click.option("-c", "--compressor", default="query-guided", show_default=True, help="Registry name (see `contextzip models`).")
@click.option("--token-counter", default="o200k_base", show_default=True, help="o200k_base, cl100k_base or hf:<model>.")
@click.option("--json", "as_json", is_flag=True, help="Print the full CompressionResult as JSON.")
def compress(file: str, query: str | None, budget: int | None, rate: float | None, compressor: str,
             token_counter: str, as_json: bool) -> None:
    """Compress FILE (plain text, or .jsonl with one {"text", "id", "metadata"} per line; - for stdin)."""
    from contextzip.api import compress as do_compress
    from contextzip.errors import ContextZipError

    kwargs = _budget(budget, rate)
    if file == "-":
        docs = _read_documents("<stdin>", sys.stdin.buffer)
    else:
        with open(file, "rb") as f:
            docs = _read_documents(file, f)
    try:
        result = do_compress(docs, query=query, compressor=compressor, token_counter=token_counter, **kwargs)
    except (ValueError, TypeError, ContextZipError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(result.to_json(indent=2))
    else:
        click.echo(result.text)
        click.echo(
            f"# {result.original_tokens} -> {result.compressed_tokens} tokens "
            f"(budget {result.target_tokens}, ratio {result.ratio:.3f}, {result.compressor})",
            err=True,
        )


@cli.command(name="eval")
@click.option("--dataset", required=True, type=click.Choice(["hotpotqa", "nq", "squad", "qmsum"]))
@click.option("--data-dir", default=None, help="Folder holding the data sets [default: ../shared/data].")
@click.option("-c", "--compressor", default="query-guided", show_default=True)
@click.option("-b", "--budget", type=int, help="Token budget per question.")
@click.option("-r", "--rate", type=float, help="Budget as a fraction of each context's tokens.")
@click.option("--limit", type=int, default=None, help="Only the first K questions.")
@click.option("--split", default="all", show_default=True, type=click.Choice(["all", "tune", "report"]),
              help="tune: HotpotQA's even positions, NQ's first 300, other sets' even positions; report: the "
                   "rest. Choose settings on tune, report report.")
@click.option("--reader", default="none", show_default=True, metavar="{none,smollm2,openai:<model>}",
              help="An LLM that answers from the compressed context (openai:<model> reads OPENAI_BASE_URL and "
                   "OPENAI_API_KEY); adds reader accuracy/F1 (ROUGE-L on qmsum) with closed-book and "
                   "full-context references on the same questions.")
@click.option("--reader-limit", type=int, default=None, help="Ask the reader only the first K questions [default: all].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the default prints it indented).")
@click.option("--progress/--no-progress", default=False, help="Show a progress bar on stderr.")
def eval_command(dataset: str, data_dir: str | None, compressor: str, budget: int | None, rate: float | None,
                 limit: int | None, split: str, reader: str, reader_limit: int | None, as_json: bool,
                 progress: bool) -> None:
    """Measure a compressor on real QA data: answer retention, size, budget violations, latency, and with
    --reader how well an LLM still answers."""
    from contextzip.errors import ContextZipError
    from contextzip.eval.readers import get_reader
    from contextzip.eval.runner import run_eval

    kwargs = _budget(budget, rate)
    if limit is not None and limit <= 0:
        raise click.BadParameter(f"must be > 0, but got {limit}", param_hint="--limit")
    if reader_limit is not None and reader_limit <= 0:
        raise click.BadParameter(f"must be > 0, but got {reader_limit}", param_hint="--reader-limit")
    try:
        reader_obj = get_reader(reader)
    except (ValueError, ImportError) as exc:
        raise click.BadParameter(str(exc), param_hint="--reader") from exc
    try:
        summary, _ = run_eval(dataset, compressor, limit=limit, data_dir=data_dir, show_progress_bar=progress,
                              reader=reader_obj, reader_limit=reader_limit, split=split, **kwargs)
    except (FileNotFoundError, ValueError, ContextZipError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(summary) if as_json else json.dumps(summary, indent=2))


@cli.command(name="eval-retrieval")
@click.option("--dataset", default="cranfield", show_default=True, type=click.Choice(["cranfield", "hotpotqa"]),
              help="cranfield: a BEIR-layout collection (nDCG@10, recall@100, size, latency); hotpotqa: all "
                   "paragraphs of the questions pooled in one index, retrieve -> compress answer retention.")
@click.option("--data-dir", default=None, help="A BEIR-layout folder, or the folder holding the data sets "
                                               "[default: ../shared/data].")
@click.option("--retriever", "retriever_name", default="bm25", show_default=True,
              type=click.Choice(["bm25", "dense", "hybrid", "qdrant"]))
@click.option("--index", "index_type", default="flat", show_default=True,
              type=click.Choice(["flat", "hnsw", "ivfpq", "int8", "binary"]), help="FAISS index of dense/hybrid.")
@click.option("-b", "--budget", type=int, default=300, show_default=True, help="Token budget per question (hotpotqa).")
@click.option("-k", "--k", "k", type=click.IntRange(min=1), default=10, show_default=True,
              help="Paragraphs retrieved per question (hotpotqa).")
@click.option("-c", "--compressor", default="query-guided", show_default=True, help="Compressor (hotpotqa).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first K queries.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the default prints it indented).")
def eval_retrieval(dataset: str, data_dir: str | None, retriever_name: str, index_type: str, budget: int, k: int,
                   compressor: str, limit: int | None, as_json: bool) -> None:
    """Measure a retriever: nDCG@10, recall@100, index bytes and latency on a BEIR collection, or retrieve ->
    compress answer retention on pooled HotpotQA."""
    from contextzip.errors import ContextZipError
    from contextzip.eval.retrieval import run_pooled_eval, run_retrieval_eval

    try:
        if dataset == "hotpotqa":
            summary = run_pooled_eval(retriever_name, index_type, compressor=compressor, target_tokens=budget, k=k,
                                      data_dir=data_dir, limit=limit)
        else:
            summary = run_retrieval_eval(dataset, retriever_name, index_type, data_dir=data_dir, limit=limit)
    except (FileNotFoundError, ValueError, ContextZipError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(summary) if as_json else json.dumps(summary, indent=2))


@cli.command()
def models() -> None:
    """List registered models (and whether each is available offline) and compressors."""
    from contextzip.model_registry import MODELS, model_available
    from contextzip.registry import compressor_names

    click.echo("Models:")
    for name, spec in sorted(MODELS.items()):
        status = "available offline" if model_available(name) else f"not installed ({spec.how_to_get})"
        click.echo(f"  {name:<16} {spec.kind:<20} {status}\n  {'':<16} {spec.description}")
    click.echo("Compressors:")
    for name in compressor_names():
        click.echo(f"  {name}")


@cli.command()
@click.option("--upstream", required=True, help="OpenAI-compatible base URL, e.g. https://api.openai.com/v1.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("-b", "--budget", type=int, help="Default context budget in tokens (requests may override).")
@click.option("-r", "--rate", type=float, help="Default context budget as a fraction of the context's tokens.")
@click.option("-c", "--compressor", default="query-guided", show_default=True, help="Default compressor.")
@click.option("--token-counter", default=None, help="o200k_base (default), cl100k_base or hf:<model>.")
@click.option("--max-request-bytes", default=4 * 1024 * 1024, show_default=True, type=click.IntRange(min=1))
@click.option("--upstream-timeout", default=120.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Seconds to wait for the upstream.")
def serve(upstream: str, host: str, port: int, budget: int | None, rate: float | None, compressor: str,
          token_counter: str | None, max_request_bytes: int, upstream_timeout: float) -> None:
    """Run a compressing OpenAI-compatible proxy in front of UPSTREAM.

    The upstream API key is read from $CONTEXTZIP_UPSTREAM_API_KEY; set $CONTEXTZIP_PROXY_TOKEN to require
    clients to send it as a bearer token. See examples/proxy.md.
    """
    from contextzip.errors import ContextZipError

    if budget is not None and rate is not None:
        raise click.UsageError("give at most one of --budget N or --rate R")
    try:
        from contextzip.integrations.server import ServerConfig
        from contextzip.integrations.server import serve as run_server

        config = ServerConfig(upstream=upstream, target_tokens=budget, rate=rate, compressor=compressor,
                              token_counter=token_counter, max_request_bytes=max_request_bytes,
                              upstream_timeout=upstream_timeout)
        run_server(config, host=host, port=port)
    except (ValueError, TypeError, ContextZipError) as exc:
        raise click.ClickException(str(exc)) from exc


def main() -> None:
    cli(prog_name="contextzip")


if __name__ == "__main__":
    main()
