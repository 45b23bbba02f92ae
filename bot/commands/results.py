"""Platform-neutral command results; each adapter renders them its own way.

A `Result` is a title plus blocks: paragraphs, labelled fields, tables and
code (YAML). Adapters turn these into plain text, Block Kit or embeds.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Block(BaseModel):
    model_config = ConfigDict(frozen=True)


class Paragraph(_Block):
    """A run of text."""

    text: str


class Fields(_Block):
    """Labelled values, e.g. a job's fields."""

    pairs: tuple[tuple[str, str], ...]


class Table(_Block):
    """Rows under column headings."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


class Code(_Block):
    """Verbatim text, e.g. YAML."""

    text: str
    language: str = ""


Block = Paragraph | Fields | Table | Code


def count(n: int, noun: str) -> str:
    """`1 job`, `2 jobs`."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


class Result(BaseModel):
    """What a command answers. `ok` is False when it was refused."""

    model_config = ConfigDict(frozen=True)

    ok: bool = True
    title: str = ""
    blocks: tuple[Block, ...] = ()

    @classmethod
    def refused(cls, reason: str, *blocks: Block) -> Result:
        """A refusal; nothing was changed."""
        return cls(ok=False, title=reason, blocks=blocks)
