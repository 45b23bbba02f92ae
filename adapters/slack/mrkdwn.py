"""Markdown (what the model writes) → Slack mrkdwn, and splitting long replies.

Conversion, line by line outside code:

| Markdown | mrkdwn |
| --- | --- |
| `**bold**`, `__bold__` | `*bold*` |
| `*italic*`, `_italic_` | `_italic_` |
| `~~strike~~` | `~strike~` |
| `[text](url)`, `![alt](url)`, `<https://…>` | `<url\\|text>`, `<url>` |
| `# Heading` (any level) | `*Heading*` on its own line |
| `- item`, `* item`, `+ item` | `• item` (indentation kept) |
| `> quote` | `> quote` |

Inline code and fenced code blocks are not reformatted (a fence's language
tag is dropped: Slack would print it). Slack's control characters `&`, `<`,
`>` are written as `&amp;`, `&lt;`, `&gt;` everywhere except in the links we
make, including inside code: Slack decodes those entities in code too, and
a raw `<` could otherwise open a link or a `<!channel>` ping. User and
channel mentions the model writes in Slack's form (`<@U123>`, `<#C123>`)
are kept.
"""

from __future__ import annotations

import re

from bot import split as splitting

#: Characters per message. Slack truncates `text` at 40,000 and recommends
#: at most 4,000; longer replies are split into messages of at most this.
MAX_CHARS = 3_500

_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<title>.*?)(?:\s+#+)?\s*$")
_BULLET = re.compile(r"^(?P<indent>\s*)[-*+]\s+(?P<rest>.*)$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(?P<rest>.*)$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_TOKEN = re.compile(
    r"(?P<code>(?P<ticks>`+)(?P<code_text>.+?)(?P=ticks))"
    r"|(?P<link>!?\[(?P<label>[^\]\n]*)\]\((?P<url>[^()\s]+(?:\([^()\s]*\))?[^()\s]*)"
    r"(?:\s+\"[^\"]*\")?\))"
    r"|(?P<auto><(?P<auto_url>(?:https?://|mailto:)[^\s<>]+)>)"
    r"|(?P<mention><(?:@[UW][A-Z0-9]+|#C[A-Z0-9]+(?:\|[^<>\s|]+)?)>)"
)
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC_STAR = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_BOLD_MARK = "\x01"
_SLOT = "\x02{}\x03"
_SLOT_RE = re.compile("\x02(\\d+)\x03")


def escape(text: str) -> str:
    """Slack's three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    """Markdown as Slack mrkdwn (see the module docstring)."""
    out: list[str] = []
    code: list[str] | None = None
    fence = ""
    for line in markdown.replace("\r\n", "\n").split("\n"):
        opener = _FENCE.match(line)
        if code is not None:
            if opener and line.strip() == opener.group(1) and opener.group(1) == fence:
                out.append(_code_block(code))
                code = None
            else:
                code.append(line)
        elif opener:
            code, fence = [], opener.group(1)
        else:
            out.append(_line(line))
    if code is not None:  # an unclosed fence: close it, as renderers do
        out.append(_code_block(code))
    return "\n".join(out)


def _code_block(lines: list[str]) -> str:
    return "```\n" + escape("\n".join(lines)) + "\n```"


def _line(line: str) -> str:
    if _RULE.match(line):
        return "──────────"
    heading = _HEADING.match(line)
    if heading:
        title = heading["title"].replace("**", "").replace("__", "")
        return f"*{_inline(title)}*" if title.strip() else ""
    quote = _QUOTE.match(line)
    if quote:
        return "> " + _inline(quote["rest"])
    bullet = _BULLET.match(line)
    if bullet:
        return f"{bullet['indent']}• {_inline(bullet['rest'])}"
    return _inline(line)


def _inline(text: str) -> str:
    """One line: code spans and links set aside, the rest escaped and re-marked."""
    slots: list[str] = []

    def keep(rendered: str) -> str:
        slots.append(rendered)
        return _SLOT.format(len(slots) - 1)

    def token(match: re.Match[str]) -> str:
        if match["code"]:
            return keep(f"`{escape(match['code_text'].strip(' ') or match['code_text'])}`")
        if match["link"]:
            label = match["label"].strip() or match["url"]
            return keep(f"<{_url(match['url'])}|{_emphasis(escape(label))}>")
        if match["auto"]:
            return keep(f"<{_url(match['auto_url'])}>")
        return keep(match["mention"])

    text = _TOKEN.sub(token, text)
    text = _emphasis(escape(text))
    return _SLOT_RE.sub(lambda m: slots[int(m.group(1))], text)


def _emphasis(text: str) -> str:
    text = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(2)}{_BOLD_MARK}", text)
    text = _ITALIC_STAR.sub(r"_\1_", text)
    text = _STRIKE.sub(r"~\1~", text)
    return text.replace(_BOLD_MARK, "*")


def _url(url: str) -> str:
    # Inside <…> a URL may not hold < > | or spaces: percent-encode them.
    return (url.replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
            .replace(" ", "%20"))


# --- splitting ---------------------------------------------------------------


def split(text: str, limit: int = MAX_CHARS) -> list[str]:
    """`text` (mrkdwn) as messages of at most `limit` characters, in order (see `bot.split`)."""
    return splitting.split(text, limit)
