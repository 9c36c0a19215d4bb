"""contextzip: compress retrieved context to a token budget, keeping what the question needs.

\b
Quickstart:
  echo "Paris is the capital of France. Bananas are yellow." | contextzip compress - --query "capital of France?" --budget 10
  contextzip compress docs.jsonl --query "..." --rate 0.25 --json
  contextzip eval --dataset hotpotqa --compressor query-guided --rate 0.25
  contextzip models

\b
Every option also reads an environment variable, CONTEXTZIP_<COMMAND>_<OPTION> (for example
CONTEXTZIP_COMPRESS_BUDGET=300), shown in each command's -h. Errors are one line: exit code 2 for a usage
error (a bad option or file), 1 for a failure while running.
"""
# Why this module is long: it is the one click group and its five commands (compress, eval, eval-retrieval,
# models and serve), each a block of option declarations and a thin call into the library; they
# share the error handling and the option helpers (_budget, _compressor_name, _read_documents) kept here.

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

import click

from contextzip import __version__
from contextzip.eval.datasets import DATA_DIR_ENV, default_data_dir

_ENV_PREFIX = "CONTEXTZIP"


class _Cli(click.Group):
    """The group that prints every error as one line (exit code 2 for usage errors, 1 for runtime errors)."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            hint = ""
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                hint = f" (see '{exc.ctx.command_path} -h')"
            click.echo(f"Error: {' '.join(_cli_terms(exc.format_message()).split())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _cli_terms(message: str) -> str:
    """A library message in the command line's terms (``target_tokens`` -> ``--budget``)."""
    for name, option in (("target_tokens", "--budget"), ("token_counter", "--token-counter")):
        message = message.replace(name, option)
    return message


def _compressor_name(name: str) -> str:
    from contextzip.registry import compressor_names

    names = compressor_names()
    if name not in names:
        raise click.UsageError(f"--compressor must be one of {names}, but got {name!r}")
    return name


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
    if source.endswith(".json"):
        try:
            records = json.loads(data)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{source}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
        if not isinstance(records, list):
            raise click.ClickException(f"{source}: a .json file must hold a list of documents (strings or "
                                       f"{{\"text\", \"id\", \"metadata\"}} objects)")
        docs = []
        for n, rec in enumerate(records):
            rec = {"text": rec} if isinstance(rec, str) else rec
            if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                raise click.ClickException(f"{source}: document {n} needs a string field 'text'")
            doc_id = rec.get("id")
            docs.append(Document(rec["text"], str(doc_id) if doc_id is not None else str(n), rec.get("metadata") or {}))
        return docs
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
    if budget is not None and budget <= 0:
        raise click.UsageError(f"--budget must be > 0, but got {budget}")
    if rate is not None and not 0 < rate <= 1:
        raise click.UsageError(f"--rate must be in (0, 1], but got {rate}")
    return {"target_tokens": budget} if budget is not None else {"rate": rate}


@click.group(cls=_Cli, help=__doc__, context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": _ENV_PREFIX})
@click.version_option(__version__, "--version", prog_name="contextzip")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def cli(verbose: int) -> None:
    if verbose:
        logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO, format="%(levelname)s %(name)s: %(message)s")


@cli.command()
@click.argument("file", default="-", type=click.Path(exists=True, allow_dash=True, dir_okay=False))
@click.option("-q", "--query", help="The question the context should answer.")
@click.option("-b", "--budget", type=int, help="Token budget for the output.")
@click.option("-r", "--rate", type=float, help="Budget as a fraction of the input's tokens, in (0, 1].")
@click.option("-c", "--compressor", default="query-guided", show_default=True, help="Registry name (see `contextzip models`).")
@click.option("--token-counter", default="o200k_base", show_default=True, help="o200k_base, cl100k_base or hf:<model>.")
@click.option("--json", "as_json", is_flag=True, help="Print the full CompressionResult as JSON.")
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE", help="A compressor constructor "
              "argument (VALUE read as JSON when it parses, else a string), e.g. -o windows=phrases; repeatable.")
