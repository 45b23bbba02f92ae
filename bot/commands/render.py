"""Render a command `Result` as plain text (console, CLI, fallbacks)."""

from __future__ import annotations

from bot.commands.results import Code, Fields, Paragraph, Result, Table


def to_text(result: Result) -> str:
    """The result as plain text, blocks separated by blank lines."""
    parts = [result.title] if result.title else []
    for block in result.blocks:
        if isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Fields):
            width = max((len(label) for label, _ in block.pairs), default=0)
            parts.append("\n".join(_field(label, value, width) for label, value in block.pairs))
        elif isinstance(block, Table):
            parts.append(_table(block))
        elif isinstance(block, Code):
            parts.append(block.text.rstrip("\n"))
    return "\n\n".join(parts)


def _field(label: str, value: str, width: int) -> str:
    lines = value.splitlines() or [""]
    pad = " " * (width + 2)
    rest = "".join(f"\n{pad}{line}" for line in lines[1:])
    return f"{label + ':':<{width + 1}} {lines[0]}{rest}"


def _table(table: Table) -> str:
    rows = [table.columns, *table.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(table.columns))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
