"""A plan drawn as stages: one line per subtask, parallel subtasks side by side in a stage."""

from __future__ import annotations

from rich.text import Text

from ...core.models import Plan
from ...core.planning.dag import stages
from ...core.planning.plans import SOURCES
from ...core.text import one_line


def draw_plan(plan: Plan) -> Text:
    """sequential: a chain; parallel: a list; fan-out-fan-in: a list joined into the merge."""
    text = Text()
    text.append(f"{plan.pattern} ", "bold")
    text.append(f"· {len(plan.subtasks)} subtasks · {SOURCES[plan.source]}\n", "dim")
    levels = stages(plan)
    for number, level in enumerate(levels):
        if number:
            text.append("   │\n   ▼\n", "dim")
        for index, sub in enumerate(level):
            if len(level) > 1:
                text.append(" ├ " if index < len(level) - 1 else " └ ", "dim")
            else:
                text.append(" ● ", "cyan")
            text.append(sub.id, "bold")
            text.append(f" → {sub.agent}", "cyan")
            if sub.skills:
                text.append(f" [{', '.join(sub.skills)}]", "magenta")
            text.append("  (merge)" if sub.merge else "", "dim")
            text.append(f"\n     {one_line(sub.prompt, 70)}\n", "dim")
    return text
