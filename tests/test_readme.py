"""README.md runs as pasted: every ```python block, in order in one Python session, and every command of its
"Command line" section on the shipped examples/ corpus (an ``eval`` command with ``--limit 2``, skipped without
the data). A block whose first line is ``# readme-test: skip (<reason>)`` (network, gpu) is not run."""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
SKIP = "# readme-test: skip"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
       "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def blocks(text: str, language: str) -> list[tuple[int, str]]:
    """(line number, code) of each fenced block in ``language``."""
    return [(text[: m.start()].count("\n") + 1, m.group(2)) for m in FENCE.finditer(text) if m.group(1) == language]


def section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    end = text.find("\n#", start + len(heading) + 2)
    return text[start: end if end != -1 else len(text)]


RUNNER = """
import sys, traceback
blocks = {blocks!r}
namespace = {{"__name__": "__readme__"}}
for line, code in blocks:
    try:
        exec(compile(code, f"README.md:{{line}}", "exec"), namespace)
    except Exception:
        traceback.print_exc()
        sys.exit(f"README.md block at line {{line}} failed")
"""


@pytest.mark.slow
def test_python_blocks_run_in_order_as_pasted(tmp_path):
    runnable = [(line, code) for line, code in blocks(README, "python") if not code.startswith(SKIP)]
    assert len(runnable) >= 4
    proc = subprocess.run([sys.executable, "-c", RUNNER.format(blocks=runnable)], capture_output=True, text=True,
                          timeout=600, env=ENV, cwd=tmp_path)  # not the repository: blocks must not rely on it
    assert proc.returncode == 0, proc.stderr[-3000:]


def cli_commands() -> list[str]:
    commands = []
    for _, code in blocks(section(README, "### Command line"), "bash"):
        for line in code.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line.startswith(("contextzip ", "echo ")):
                commands.append(line)
    return commands


def test_cli_section_is_found():
    commands = cli_commands()
    assert any(c.startswith("contextzip models") for c in commands) and len(commands) >= 5


@pytest.mark.slow
@pytest.mark.parametrize("command", cli_commands())
def test_cli_section_commands_run_on_the_example_corpus(command, request):
    if " eval " in f" {command} ":
        request.getfixturevalue("data_dir")  # skips without the data
        command += " --limit 2"
    for path in re.findall(r"examples/\S+", command):
        assert (REPO / path).is_file(), f"{path} is not shipped"
    proc = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=600, env=ENV, cwd=REPO)
    assert proc.returncode == 0, f"{command}\n{proc.stderr[-2000:]}"
    assert proc.stdout.strip()
    assert shlex.split(command)[0] in ("contextzip", "echo")
