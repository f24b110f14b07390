"""The heuristic planner: a task's prose → a DAG of subtasks, each given the part of the item that
fits it best (an agent, or a skill or command for the general-purpose agent).

The task is read into stages and concerns (`split`); each concern goes to its best part (`rank`),
the pieces of one sentence split into subtasks only when they go to different parts. A concern no
part fits goes to the general-purpose agent, and the plan says so. Parallel results end in the
item's merger (a part that says it combines results) or the built-in merge step.
"""

from __future__ import annotations

import re

from ..models import Item, Plan, Subtask
from .builtin import GENERAL_PURPOSE, MERGE_AGENT
from .dag import pattern_of
from .rank import Pick, Ranker, merger_of
from .split import Sentence, read_task

MAX_SUBTASKS = 12
# a piece of a sentence is a concern of its own only when it fits its part this well, next to
# the sentence's best-fitting piece
OWN_CONCERN = 0.5
_WORD = re.compile(r"[a-z0-9]+")


def plan_text(item: Item, task: str) -> Plan:
    """Plan `task` (already checked: see `plans.check_plannable`) from its words."""
    reading = read_task(task)
    ranker = Ranker(item)
    subtasks: list[Subtask] = []
    warnings: list[str] = []
    previous: tuple[str, ...] = ()
    for stage in reading.stages:
        current = []
        for sentence in stage:
            for text, pick in _concerns(sentence, ranker):
                if len(subtasks) >= MAX_SUBTASKS:
                    warnings.append(f"more than {MAX_SUBTASKS} subtasks: left out: {text}")
                    continue
                if pick is None:
                    pick = ranker.fallback()
                    given = "" if pick.agent == GENERAL_PURPOSE else f" (given to {pick.agent})"
                    warnings.append(f"no agent or skill of {item.ref} fits: {text}{given}")
                ranker.use(pick)
                sid = _unique_id(_id_base(pick.skills[0] if pick.skills else pick.agent), subtasks)
                subtasks.append(
                    Subtask(
                        id=sid,
                        agent=pick.agent,
                        prompt=_prompt(text, sentence.text, reading.context),
                        after=previous,
                        merge=len(previous) > 1,
                        skills=pick.skills,
                    )
                )
                current.append(sid)
        previous = tuple(current) or previous
    if len(previous) > 1:
        merger = merger_of(item) or Pick(MERGE_AGENT, (), 0.0)
        subtasks.append(
            Subtask(
                id=_unique_id("merge", subtasks),
                agent=merger.agent,
                after=previous,
                prompt=f"Combine the results of {', '.join(previous)} into one answer to: {task}",
                merge=True,
                skills=merger.skills,
            )
        )
    return Plan(
        pattern=pattern_of(subtasks),
        subtasks=tuple(subtasks),
        source="heuristic",
        warnings=tuple(warnings),
    )


def _concerns(sentence: Sentence, ranker: Ranker) -> list[tuple[str, Pick | None]]:
    """The sentence's concerns and their parts: its pieces grouped while they go to the same
    part or fit too weakly to stand alone; a piece after them that no part fits stands alone."""
    if len(sentence.pieces) == 1:
        return [(sentence.text, ranker.best(sentence.text))]
    picks = [ranker.best(piece) for piece in sentence.pieces]
    strongest = max((p.score for p in picks if p), default=0.0)

    def alone(pick: Pick | None) -> bool:
        return pick is not None and pick.score >= OWN_CONCERN * strongest

    groups: list[tuple[list[str], Pick | None]] = []
    for piece, pick in zip(sentence.pieces, picks, strict=True):
        if not groups:
            groups.append(([piece], pick))
            continue
        last = groups[-1][1]
        if pick is None and last is not None:  # no part fits it: a concern of its own
            groups.append(([piece], pick))
        elif _same(pick, last) or not alone(pick):
            groups[-1][0].append(piece)
        elif not alone(last):  # a weak start ("Build small, …") joins the first strong piece
            groups[-1] = ([*groups[-1][0], piece], pick)
        else:
            groups.append(([piece], pick))
    if len(groups) == 1:
        return [(sentence.text, ranker.best(sentence.text))]
    concerns = []
    for pieces, _ in groups:
        text = _span(sentence.text, pieces)
        concerns.append((text, ranker.best(text)))
    return concerns


def _same(a: Pick | None, b: Pick | None) -> bool:
    return a is not None and b is not None and (a.agent, a.skills) == (b.agent, b.skills)


def _span(sentence: str, pieces: list[str]) -> str:
    """The sentence's text from its first piece to its last."""
    start = sentence.find(pieces[0])
    end = sentence.find(pieces[-1], max(start, 0)) + len(pieces[-1])
    return sentence[start:end] if start >= 0 and end > start else " ".join(pieces)


def _prompt(concern: str, sentence: str, context: str) -> str:
    prompt = concern if concern == sentence else f"{concern} (part of: {sentence})"
    return f"{prompt}\n\nContext: {context}" if context else prompt


def _id_base(name: str) -> str:
    """A subtask id from a part's name (`sub:x` commands, names with spaces)."""
    return "-".join(_WORD.findall(name.lower())) or "step"


def _unique_id(base: str, taken: list[Subtask]) -> str:
    ids = {s.id for s in taken}
    sid, n = base, 2
    while sid in ids:
        sid, n = f"{base}-{n}", n + 1
    return sid