@click.option("--price-model", metavar="MODEL", help="Also estimate what the saved tokens are worth at MODEL's input "
              "price (contextzip.pricing; e.g. gpt-4o-mini), per request and per million requests.")
def compress(file: str, query: str | None, budget: int | None, rate: float | None, compressor: str,
             token_counter: str, as_json: bool, options: tuple[str, ...], price_model: str | None) -> None:
    """Compress FILE: .jsonl (one {"text", "id", "metadata"} per line), .json (a list of such documents or of
    strings), anything else as one text document; - (the default) reads stdin as text."""
    from contextzip.api import compress as do_compress
    from contextzip.errors import ContextZipError

    kwargs = _budget(budget, rate)
    _compressor_name(compressor)
    chosen: Any = compressor
    if options:
        from contextzip.eval.runner import parse_options
        from contextzip.registry import load_compressor

        try:
            settings = parse_options(options)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
        try:
            chosen = load_compressor(compressor, token_counter=token_counter, **settings)
        except (ValueError, TypeError) as exc:
            raise click.UsageError(f"-o: {exc}") from exc
    if price_model is not None:
        from contextzip.pricing import price_of

        try:
            price_of(price_model)
        except ValueError as exc:
            raise click.UsageError(f"--price-model: {exc}") from exc
    if file == "-":
        if sys.stdin is None or sys.stdin.closed:
            raise click.ClickException("stdin is closed: give FILE, or pipe the text in")
        try:
            docs = _read_documents("<stdin>", sys.stdin.buffer)
        except OSError as exc:
            raise click.ClickException(f"cannot read stdin: {exc.strerror or exc}") from exc
    else:
        try:
            with open(file, "rb") as f:
                docs = _read_documents(file, f)
        except OSError as exc:
            raise click.ClickException(f"cannot read {file}: {exc.strerror}") from exc
    try:
        result = do_compress(docs, query=query, compressor=chosen, token_counter=token_counter, **kwargs)
    except (ValueError, TypeError, ContextZipError) as exc:
        raise click.ClickException(str(exc)) from exc
    _write_result(result.to_json(indent=2) if as_json else result.text)
    if not as_json:
        click.echo(
            f"# {result.original_tokens} -> {result.compressed_tokens} tokens "
            f"(budget {result.target_tokens}, ratio {result.ratio:.3f}, {result.compressor})",
            err=True,
        )
    if price_model is not None:
        from contextzip.pricing import estimate_saving

        saving = estimate_saving(result.tokens_saved, price_model, requests=1_000_000)
        click.echo(f"# {price_model}: about ${saving.usd / 1e6:.6f} saved per request, ${saving.usd:,.2f} per million "
                   f"requests (input price ${saving.usd_per_million}/1M tokens as of {saving.prices_as_of})", err=True)


def _write_result(text: str) -> None:
    """``text`` to stdout, or a clear error when it cannot be written (never a silent loss)."""
    if sys.stdout is None or sys.stdout.closed:
        raise click.ClickException("stdout is closed: the result could not be written")
    try:
        click.echo(text)
        sys.stdout.flush()
    except OSError as exc:
        raise click.ClickException(f"cannot write the result to stdout: {exc.strerror or exc}") from exc


@cli.command(name="eval")
@click.option("--dataset", required=True, type=click.Choice(["hotpotqa", "nq", "squad", "qmsum"]))
@click.option("--data-dir", default=default_data_dir, envvar=DATA_DIR_ENV, show_default="$CONTEXTZIP_DATA_DIR, "
              "else shared/data beside the repository", help="Folder holding the data sets.")
