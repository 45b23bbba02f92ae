"""Related words: groups of words that name one thing, so the matcher relates them.

People rarely use a job's own words: they say "pw" for password, "hook up
zapier" for an integration, "a live staffer" for a human. `vocabulary.yaml`
beside this module holds word groups of team chat and software support; a
text *touches* a group when it holds one of the group's words (compared
after stemming) or phrases (matched as typed, lower case). The matcher adds
each touched group to the words it compares, at a lower weight than a word
both share. Groups come from general usage, not from any one job's text;
`CHATJOBS_VOCABULARY` names a file of a team's own (product names, jargon).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from bot.text import STOPWORDS, stems, tokens
from config.errors import ConfigError

#: Group words start with this, so they never equal a stemmed word.
MARK = "~"


@dataclass(frozen=True)
class Touch:
    """One place where a text touches a group: the group, the words as typed, and
    `key`: the word's stem, or the phrase."""

    group: str
    typed: str
    key: str


class Vocabulary:
    """Word groups, ready to find in texts."""

    def __init__(self, groups: Mapping[str, Iterable[str]]) -> None:
        self._by_stem: dict[str, list[str]] = {}
        self._by_phrase: dict[str, list[str]] = {}
        for group, members in groups.items():
            for member in (str(m).lower().strip() for m in members):
                stem = stems([member])[0] if re.fullmatch(r"[^\W_]+", member) else ""
                if stem and stem not in STOPWORDS:
                    self._by_stem.setdefault(stem, []).append(group)
                elif member:  # a phrase, or a word whose stem is a small word ("canned")
                    self._by_phrase.setdefault(member, []).append(group)
        alternatives = sorted(self._by_phrase, key=len, reverse=True)
        self._phrases = re.compile(
            r"(?<![\w])(?:" + "|".join(re.escape(p) for p in alternatives) + r")(?![\w])"
        ) if alternatives else None

    def touches(self, text: str) -> list[Touch]:
        """Where `text` touches a group, in order of its words (repeats kept)."""
        found = tokens(text)
        hits = [Touch(group, word, stem) for word, stem in zip(found, stems(found), strict=True)
                for group in self._by_stem.get(stem, ())]
        if self._phrases is not None:
            plain = " ".join(text.lower().replace("’", "'").split())
            hits += [Touch(group, m.group(0), m.group(0)) for m in self._phrases.finditer(plain)
                     for group in self._by_phrase[m.group(0)]]
        return hits

    def group_words(self, text: str) -> list[str]:
        """The groups `text` touches, as words for the matcher (`MARK` + name), repeats kept."""
        return [MARK + touch.group for touch in self.touches(text)]


@cache
def _builtin_groups() -> dict[str, list[str]]:
    text = resources.files(__package__).joinpath("vocabulary.yaml").read_text("utf-8")
    groups: dict[str, list[str]] = yaml.safe_load(text)["groups"]
    return groups


@cache
def builtin() -> Vocabulary:
    """The vocabulary shipped with chatjobs (`vocabulary.yaml`)."""
    return Vocabulary(_builtin_groups())


def load(path: Path | None) -> Vocabulary:
    """The built-in groups plus those of the YAML file at `path` (`CHATJOBS_VOCABULARY`).

    The file has the built-in file's shape: `groups:` mapping each group name
    to a list of words and phrases. A group of the built-in name gains the
    file's members. `ConfigError` names what is wrong with the file.
    """
    if path is None:
        return builtin()
    where = f"CHATJOBS_VOCABULARY ({path})"
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{where}: cannot read it: {exc}") from None
    extra = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(extra, dict) or not extra:
        raise ConfigError(f"{where}: expected `groups:` mapping group names to lists of words")
    merged = {name: list(members) for name, members in _builtin_groups().items()}
    for name, members in extra.items():
        if not isinstance(members, list) or not members or not all(
                isinstance(m, str | int | float) and str(m).strip() for m in members):
            raise ConfigError(f"{where}: group '{name}' must be a list of words or phrases")
        merged.setdefault(str(name), []).extend(str(m) for m in members)
    return Vocabulary(merged)
