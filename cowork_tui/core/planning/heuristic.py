"""The heuristic planner: a task's words → a DAG of subtasks, each mapped to one of the agents.

The task text is split into stages (sequence words: "then", "after that", "finally"...) and
each stage into parts that run in parallel (list items, sentences, "and" between clauses).
Every part goes to the agent whose name and description match it best; a merge step combines
parallel results at the end.
"""

from __future__ import annotations

import re
from collections import Counter

from ..models import AgentSpec, Item, Plan, Subtask
from .builtin import GENERAL_PURPOSE, MERGE_AGENT
from .dag import pattern_of

MAX_SUBTASKS = 12

_SEQUENCE = re.compile(
    r"(?:[,;.]\s*|\s+)(?:and\s+)?(?:then|after\s+that|afterwards|next|finally|once\s+done)\b[,:]?\s*",
    re.IGNORECASE,
)
_LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_SENTENCE = re.compile(r"(?<=[.!?;])\s+")
_AND = re.compile(r",?\s+and\s+|,\s+", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")
_MERGE_WORDS = {
    "coordinator",
    "coordinate",
    "merge",
    "synthesize",
    "synthesise",
    "combine",
    "aggregate",
    "summarize",
    "summarise",
    "report",
    "writer",
    "lead",
    "consolidate",
}
_STOPWORDS = {
    "a",
    "an",
    "the",
    "and",
    "or",
    "of",
    "to",
    "in",
    "on",
    "for",
    "with",
    "by",
    "is",
    "are",
    "be",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "as",
    "at",
    "from",
    "into",
    "all",
    "any",
    "use",
    "when",
    "you",
    "your",
    "our",
    "we",
    "can",
    "will",
    "should",
    "agent",
    "agents",
    "then",
    "after",
    "please",
    "make",
    "do",
    "get",
    "about",
    "each",
    "every",
    "also",
    "so",
    "if",
    "not",
    "no",
}


def plan_text(item: Item, task: str) -> Plan:
    """Plan `task` (already checked: see `plans.check_plannable`) from its words."""
    stages = [parts for stage in split_stages(task) if (parts := split_parts(stage))]
    matcher = _Matcher(item)
    subtasks: list[Subtask] = []
    previous: tuple[str, ...] = ()
    for parts in stages:
        current = []
        for part in parts[: MAX_SUBTASKS - len(subtasks)]:
            agent, skills = matcher.best(part)
            sid = _unique_id(_id_base(skills[0] if skills else agent), subtasks)
            subtasks.append(
                Subtask(
                    id=sid,
                    agent=agent,
                    prompt=part,
                    after=previous,
                    merge=len(previous) > 1,
                    skills=skills,
                )
            )
            current.append(sid)
        previous = tuple(current)
    if len(previous) > 1:
        merger = coordinator_of(item)
        agent_name = merger.name if merger else MERGE_AGENT
        subtasks.append(
            Subtask(
                id=_unique_id("merge", subtasks),
                agent=agent_name,
                after=previous,
                prompt=f"Combine the results of {', '.join(previous)} into one answer to: {task}",
                merge=True,
            )
        )
    return Plan(pattern=pattern_of(subtasks), subtasks=tuple(subtasks), source="heuristic")


def split_stages(task: str) -> list[str]:
    """Sequential stages, in order: the text between sequence words."""
    return [s.strip(" ,;.") for s in _SEQUENCE.split(task) if s.strip(" ,;.")]


def split_parts(stage: str) -> list[str]:
    """Parallel parts of one stage: list items, else sentences, else clauses joined by "and"."""
    lines = [ln for ln in stage.splitlines() if ln.strip()]
    if sum(bool(_LIST_MARKER.match(ln)) for ln in lines) > 1:
        parts = [_LIST_MARKER.sub("", ln) for ln in lines]
    else:
        parts = _SENTENCE.split(" ".join(ln.strip() for ln in lines))
        if len(parts) == 1:
            clauses = _AND.split(parts[0])
            # only split where every side is a clause, not "security and performance"
            if all(len(c.split()) >= 2 for c in clauses):
                parts = clauses
    return [p.strip(" ,;.") for p in parts if p.strip(" ,;.")]


def coordinator_of(item: Item) -> AgentSpec | None:
    """The item's agent that combines results, if it has one."""
    for agent in item.agents:
        if _MERGE_WORDS & _words(f"{agent.name} {agent.name.replace('-', ' ')}"):
            return agent
    return None


def _id_base(name: str) -> str:
    """A subtask id from a part's name (`sub:x` commands, names with spaces)."""
    return "-".join(_WORD.findall(name.lower())) or "step"


def _unique_id(base: str, taken: list[Subtask]) -> str:
    ids = {s.id for s in taken}
    sid, n = base, 2
    while sid in ids:
        sid, n = f"{base}-{n}", n + 1
    return sid


def _words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


def _stem(word: str) -> str:
    """A crude stem, enough to meet "explore", "explorer" and "exploring" at "explor"."""
    for suffix in ("ions", "ing", "ers", "ion", "er", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


class _Matcher:
    """Scores the item's agents, skills and commands against a part: name words weigh more than
    description words. A skill or command goes to the general-purpose agent, which loads it."""

    def __init__(self, item: Item) -> None:
        # (agent, skills) for each candidate: the item's agents, then its skills and commands
        self._picks: list[tuple[str, tuple[str, ...]]] = [(a.name, ()) for a in item.agents]
        self._picks += [(GENERAL_PURPOSE, (s.name,)) for s in item.skills if s.model_invocable]
        parts = [(a.name, a.description) for a in item.agents]
        parts += [(s.name, s.description) for s in item.skills if s.model_invocable]
        self._name_words = [_words(name.replace("-", " ")) for name, _ in parts]
        self._desc_words = [_words(_first_paragraph(about)) for _, about in parts]
        self._used: Counter[int] = Counter()

    def best(self, part: str) -> tuple[str, tuple[str, ...]]:
        """The agent for `part`, and the skills it should use."""
        if not self._picks:  # nothing to choose from: the general-purpose agent, on its own
            return GENERAL_PURPOSE, ()
        words = _words(part)

        def score(i: int) -> tuple[int, int, int]:
            fit = 3 * len(words & self._name_words[i]) + len(words & self._desc_words[i])
            # ties go to the least-used part, then to the order of the item
            return fit, -self._used[i], -i

        best = max(range(len(self._picks)), key=score)
        self._used[best] += 1
        return self._picks[best]


def _first_paragraph(text: str) -> str:
    """Descriptions may carry long `<example>` blocks; match on the prose before them."""
    return text.split("<example>", 1)[0]