@click.option("-c", "--compressor", default="query-guided", show_default=True)
@click.option("-b", "--budget", type=int, help="Token budget per question (decoder positions for gist).")
@click.option("-r", "--rate", type=float, help="Budget as a fraction of each context's tokens.")
@click.option("--limit", type=int, default=None, help="Only the first K questions.")
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="A compressor constructor argument (VALUE read as JSON when it parses, else a string), e.g. "
                   "-o rerank=contextzip-relevance -o min_relevance=0.2; repeatable.")
@click.option("--split", default="all", show_default=True, type=click.Choice(["all", "tune", "report"]),
              help="tune: HotpotQA's even positions, NQ's first 300, other sets' even positions; report: the "
                   "rest. Choose settings on tune, report report.")
@click.option("--reader", default="none", show_default=True, metavar="{none,smollm2,openai:<model>}",
              help="An LLM that answers from the compressed context (openai:<model> reads OPENAI_BASE_URL and "
                   "OPENAI_API_KEY); adds reader accuracy/F1 (ROUGE-L on qmsum) with closed-book and "
                   "full-context references on the same questions; smollm2 adds the gold answer's mean NLL "
                   "(answer_nll, closed_book_answer_nll, full_context_answer_nll) and reads gists.")
@click.option("--reader-limit", type=int, default=None, help="Ask the reader only the first K questions [default: all].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the default prints it indented).")
@click.option("--progress/--no-progress", default=None,
              help="A progress bar on stderr [default: when stderr is a terminal].")
def eval_command(dataset: str, data_dir: str | None, compressor: str, budget: int | None, rate: float | None,
                 limit: int | None, options: tuple[str, ...], split: str, reader: str, reader_limit: int | None,
                 as_json: bool, progress: bool | None) -> None:
    """Measure a compressor on real QA data: answer retention, size, budget violations, latency, and with
    --reader how well an LLM still answers."""
    from contextzip.errors import ContextZipError
    from contextzip.eval.readers import get_reader
    from contextzip.eval.runner import parse_options, run_eval

    kwargs = _budget(budget, rate)
    _compressor_name(compressor)
    if progress is None:
        progress = sys.stderr.isatty()
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
                              reader=reader_obj, reader_limit=reader_limit, split=split,
                              compressor_kwargs=parse_options(options), **kwargs)
    except (FileNotFoundError, ValueError, TypeError, ContextZipError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(summary) if as_json else json.dumps(summary, indent=2))


@cli.command(name="eval-retrieval")
@click.option("--dataset", default="cranfield", show_default=True, type=click.Choice(["cranfield", "hotpotqa"]),
              help="cranfield: a BEIR-layout collection (nDCG@10, recall@100, size, latency); hotpotqa: all "
                   "paragraphs of the questions pooled in one index, retrieve -> compress answer retention.")
@click.option("--data-dir", default=default_data_dir, envvar=DATA_DIR_ENV, show_default="$CONTEXTZIP_DATA_DIR, "
              "else shared/data beside the repository", help="A BEIR-layout folder, or the folder holding the data "
                                                             "sets.")
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


def _size_bytes(path: str | None) -> int | None:
    if path is None or not os.path.exists(path):
        return None
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def _model_rows() -> list[dict[str, Any]]:
    from contextzip.model_registry import MODELS

    rows = []
    for name, spec in sorted(MODELS.items()):
        try:
            path = spec.locate()
        except Exception:  # a broken install counts as not available
            path = None
        rows.append({"name": name, "kind": spec.kind, "description": spec.description, "license": spec.license or None,
                     "available": path is not None, "size_bytes": _size_bytes(path), "path": path,
                     "how_to_get": spec.how_to_get})
    return rows


def _compressor_rows() -> list[dict[str, Any]]:
    from contextzip.registry import compressor_names, get_compressor_class

    rows = []
    for name in compressor_names():
        try:
            doc = (get_compressor_class(name).__doc__ or "").strip().splitlines()
        except Exception as exc:  # a plugin that fails to import is listed with why
            doc = [f"(cannot load: {exc})"]
        rows.append({"name": name, "description": doc[0] if doc else ""})
    return rows


