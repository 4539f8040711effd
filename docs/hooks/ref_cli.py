"""The command-line reference, rendered from the Typer app's click command tree.

Typer ships its own copy of click, so commands and parameters are read by their attributes
(``list_commands``, ``param_type_name``) rather than by class.
"""

from __future__ import annotations

from typing import Any

import typer


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _param_row(param: Any, ctx: Any) -> str:
    """One table row from the same help record ``--help`` prints (declaration, help, default)."""
    record = param.get_help_record(ctx) if param.param_type_name != "argument" else None
    if record is None:
        name = getattr(param, "human_readable_name", None) or (param.name or "").upper()
        help_text = getattr(param, "help", None) or ""
        required = "  [required]" if param.required else ""
        record = (f"{name}", f"{help_text}{required}")
    declaration, help_text = record
    return f"| `{_cell(declaration)}` | {_cell(help_text)} |"


def _command(lines: list[str], name: str, command: Any, ctx: Any) -> None:
    lines.append(f"## `{name}`")
    lines.append("")
    if command.help:
        lines.append(command.help.strip())
        lines.append("")
    sub = command.context_class(command, info_name=name.split()[-1], parent=ctx)
    usage = " ".join(command.collect_usage_pieces(sub))
    lines.append("```text")
    lines.append(f"{name} {usage}".rstrip())
    lines.append("```")
    lines.append("")
    params = [p for p in command.get_params(sub) if p.name != "help"]
    if params:
        lines.append("| parameter | meaning |")
        lines.append("|---|---|")
        lines.extend(_param_row(p, sub) for p in params)
        lines.append("")
    if hasattr(command, "list_commands"):
        for child_name in command.list_commands(sub):
            child = command.get_command(sub, child_name)
            if child is not None and not child.hidden:
                _command(lines, f"{name} {child_name}", child, sub)


def render(app: typer.Typer, program: str = "energy-forecast") -> str:
    root = typer.main.get_command(app)
    ctx = root.context_class(root, info_name=program)
    lines = [
        "# Command line",
        "",
        "<!-- Generated at build time from the Typer app (energy_forecast.cli.app): edit the code. -->",
        "",
        "Every command reads the [settings](settings.md) once; options given here win over them.",
        f"`{program} COMMAND --help` prints the same text in a terminal.",
        "",
    ]
    for child_name in root.list_commands(ctx):
        child = root.get_command(ctx, child_name)
        if child is not None and not child.hidden:
            _command(lines, f"{program} {child_name}", child, ctx)
    return "\n".join(lines)
