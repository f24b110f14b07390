"""The one launch path, used by `run`, `launch`, the launcher screen and re-run: find the item,
check it can run and is trusted, resolve the backend, build the request; and the launcher's
preview of the plan and its cost."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from .config import Settings
from .engine.backends.select import claude_unavailable_reason, resolve_backend
from .engine.protocol import LaunchRequest
from .engine.resume import check_resumable
from .errors import InputError
from .marketplace.catalog import Catalog
from .models import Item, Plan, SessionRecord, Tokens
from .planning.builtin import built_in_spec
from .planning.plans import check_plannable, plan_task
from .pricing import PriceTable

# a rough guess of one model agent's usage, for the cost estimate
TYPICAL_USAGE = Tokens(input=20_000, output=2_000)


def parse_budget(text: str, what: str = "budget") -> float | None:
    """A budget in dollars from user input ("1.50" or "$1.50"); None when empty (no budget);
    InputError naming `what` when it is not an amount above zero."""
    cleaned = text.strip().removeprefix("$").strip()
    if not cleaned:
        return None
    try:
        value = float(cleaned)
    except ValueError:
        raise InputError(f"{what}: not an amount of dollars: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{what}: must be more than $0 (got {text!r})")
    return value


@dataclass(frozen=True)
class Estimate:
    duration: str  # in words: the item's own estimate
    cost: str


@dataclass(frozen=True)
class Preview:
    plan: Plan
    backend: str  # the one that would run the model agents
    estimate: Estimate
    model_plans: bool  # Claude makes the session's plan when it starts: this one is a draft


class Launcher:
    def __init__(
        self,
        catalog: Catalog,
        settings: Settings,
        prices: PriceTable,
        claude_config_dir: Path | None = None,
    ) -> None:
        """`claude_config_dir`: Claude Code's files for an isolated home (its login too)."""
        self._catalog, self._settings, self._prices = catalog, settings, prices
        self._claude_env = (
            dict(os.environ) | {"CLAUDE_CONFIG_DIR": str(claude_config_dir)}
            if claude_config_dir
            else None
        )

    def request(
        self,
        item: Item | str,
        task: str,
        *,
        cwd: Path,
        backend: str | None = None,
        max_parallel: int | None = None,
        budget_usd: float | None = None,
    ) -> tuple[LaunchRequest, str | None]:
        """The request, and a notice to show when the backend is not the one asked for;
        InputError when the item cannot run here or is not trusted (nothing is launched).
        The budget: `budget_usd`, else the item's default, else the config's."""
        if isinstance(item, str):
            item = self._catalog.find(item)
        check_plannable(item, task)
        self._catalog.check_trust(item)
        name, notice = self.backend_for(item, backend)
        request = LaunchRequest(
            item=item,
            task=task,
            backend=name,
            max_parallel=max_parallel or item.cowork.max_parallel_agents,
            cwd=cwd,
            budget_usd=self.budget_for(item, budget_usd),
        )
        return request, notice

    def budget_for(self, item: Item, asked: float | None) -> float | None:
        """A session's budget: the one asked for, else the item's default, else the config's."""
        for budget in (asked, item.cowork.budget_usd, self._settings.budget_usd):
            if budget is not None:
                return budget
        return None

    def resume_request(self, record: SessionRecord) -> LaunchRequest:
        """The request that continues INTERRUPTED session `record` under its id (DESIGN §4),
        on its backend, in its folder; InputError when it cannot (nothing is launched)."""
        item = self._catalog.find(f"{record.item}@{record.marketplace}")
        check_resumable(record, item)
        self._catalog.check_trust(item)
        cwd = Path(record.cwd)
        if not cwd.is_dir():
            raise InputError(f"session {record.id}: its folder is gone: {cwd}")
        if record.backend == "claude" and (why := claude_unavailable_reason(self._claude_env)):
            raise InputError(f"session {record.id} ran on Claude, which cannot run here: {why}")
        return LaunchRequest(
            item=item,
            task=record.task,
            backend=record.backend,
            max_parallel=record.max_parallel,
            cwd=cwd,
            plan=record.plan,
            resumed=record,
            budget_usd=record.budget_usd,  # the session's own, whatever the defaults now
        )

    def needs_agreement(self, item: Item) -> bool:
        """Whether the user must see and agree to what `item` can do before it runs fully."""
        return self._catalog.needs_confirmation(item)

    def agree(self, item: Item) -> Item:
        """The user saw what `item` can do and agreed: installed and trusted."""
        return self._catalog.install(item.ref, yes=True)

    def backend_for(self, item: Item, asked: str | None) -> tuple[str, str | None]:
        """The backend for the item's model agents ("auto" resolved), and a notice when it is
        not the one asked for; "command" for an item of command agents only (nothing
        simulated)."""
        if not item.uses_models:
            return "command", None
        return resolve_backend(asked or self._settings.default_backend, self._claude_env)

    def model_plans(self, item: Item, backend: str) -> bool:
        """Whether Claude plans a session of `item` whose model agents run on `backend`."""
        setting = self._settings.model_planner
        if item.cowork.workflow or setting is False:
            return False
        if setting == "auto" or backend == "claude":
            return backend == "claude"
        return claude_unavailable_reason(self._claude_env) is None

    def preview(self, item: Item, task: str, backend: str | None) -> Preview:
        """What launching would run (InputError when it could not be planned)."""
        plan = plan_task(item, task)
        name, _ = self.backend_for(item, backend)
        return Preview(plan, name, self.estimate(item, plan, name), self.model_plans(item, name))

    def estimate(self, item: Item, plan: Plan, backend: str) -> Estimate:
        """How long and how much running `plan` might take, in words."""
        duration = item.cowork.estimated_duration or "not given"
        return Estimate(duration, self._estimate_cost(item, plan, backend))

    def _estimate_cost(self, item: Item, plan: Plan, backend: str) -> str:
        # a subtask whose agent is not the item's is a built-in one: general-purpose is a model
        # agent, and so is the merge of an item that uses models (else it merges in process)
        specs = [item.agent(sub.agent) or built_in_spec(item, sub.agent) for sub in plan.subtasks]
        models = [s for s in specs if s is not None and s.kind == "model"]
        if not models:
            return "$0 (local commands only)"
        if backend == "demo":
            return "$0 (demo: model agents are simulated)"
        total = sum(self._prices.cost(spec.model or "sonnet", TYPICAL_USAGE) for spec in models)
        return f"≈ ${total:.2f} (rough: 20k input + 2k output tokens per model agent)"
