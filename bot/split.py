"""Long replies cut into messages of at most a platform's limit, in order.

Chat platforms refuse messages over a length (Discord 2,000 characters,
Slack about 4,000). A long reply is cut, in this order of preference:

1. at paragraph breaks (blank lines), packing whole paragraphs per message;
2. inside a paragraph too long for one message, at sentence ends or line breaks;
3. then at spaces;
4. and only then anywhere.

A cut never falls inside an inline code span, a `<…>` mention or link, a
`[label](url)` link or an `&…;` entity when another cut is possible. A fenced
code block that fits in one message stays whole; a longer one is cut between
its lines and every part is fenced again (same language tag), so each message
renders on its own. Text is never reordered, and nothing but whitespace at the
cuts (and the repeated fences) is added or lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

#: The smallest limit `split` accepts (room for a fenced line).
MIN_LIMIT = 20

_FENCE = re.compile(r"^\s{0,3}(?P<fence>```+|~~~+)(?P<info>[^`\s]*)")
_SENTENCE_END = re.compile(r"[.!?…:;](?=\s)|\n")
_SPACE = re.compile(r"\s")
#: Spans a cut must not fall inside: inline code, <…> mentions and Slack links (whose
#: text may hold spaces), [label](url) links, and HTML entities such as &amp;.
_ATOMS = re.compile(r"`+[^`\n]*?`+|<[^<>\n]{1,300}>|\[[^\]\n]{0,200}\]\([^()\s]{0,500}\)"
                    r"|&(?:[A-Za-z]{2,8}|#\d{1,7});")


def split(text: str, limit: int) -> list[str]:
    """`text` as messages of at most `limit` characters, in order (none when it is blank)."""
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be at least {MIN_LIMIT} characters")
    text = text.replace("\r\n", "\n").strip()
    if len(text) <= limit:
        return [text] if text else []
    messages: list[str] = []
    current = ""
    for unit in _units(text):
        for piece in _fit(unit, limit):
            if current and len(current) + 2 + len(piece) <= limit:
                current += "\n\n" + piece
            else:
                if current:
                    messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


def _units(text: str) -> list[str]:
    """Paragraphs, with each fenced code block one unit (blank lines and all)."""
    units: list[str] = []
    paragraph: list[str] = []
    code: list[str] | None = None
    fence = ""

    def flush() -> None:
        if paragraph:
            units.append("\n".join(paragraph))
            paragraph.clear()

    for line in text.split("\n"):
        if code is not None:
            code.append(line)
            if line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
                units.append("\n".join(code))
                code = None
            continue
        opener = _FENCE.match(line)
        if opener and not _closes_on_same_line(line, opener["fence"]):
            flush()
            code, fence = [line], opener["fence"]
        elif not line.strip():
            flush()
        else:
            paragraph.append(line)
    if code is not None:  # an unclosed fence: Discord renders it to the end; so do we
        units.append("\n".join(code))
    flush()
    return [unit for unit in units if unit.strip()]


def _closes_on_same_line(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) > 2 * len(fence) and stripped.endswith(fence)


def _fit(unit: str, limit: int) -> list[str]:
    if len(unit) <= limit:
        return [unit]
    opener = _FENCE.match(unit)
    if opener:
        return _split_code(unit, limit, opener["fence"], opener["info"])
    return _cut(unit, limit, _prose_cut)


def _split_code(block: str, limit: int, fence: str, info: str) -> list[str]:
    """A fenced block too long for one message: cut between lines, each part fenced."""
    lines = block.split("\n")
    body = lines[1:]
    if body and body[-1].strip().startswith(fence) and not body[-1].strip().strip(fence[0]):
        body = body[:-1]
    rest = lines[0].strip()[len(fence):]
    head, tail = f"{fence}{info}\n", f"\n{fence}"
    if rest != info or len(head) + len(tail) >= limit:
        # Not a bare language tag, or one too long to repeat: keep it once, as a line.
        head, body = f"{fence}\n", [rest, *body] if rest else body
    room = limit - len(head) - len(tail)
    return [head + piece + tail for piece in _cut("\n".join(body), room, _line_cut)]


def _cut(text: str, limit: int, best_cut: Callable[[str, int], int | None]) -> list[str]:
    pieces: list[str] = []
    while len(text) > limit:
        at = best_cut(text, limit) or _hard_cut(text, limit)
        pieces.append(text[:at].rstrip())
        text = text[at:].lstrip(" \n")
    if text:
        pieces.append(text)
    return [piece for piece in pieces if piece.strip()]


def _prose_cut(text: str, limit: int) -> int | None:
    """The last good cut within `limit`: a sentence end or line break, else a space."""
    atoms = _atom_spans(text, limit)
    for pattern in (_SENTENCE_END, _SPACE):
        best = None
        for match in pattern.finditer(text, 0, limit + 1):
            at = match.end() if match.group() != "\n" else match.start()
            if limit // 3 <= at <= limit and not _inside(at, atoms):
                best = at
        if best:
            return best
    return None


def _line_cut(text: str, limit: int) -> int | None:
    at = text.rfind("\n", 0, limit + 1)
    return at if at > 0 else None


def _hard_cut(text: str, limit: int) -> int:
    """Anywhere, but before an atom that would be cut in two, when one starts late enough."""
    for start, end in _atom_spans(text, limit):
        if start < limit < end and start >= limit // 3:
            return start
    return limit


def _atom_spans(text: str, limit: int) -> list[tuple[int, int]]:
    return [m.span() for m in _ATOMS.finditer(text, 0, min(len(text), limit + 600))]


def _inside(at: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < at < end for start, end in spans)


def pack_lines(lines: Iterable[str], limit: int, *,
               safe_cut: Callable[[str, int], int] | None = None) -> list[str]:
    """Lines joined into pieces of at most `limit` characters, in order.

    Pieces end at line breaks where possible (for Block Kit sections and embed
    fields, which have no paragraphs to keep); a longer line is cut at
    `safe_cut(line, limit)` (default: at `limit`). No text gives `[""]`.
    """
    pieces: list[str] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit and (current or line):
            current = candidate
            continue
        if current:
            pieces.append(current)
            current = ""
        while len(line) > limit:
            cut = safe_cut(line, limit) if safe_cut is not None else limit
            pieces.append(line[:cut])
            line = line[cut:]
        current = line
    if current or not pieces:
        pieces.append(current)
    return pieces
