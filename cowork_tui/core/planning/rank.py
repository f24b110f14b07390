"""Which of an item's parts (agents, skills, commands) fits a piece of a task best: BM25 over
each part's name and description (the prose before any `<example>` block), words stemmed by
Snowball. A word every part shares ("review", "code") weighs next to nothing; a word one part
owns decides. Built once per item."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..models import Item
from .builtin import GENERAL_PURPOSE

_WORD = re.compile(r"[a-z0-9]+")
# words that say nothing about what a part does
_STOPWORDS_TEXT = """
    a an the and or of to in on for with by is are be it its this that these those as at from
    into all any use used using when you your our we can will should agent agents then after
    please make do get about each every also so if not no me my i us them they their skill
    skills command commands
"""
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_MERGER = re.compile(
    r"\b(combin|merg|synthes|consolid|aggreg|coordin)\w*\b.{0,80}?"
    r"\b(result|finding|review|output|report|answer|note|work)s?\b",
    re.IGNORECASE,
)
NO_FIT = 0.6  # a best score below this shares no word that tells the parts apart
_ONE_WORD = 0.25  # a word shared with an item's only part scores about log(4/3)


@dataclass(frozen=True)
class Pick:
    agent: str
    skills: tuple[str, ...]
    score: float


@lru_cache(maxsize=4096)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def words(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]


def prose(description: str) -> str:
    """Descriptions may carry long `<example>` blocks: the prose before them says what it is."""
    return description.split("<example>", 1)[0]


class Ranker:
    """The item's parts, indexed; `best` picks for a piece of text, ties to the least used."""

    def __init__(self, item: Item) -> None:
        self._picks = [Pick(a.name, (), 0.0) for a in item.agents]
        self._picks += [Pick(GENERAL_PURPOSE, (s.name,), 0.0) for s in item.skills
                        if s.model_invocable]  # fmt: skip
        documents = [(a.name, a.description) for a in item.agents]
        documents += [(s.name, s.description) for s in item.skills if s.model_invocable]
        self._index = _index(tuple(documents))
        self._used = [0] * len(self._picks)
        self._models = item.uses_models

    def scores(self, text: str) -> list[float]:
        if self._index is None:
            return []
        return [float(s) for s in self._index.get_scores(words(text))]

    def best(self, text: str) -> Pick | None:
        """The best part for `text`, None when none fits (an item's only part fits by a word
        it shares: with nothing to tell apart, every word weighs little)."""
        scores = self.scores(text)
        if not scores or max(scores) < (NO_FIT if len(scores) > 1 else _ONE_WORD):
            return None
        at = max(range(len(scores)), key=lambda i: (scores[i], -self._used[i], -i))
        return Pick(self._picks[at].agent, self._picks[at].skills, scores[at])

    def fallback(self) -> Pick:
        """For a piece no part fits: the general-purpose agent, when the item may use a model;
        else (command agents only) its least used agent."""
        if self._models:
            return Pick(GENERAL_PURPOSE, (), 0.0)
        at = min(range(len(self._picks)), key=lambda i: (self._used[i], i))
        return self._picks[at]

    def use(self, pick: Pick) -> None:
        key = (pick.agent, pick.skills)
        at = next((i for i, p in enumerate(self._picks) if (p.agent, p.skills) == key), None)
        if at is not None:
            self._used[at] += 1


@lru_cache(maxsize=64)
def _index(documents: tuple[tuple[str, str], ...]) -> Any:
    """BM25 over the parts' names (twice: a name is dense) and descriptions."""
    if not documents:
        return None
    corpus = [words(f"{name} {name} {prose(about)}".replace("-", " ")) or ["_"]
              for name, about in documents]  # fmt: skip
    return _bm25()(corpus)


@lru_cache(maxsize=1)
def _bm25() -> Any:
    from rank_bm25 import BM25Okapi

    class LuceneBM25(BM25Okapi):  # type: ignore[misc]
        """Okapi's idf is zero or below for a word half the parts have, so an item of two parts
        could tell nothing apart: Lucene's idf stays positive, and small for shared words."""

        def _calc_idf(self, nd: dict[str, int]) -> None:
            n = self.corpus_size
            self.idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in nd.items()}

    return LuceneBM25


def merger_of(item: Item) -> Pick | None:
    """The part whose description says it combines others' results, if the item has one."""
    for agent in item.agents:
        if _MERGER.search(prose(agent.description)):
            return Pick(agent.name, (), 0.0)
    for skill in item.skills:
        if skill.model_invocable and _MERGER.search(skill.description):
            return Pick(GENERAL_PURPOSE, (skill.name,), 0.0)
    return None
