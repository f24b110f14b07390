"""The heuristic planner against hand-written cases on real plugins, and its speed.

Accuracy: each case of planner_cases.json (written before any tuning) is planned on its item of
../shared/interop; it is right when the plan has one subtask per expected concern, each given
one of the parts accepted for it (an agent, or the skill or command the general-purpose agent
is sent to), or, for "none", the general-purpose agent with no skill and a warning saying so.
Every third case is held out: never tuned against, reported apart.
Speed: milliseconds per plan for an item of 200 parts (real skill descriptions), against the
time to read the task's words once (a baseline measured in the same run).
Run: python benchmarks/planner.py [--show]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cowork_tui.core.marketplace.loader import load_marketplace  # noqa: E402
from cowork_tui.core.models import Item, Plan, SkillSpec  # noqa: E402
from cowork_tui.core.planning.builtin import GENERAL_PURPOSE  # noqa: E402
from cowork_tui.core.planning.plans import plan_task  # noqa: E402

INTEROP = ROOT.parent / "shared" / "interop"
CASES = Path(__file__).with_name("planner_cases.json")


def parts_of(plan: Plan) -> list[str]:
    """The part each subtask (the merge left out) is given: its agent, or its skill."""
    parts = []
    for sub in plan.subtasks:
        if sub.merge:
            continue
        if sub.agent == GENERAL_PURPOSE:
            parts.append(sub.skills[0] if sub.skills else "none")
        else:
            parts.append(sub.agent)
    return parts


def right(plan: Plan, expect: list[list[str]]) -> bool:
    parts = parts_of(plan)
    if len(parts) != len(expect):
        return False
    if any(accepted == ["none"] for accepted in expect) and not plan.warnings:
        return False  # no fit must be said
    left = list(parts)
    for accepted in sorted(expect, key=len):  # the most constrained concern first
        match = next((p for p in left if p in accepted), None)
        if match is None:
            return False
        left.remove(match)
    return True


def load_items() -> dict[str, Item]:
    items = {}
    for folder in sorted(p for p in INTEROP.iterdir() if p.is_dir()):
        for item in load_marketplace(folder).items:
            items[item.ref] = item
    return items


def accuracy(show: bool) -> dict[str, float]:
    items = load_items()
    cases = json.loads(CASES.read_text())["cases"]
    scores: dict[str, list[bool]] = {"tuned": [], "held_out": []}
    for n, case in enumerate(cases):
        plan = plan_task(items[case["item"]], case["task"])
        ok = right(plan, case["expect"])
        scores["held_out" if n % 3 == 2 else "tuned"].append(ok)
        if show and not ok:
            print(f"  {'held out' if n % 3 == 2 else 'tuned':8} {case['item']}: {case['task']!r}")
            print(f"           expected {case['expect']}, got {parts_of(plan)} {plan.warnings}")
    return {name: sum(oks) / len(oks) for name, oks in scores.items()}


def speed(parts: int = 200, runs: int = 50) -> tuple[float, float]:
    """ms per plan of an item with `parts` parts, and ms to split the task's words once."""
    skills = [s for item in load_items().values() for s in item.skills if s.description]
    many = tuple(
        SkillSpec(name=f"{s.name}-{n}", description=s.description)
        for n, s in enumerate((skills * (parts // len(skills) + 1))[:parts])
    )
    item = Item(name="many", marketplace="bench", skills=many, path=ROOT)
    task = ("Review the error handling and the tests. Then reconcile the accounts, draft the "
            "release notes and audit the accessibility of the signup page.")  # fmt: skip
    plan_task(item, task)  # warm: whatever is built once per item
    began = time.perf_counter()
    for _ in range(runs):
        plan_task(item, task)
    per_plan = (time.perf_counter() - began) / runs * 1000
    began = time.perf_counter()
    for _ in range(runs):
        re.findall(r"\w+", task.lower())
    baseline = (time.perf_counter() - began) / runs * 1000
    return per_plan, baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print the cases it gets wrong")
    args = parser.parse_args()
    scores = accuracy(args.show)
    per_plan, baseline = speed()
    print(f"accuracy: held out {scores['held_out']:.0%} (goal >= 90%), tuned {scores['tuned']:.0%}")
    print(f"speed: {per_plan:.2f} ms per plan, 200 parts (goal <= 20 ms); "
          f"reading the task's words: {baseline:.3f} ms")  # fmt: skip
    print(
        f"held_out={scores['held_out']:.3f} tuned={scores['tuned']:.3f} "
        f"plan_ms={per_plan:.2f} baseline_ms={baseline:.3f} ratio={per_plan / baseline:.0f}"
    )


if __name__ == "__main__":
    main()
