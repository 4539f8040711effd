"""Run a documentation page's marked code blocks, in order, as one shell session.

A block runs when the line before its fence is a marker comment, invisible in the rendered page:

- ``<!-- run -->``: run it (``bash`` as shell lines, ``python`` through ``python -``); variables,
  the working directory and files carry over to the next block, as in a reader's terminal;
- ``<!-- run: background -->``: start it in the background (what the reader starts in a second
  terminal or on another host), wait until ``/health/live`` answers if it is ``energy-forecast
  serve``, stop it when the page ends;
- ``<!-- skip: <why> -->``: shown, not run, and the reason is required.

Every ``bash``/``python`` block of a checked page carries one of these, so a new block cannot be
left out by accident. Pages read as a user types them; the runner points their addresses at the
test's own server: ``127.0.0.1:8000``, ``localhost:8000`` and the example proxy address
``https://forecast.example`` become the test's port (``EF_PORT``), and ``--host 0.0.0.0`` stays on
loopback.

A runner of our own rather than pytest-examples, sybil or mktestdocs: those run each block on its
own (Python only, or one subprocess per block), while a tutorial is one terminal session with a
server in a second one; that is about a hundred lines here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(\w+)\s*$")
MARKER = re.compile(r"^<!--\s*(run|run: background|skip:\s*(?P<why>.+?))\s*-->$")
CHECKED_LANGUAGES = {"bash", "python"}
PORT_PATTERN = re.compile(r"(127\.0\.0\.1|localhost):8000\b")
PROXY_PATTERN = re.compile(r"https://forecast\.example\b")
PUBLIC_BIND = "--host 0.0.0.0"


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    mode: str  # "run", "background", "skip" or "" (unmarked)


def blocks(markdown: str) -> list[Block]:
    """Every fenced block with its marker (the non-empty line before the fence)."""
    lines = markdown.splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        start = index
        end = start + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        previous = next((lines[i].strip() for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        marker = MARKER.match(previous)
        mode = ""
        if marker:
            word = marker.group(1)
            mode = {"run": "run", "run: background": "background"}.get(word, "skip")
        found.append(Block(start + 1, match.group(1), "\n".join(lines[start + 1 : end]), mode))
        index = end + 1
    return found


def unmarked(markdown: str) -> list[Block]:
    return [b for b in blocks(markdown) if b.language in CHECKED_LANGUAGES and not b.mode]


def script(markdown: str, page: Path, port: int) -> str:
    """One bash script that runs the page's marked blocks in order and stops its servers."""
    out = [
        "set -euo pipefail",
        "EF_BACKGROUND_PIDS=()",
        'stop_background() { for pid in "${EF_BACKGROUND_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true;'
        ' wait "$pid" 2>/dev/null || true; done; }',
        "trap stop_background EXIT",
        "EF_BLOCK=0",
        f"trap 'echo \"{page.name}: the block at line $EF_BLOCK failed\" >&2' ERR",
    ]
    for number, block in enumerate(b for b in blocks(markdown) if b.mode in {"run", "background"}):
        code = PORT_PATTERN.sub(f"127.0.0.1:{port}", block.code)
        code = PROXY_PATTERN.sub(f"http://127.0.0.1:{port}", code).replace(PUBLIC_BIND, "--host 127.0.0.1")
        out.append(f"EF_BLOCK={block.line}")
        out.append(f'echo "--- {page.name}:{block.line}" >&2')
        if block.language == "python":
            code = f"python - <<'EF_PYTHON_BLOCK_{number}'\n{code}\nEF_PYTHON_BLOCK_{number}"
        if block.mode == "background":
            out.append(f"( {code}\n) > background-{block.line}.log 2>&1 &")
            out.append('EF_BACKGROUND_PIDS+=("$!")')
            if "energy-forecast serve" not in code:
                continue
            log = f"background-{block.line}.log"
            out.append(
                "for _ in $(seq 600); do"
                f" curl -fsS -o /dev/null http://127.0.0.1:{port}/health/live 2>/dev/null && break;"
                f' kill -0 "$!" 2>/dev/null || {{ cat {log} >&2; exit 1; }}; sleep 0.1; done'
            )
        else:
            out.append(code)
    return "\n".join(out) + "\n"
