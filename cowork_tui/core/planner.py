"""Task → plan: a DAG of subtasks, each mapped to one of the item's agents.

A declared `cowork.workflow` is used as is. Otherwise the task text is split into stages
(sequence words: "then", "after that", "finally"...) and each stage into parts that run in
parallel (list items, sentences, "and" between clauses). Every part goes to the agent whose
name and description match it best; a merge step combines parallel results at the end.
"""

from __future__ import annotations

import re
from collections import Counter

from .errors import InputError
from .models import AgentSpec, Item, Pattern, Plan, Subtask

MERGE_AGENT = "merge"  # the built-in merge step, used when the item has no coordinator agent
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


def check_plannable(item: Item, task: str) -> None:
    """InputError unless `item` can run and `task` says something."""
    if not item.available:
        raise InputError(f"{item.ref}: not available ({'; '.join(item.errors) or item.source})")
    if not item.agents:
        raise InputError(f"{item.ref}: the item has no agents to run")
    if not task.strip():
        raise InputError("task: must not be empty")


def plan_task(item: Item, task: str) -> Plan:
    """The plan for `task` on `item` (InputError when it cannot be planned)."""
    check_plannable(item, task)
    if item.cowork.workflow:
        return _from_workflow(item, task)
    return _from_text(item, task.strip())


def _from_workflow(item: Item, task: str) -> Plan:
    subtasks = []
    for step in item.cowork.workflow or ():
        if item.agent(step.agent) is None:
            raise InputError(
                f"{item.ref}: workflow step {step.id!r} names unknown agent {step.agent!r}"
            )
        prompt = step.prompt.replace("{task}", task) if step.prompt else task
        subtasks.append(
            Subtask(
                id=step.id,
                agent=step.agent,
                prompt=prompt,
                after=step.after,
                merge=len(step.after) > 1,
            )
        )
    return Plan(pattern=pattern_of(subtasks), subtasks=tuple(subtasks), source="workflow")


def _from_text(item: Item, task: str) -> Plan:
    stages = [parts for stage in split_stages(task) if (parts := split_parts(stage))]
    matcher = _Matcher(item.agents)
    subtasks: list[Subtask] = []
    previous: tuple[str, ...] = ()
    for parts in stages:
        current = []
        for part in parts[: MAX_SUBTASKS - len(subtasks)]:
            agent = matcher.best(part)
            sid = _unique_id(agent.name, subtasks)
            subtasks.append(
                Subtask(
                    id=sid, agent=agent.name, prompt=part, after=previous, merge=len(previous) > 1
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


def pattern_of(subtasks: list[Subtask] | tuple[Subtask, ...]) -> Pattern:
    """Name the shape of the DAG."""
    if len(subtasks) == 1:
        return "single"
    edges = sum(len(s.after) for s in subtasks)
    if edges == 0:
        return "parallel"
    chain = all(
        len(s.after) == (0 if i == 0 else 1) and (i == 0 or s.after[0] == subtasks[i - 1].id)
        for i, s in enumerate(subtasks)
    )
    if chain:
        return "sequential"
    if any(len(s.after) > 1 for s in subtasks) or _fans_out(subtasks):
        return "fan-out-fan-in"
    return "dag"


def _fans_out(subtasks: list[Subtask] | tuple[Subtask, ...]) -> bool:
    counts = Counter(dep for s in subtasks for dep in s.after)
    return any(n > 1 for n in counts.values())


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
    """Scores agents against a part: name words weigh more than description words."""

    def __init__(self, agents: tuple[AgentSpec, ...]) -> None:
        self._agents = agents
        self._name_words = [_words(a.name.replace("-", " ")) for a in agents]
        self._desc_words = [_words(_first_paragraph(a.description)) for a in agents]
        self._used: Counter[str] = Counter()

    def best(self, part: str) -> AgentSpec:
        words = _words(part)

        def score(i: int) -> tuple[int, int, int]:
            fit = 3 * len(words & self._name_words[i]) + len(words & self._desc_words[i])
            # ties go to the least-used agent, then to the order of the item
            return fit, -self._used[self._agents[i].name], -i

        agent = self._agents[max(range(len(self._agents)), key=score)]
        self._used[agent.name] += 1
        return agent


def _first_paragraph(text: str) -> str:
    """Descriptions may carry long `<example>` blocks; match on the prose before them."""
    return text.split("<example>", 1)[0]
