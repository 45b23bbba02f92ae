"""The words of a message, as the matcher and `/jobs gaps` compare them.

Lower-cased words, without the small words of conversation ("how do I",
"can you", "thanks"), stemmed with Snowball's English stemmer (PyStemmer), so
"invite", "invites" and "inviting" are one word.
"""

from __future__ import annotations

import re
import threading

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_CHAT_WORDS = """
i i'm im me my mine myself you your yours we our us he she him her his they them it its
how what when where why who whom which whose can can't cant could would should shall may
might must do does did doing done don't dont is are am was were be been being have has had
having get got gets getting please pls want wants wanted need needs like i'd i've
hi hello hey thanks thank ok okay yes yeah sure just also still some any all much many
very really so too more most about there here this that these those from up out over
know let lets let's one thing things something anything way going go make help
after before again against between during through until while because above below off
only own same than other others each few both nor once now then their theirs yourself
ourselves themselves who's what's where's how's there's it's isn't aren't wasn't doesn't
didn't won't wouldn't couldn't shouldn't haven't hasn't
""".split()  # noqa: SIM905 (a word list reads best as text)
STOPWORDS = frozenset(STOPWORDS_EN) | frozenset(_CHAT_WORDS)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_local = threading.local()


def tokens(text: str) -> list[str]:
    """Every word of `text`, lower-cased, in order, small words included."""
    return [w.removesuffix("'s") for w in _WORD.findall(text.lower().replace("’", "'"))]


def words(text: str) -> list[str]:
    """The content words of `text`, lower-cased, in order, unstemmed."""
    return [w for w in tokens(text) if len(w) > 1 and w not in STOPWORDS]


def stems(items: list[str]) -> list[str]:
    """Stem each word (a stemmer per thread: PyStemmer's is not thread-safe)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return list(stemmer.stemWords(items))


def content_words(text: str) -> dict[str, str]:
    """Each content word of `text` with its stem."""
    found = words(text)
    return dict(zip(found, stems(found), strict=True))


def stemmed(text: str) -> list[str]:
    """The stems of `text`'s content words, in order (repeats kept)."""
    return stems(words(text))
