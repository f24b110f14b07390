"""A task's prose read into its concerns: stages ("then", "after that", "finally"), and in each
stage the sentences, list items and lines; each of those into the pieces it may be split at
(clauses joined by "and" or commas, or the items of a list the verb governs). Sentences that only
set the scene ("We're adding a payments service.") are context for every subtask. Whether the
pieces of a sentence become separate subtasks is the ranking's call: they are split only when
they go to different parts."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEQUENCE = re.compile(
    r"(?:[,;.]\s*|\s+)(?:and\s+)?(?:then|after\s+that|afterwards|next|finally|once\s+done)\b[,:]?\s*",
    re.IGNORECASE,
)
_LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_SEPARATOR = re.compile(r"\s*,?\s+(?:and|as well as|plus)\s+|\s*[,;]\s+", re.IGNORECASE)
# a piece that begins with a determiner continues a phrase the piece before governs by a
# preposition ("with a hook and an agent"); else it is an item of the verb's list
_DETERMINERS = frozenset(
    {"a", "an", "the", "this", "that", "these", "those", "my", "our", "your", "its", "their"}
)
_PREPOSITIONS = frozenset(
    {"with", "of", "for", "in", "on", "from", "to", "by", "between", "about", "into", "using"}
)
# what a sentence that sets the scene begins with: a subject, not a verb
_SUBJECTS = frozenset(
    {"we", "we're", "we've", "i", "i'm", "i've", "our", "my", "it", "it's", "there", "they",
     "this", "these", "the", "you", "you're"}
)  # fmt: skip
_WORD = re.compile(r"[\w'\u2019-]+")


@dataclass(frozen=True)
class Sentence:
    """One sentence, list item or line: its text and the pieces it may be split into."""

    text: str
    pieces: tuple[str, ...]


@dataclass(frozen=True)
class Reading:
    context: str  # the scene: given to every subtask
    stages: tuple[tuple[Sentence, ...], ...]


def read_task(task: str) -> Reading:
    context: list[str] = []
    stages: list[tuple[Sentence, ...]] = []
    for stage in split_stages(task):
        sentences = [s for s in _sentences(stage) if s]
        actions = [s for s in sentences if not _sets_the_scene(s)]
        if actions:  # a stage of scene only is the scene of the rest
            context += [s for s in sentences if s not in actions]
            stages.append(tuple(Sentence(s, _pieces(s)) for s in actions))
        else:
            context += sentences
    if not stages and context:  # nothing but statements: they are the task
        stages, context = [tuple(Sentence(s, _pieces(s)) for s in context)], []
    return Reading(" ".join(context), tuple(stages))


def split_stages(task: str) -> list[str]:
    """Sequential stages, in order: the text between sequence words."""
    return [s.strip(" ,;.") for s in _SEQUENCE.split(task) if s.strip(" ,;.")]


def _sentences(stage: str) -> list[str]:
    """List items, else sentences and lines, cleaned of their markers and end marks."""
    lines = [ln for ln in stage.splitlines() if ln.strip()]
    if sum(bool(_LIST_MARKER.match(ln)) for ln in lines) > 1:
        return [_LIST_MARKER.sub("", ln).strip(" ,;.") for ln in lines]
    return [s.strip(" ,;.") for s in _SENTENCE.split(stage) if s.strip(" ,;.")]


def _sets_the_scene(sentence: str) -> bool:
    """A statement ("We're adding a payments service"), not a request; questions are requests."""
    words = _WORD.findall(sentence.lower())
    return bool(words) and words[0] in _SUBJECTS and not sentence.endswith("?")


def _pieces(sentence: str) -> tuple[str, ...]:
    """Clauses and list items; a piece that continues the phrase of a preposition ("with a hook
    and an agent") stays with the one before it, and so does a sentence's lone first word ("Find
    and fix the bug")."""
    pieces: list[str] = []
    for piece in _SEPARATOR.split(sentence):
        piece = piece.strip(" ,;.")
        if not piece:
            continue
        words = _WORD.findall(piece.lower())
        first = pieces[-1] if pieces else ""
        lone_verb = len(pieces) == 1 and len(_WORD.findall(first)) < 2  # "Find and fix …"
        if pieces and (_continues(first, words) or lone_verb):
            pieces[-1] = sentence[sentence.index(first) : sentence.index(piece) + len(piece)]
        else:
            pieces.append(piece)
    return tuple(pieces) or (sentence,)


def _continues(before: str, words: list[str]) -> bool:
    return (
        bool(words)
        and words[0] in _DETERMINERS
        and not _PREPOSITIONS.isdisjoint(_WORD.findall(before.lower()))
    )
