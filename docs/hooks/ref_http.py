"""The HTTP reference, rendered from the OpenAPI schema the app serves at ``/openapi.json``."""

from __future__ import annotations

import re
from typing import Any

METHOD_ORDER = ["get", "post", "put", "patch", "delete"]


def _anchor(name: str) -> str:
    return "schema-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def type_of(schema: dict[str, Any]) -> str:
    """A short type expression; references link to the schema's section on this page."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})"
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            parts = [type_of(s) for s in schema[combinator] if s.get("type") != "null"]
            nullable = any(s.get("type") == "null" for s in schema[combinator])
            text = " or ".join(dict.fromkeys(parts))
            return f"{text} or null" if nullable else text
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"][:12]) + (
            ", …" if len(schema["enum"]) > 12 else ""
        )
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema and isinstance(
        schema["additionalProperties"], dict
    ):
        return f"object of {type_of(schema['additionalProperties'])}"
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    return str(kind)


def _bounds(schema: dict[str, Any]) -> str:
    words = []
    for key, word in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
                      ("exclusiveMaximum", "<"), ("minLength", "length ≥"), ("maxLength", "length ≤"),
                      ("maxItems", "items ≤")):
        if key in schema:
            words.append(f"{word} {schema[key]}")
    return "; ".join(words)


def _operation(lines: list[str], method: str, path: str, op: dict[str, Any]) -> None:
    lines.append(f"### `{method.upper()} {path}`")
    lines.append("")
    if op.get("summary"):
        lines.append(f"**{op['summary']}.**")
        lines.append("")
    if op.get("description"):
        lines.append(op["description"].strip())
        lines.append("")
    params = op.get("parameters", [])
    if params:
        lines.append("| parameter | in | type | required | meaning |")
        lines.append("|---|---|---|---|---|")
        for p in params:
            schema = p.get("schema", {})
            kind = type_of(schema)
            bounds = _bounds(schema)
            if bounds:
                kind += f" ({bounds})"
            lines.append(
                f"| `{p['name']}` | {p['in']} | {_cell(kind)} | {'yes' if p.get('required') else 'no'} "
                f"| {_cell(p.get('description', schema.get('description', '')))} |"
            )
        lines.append("")
    body = op.get("requestBody")
    if body:
        for content_type, content in body.get("content", {}).items():
            lines.append(f"Request body (`{content_type}`): {type_of(content.get('schema', {}))}")
            lines.append("")
    ok = {code: r for code, r in op.get("responses", {}).items() if code.startswith(("1", "2", "3"))}
    errors = sorted(code for code in op.get("responses", {}) if code not in ok)
    for code, response in ok.items():
        kinds = [
            f"`{ct}` {type_of(c.get('schema', {}))}" if c.get("schema") else f"`{ct}`"
            for ct, c in response.get("content", {}).items()
        ]
        lines.append(f"- **{code}** {_cell(response.get('description', ''))}"
                     + (f": {', '.join(kinds)}" if kinds else ""))
    if errors:
        lines.append(f"- errors: {', '.join(errors)}, each an [ErrorBody](#{_anchor('ErrorBody')})"
                     if "ErrorBody" in str(op.get("responses")) else f"- errors: {', '.join(errors)}")
    lines.append("")


def _schema(lines: list[str], name: str, schema: dict[str, Any]) -> None:
    lines.append(f"### {name} {{#{_anchor(name)}}}")
    lines.append("")
    if schema.get("description"):
        lines.append(schema["description"].strip())
        lines.append("")
    properties = schema.get("properties", {})
    if not properties:
        lines.append(f"Type: {type_of(schema)}")
        lines.append("")
        return
    required = set(schema.get("required", []))
    lines.append("| field | type | required | meaning |")
    lines.append("|---|---|---|---|")
    for field, sub in properties.items():
        kind = type_of(sub)
        bounds = _bounds(sub)
        if bounds:
            kind += f" ({bounds})"
        if "default" in sub and sub["default"] is not None:
            kind += f", default `{sub['default']}`"
        lines.append(
            f"| `{field}` | {_cell(kind)} | {'yes' if field in required else 'no'} "
            f"| {_cell(sub.get('description', ''))} |"
        )
    lines.append("")


def render(schema: dict[str, Any]) -> str:
    info = schema.get("info", {})
    lines = [
        "# HTTP API",
        "",
        "<!-- Generated at build time from the OpenAPI schema of energy_forecast.api.app: edit the code. -->",
        "",
        f"{info.get('description', '')} This page lists every route of version {info.get('version', '')}",
        "as the running service describes itself: the same schema is served at `/openapi.json`, with",
        "Swagger UI at `/docs` and ReDoc at `/redoc` (both work without internet).",
        "[Download this schema](openapi.json).",
        "",
        "Every error answers `{\"error\": <class>, \"detail\": <what to fix>}` (see",
        "[task states and errors](tasks-and-errors.md)). Routes other than the health probes and the API",
        "documentation need an API key once keys are enforced: `X-API-Key: <key>` or",
        "`Authorization: Bearer <key>`.",
        "",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, operations in schema.get("paths", {}).items():
        for method in sorted(operations, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else 9):
            op = operations[method]
            tag = (op.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append((method, path, op))
    for tag, operations in by_tag.items():
        lines.append(f"## {tag.capitalize()}")
        lines.append("")
        for method, path, op in operations:
            _operation(lines, method, path, op)
    lines.append("## Schemas")
    lines.append("")
    for name, sub in sorted(schema.get("components", {}).get("schemas", {}).items()):
        _schema(lines, name, sub)
    return "\n".join(lines)
