"""The package's structure: no import cycles, no calls of another object's protected members, small modules."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "contextzip"
MODULES = sorted(
    ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
    for p in PACKAGE.rglob("*.py") if p.name != "__main__.py"  # __main__ runs the CLI
)
# Optional integrations import their framework at module level by design (behind an extra).
_NEEDS_EXTRA = ("contextzip.integrations.server.app",)


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    """Importing any module first (so in any order) works: an import cycle fails here."""
    code = (
        "import importlib, sys\n"
        "failed = []\n"
        f"for name in {MODULES!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'contextzip' or m.startswith('contextzip.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as exc:\n"
        f"        if name not in {_NEEDS_EXTRA!r} or 'contextzip' in str(exc):\n"
        "            failed.append(f'{name}: {exc!r}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]


def _imports(path: pathlib.Path, top_level_only: bool) -> set[str]:
    """contextzip modules that ``path`` imports (at module level only, or anywhere), TYPE_CHECKING blocks aside."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            if isinstance(child, ast.Import) and (top or not top_level_only):
                found.update(a.name for a in child.names if a.name.startswith("contextzip"))
            elif isinstance(child, ast.ImportFrom) and child.module and child.module.startswith("contextzip") \
                    and (top or not top_level_only):
                found.add(child.module)
            visit(child, inner)

    visit(tree, True)
    return found


def _module(path: pathlib.Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def test_no_module_level_import_cycle() -> None:
    graph = {_module(p): _imports(p, top_level_only=True) for p in PACKAGE.rglob("*.py")}
    state: dict[str, int] = {}

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                walk(nxt, stack + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])


# Below the compressors: the model layer, the stages and the compressors themselves never import the compressor
# registry (which knows every compressor); only the API, the CLI, evaluation and integrations do.
_BELOW = ("tokens", "model_registry", "engine", "models", "budget", "render", "lexicon", "relevance", "segment",
          "scorers", "types", "stats", "errors", "causal_lm", "compressors")


def test_nothing_below_the_compressors_imports_the_compressor_registry() -> None:
    offenders = [str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*.py")
                 if p.relative_to(PACKAGE).parts[0].removesuffix(".py") in _BELOW
                 and "contextzip.registry" in _imports(p, top_level_only=False)]
    assert not offenders, offenders


_PROTECTED_CALL = re.compile(r"\b(?!self\b|cls\b|super\(\)|_)([A-Za-z][\w]*(?:\.[A-Za-z]\w*)*)\._(?!_)\w+\(")
# torch has no public probe for native bf16 kernels on the CPU (see contextzip.engine.resolve_dtype).
_ALLOWED = ("torch.ops.mkldnn._is_mkldnn_bf16_supported(",)


def test_no_cross_module_protected_member_calls() -> None:
    """``other._something(`` across objects is a reach into internals; only ``self``/``cls``/``super()`` may."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            for m in _PROTECTED_CALL.finditer(code):
                if m.group(0) in _ALLOWED:
                    continue
                found.append(f"{path.relative_to(PACKAGE.parent)}:{n}: {m.group(0)}")
    assert not found, "\n".join(found)


def test_modules_stay_small() -> None:
    """No module over ~400 lines without a reason written at its top ("Why this module is long")."""
    long = [f"{p.relative_to(PACKAGE.parent)}: {n}" for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 420
            and "Why this module is long" not in p.read_text(encoding="utf-8")[:3000]]
    assert not long, long