@cli.command()
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object: models (name, kind, description, license, available, size_bytes, path, "
                   "how_to_get) and compressors (name, description).")
def models(as_json: bool) -> None:
    """List registered models (description, licence, size, whether each is available offline) and compressors."""
    model_rows, compressor_rows = _model_rows(), _compressor_rows()
    if as_json:
        click.echo(json.dumps({"models": model_rows, "compressors": compressor_rows}, indent=2))
        return
    click.echo("Models:")
    for row in model_rows:
        size = f"{row['size_bytes'] / 1e6:.0f} MB" if row["size_bytes"] is not None else "-"
        status = "available offline" if row["available"] else f"not installed ({row['how_to_get']})"
        click.echo(f"  {row['name']:<22} {row['kind']:<20} {size:>7}  {row['license'] or '-':<12} {status}\n"
                   f"  {'':<22} {row['description']}")
    click.echo("Compressors:")
    for row in compressor_rows:
        click.echo(f"  {row['name']:<24} {row['description']}")


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
@click.option("--max-request-tokens", default=500_000, show_default=True, type=click.IntRange(min=1),
              help="Contexts with more tokens get 413, before compression.")
@click.option("--max-queue", default=256, show_default=True, type=click.IntRange(min=1),
              help="Requests waiting for compression at most; beyond, 429 with Retry-After.")
@click.option("--compression-timeout", default=30.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Seconds a request may spend queued and compressed; beyond, 503 with Retry-After.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug", "trace"]),
              help="The server's log level (uvicorn's access and error logs).")
@click.option("--onnx", is_flag=True, help="query-guided on the int8 ONNX MiniLM ([onnx]): ~2x the requests/s "
              "on CPU; a text's scores then depend slightly on the requests it shares a pass with.")
def serve(upstream: str, host: str, port: int, budget: int | None, rate: float | None, compressor: str,
          token_counter: str | None, max_request_bytes: int, upstream_timeout: float, max_request_tokens: int,
          max_queue: int, compression_timeout: float, log_level: str, onnx: bool) -> None:
    """Run a compressing OpenAI-compatible proxy in front of UPSTREAM.

    The upstream API key is read from $CONTEXTZIP_UPSTREAM_API_KEY; set $CONTEXTZIP_PROXY_TOKEN to require
    clients to send it as a bearer token. See examples/proxy.md.
    """
    from contextzip.errors import ContextZipError

    if budget is not None and rate is not None:
        raise click.UsageError("give at most one of --budget N or --rate R")
    if onnx and compressor != "query-guided":
        raise click.UsageError(f"--onnx is for the query-guided compressor, not {compressor!r}")
    try:
        from contextzip.integrations.server import ServerConfig
        from contextzip.integrations.server import serve as run_server

        if onnx:
            from contextzip.compressors.query_guided import QueryGuidedCompressor
            from contextzip.onnx_embedder import OnnxSentenceEmbedder

            compressor = QueryGuidedCompressor(embedder=OnnxSentenceEmbedder(), token_counter=token_counter)
        config = ServerConfig(upstream=upstream, target_tokens=budget, rate=rate, compressor=compressor,
                              token_counter=token_counter, max_request_bytes=max_request_bytes,
                              upstream_timeout=upstream_timeout, max_request_tokens=max_request_tokens,
                              max_queue=max_queue, compression_timeout=compression_timeout)
        run_server(config, host=host, port=port, log_level=log_level)
    except (ValueError, TypeError, ContextZipError) as exc:
        raise click.ClickException(str(exc)) from exc


for _command in cli.commands.values():
    for _param in _command.params:
        if isinstance(_param, click.Option) and _param.name not in ("help", "version"):
            _param.show_envvar = True


def main() -> None:
    cli(prog_name="contextzip")


if __name__ == "__main__":
    main()
