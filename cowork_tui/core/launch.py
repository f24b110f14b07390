"""The one launch path, used by `run`, `launch`, the launcher screen and re-run: find the item,
check it can run and is trusted, resolve the backend, build the request; and the launcher's
preview of the plan and its cost."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import Settings
from .engine.backends.select import resolve_backend
from .engine.protocol import LaunchRequest
from .marketplace.catalog import Catalog
from .models import Item, Plan, Tokens
from .planning.plans import check_plannable, plan_task
from .pricing import PriceTable

# a rough guess of one model agent's usage, for the cost estimate
TYPICAL_USAGE = Tokens(input=20_000, output=2_000)


@dataclass(frozen=True)
class Preview:
    plan: Plan
    backend: str  # the one that would run the model agents
    cost: str  # the estimate, in words


class Launcher:
    def __init__(self, catalog: Catalog, settings: Settings, prices: PriceTable) -> None:
        self._catalog, self._settings, self._prices = catalog, settings, prices

    def request(
        self,
        item: Item | str,
        task: str,
        *,
        cwd: Path,
        backend: str | None = None,
        max_parallel: int | None = None,
    ) -> tuple[LaunchRequest, str | None]:
        """The request, and a notice to show when the backend is not the one asked for;
        InputError when the item cannot run here or is not trusted (nothing is launched)."""
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
        )
        return request, notice

    def backend_for(self, item: Item, asked: str | None) -> tuple[str, str | None]:
        """The backend for the item's model agents ("auto" resolved), and a notice when it is
        not the one asked for; "command" for an item of command agents only (nothing
        simulated)."""
        if all(agent.kind == "command" for agent in item.agents):
            return "command", None
        return resolve_backend(asked or self._settings.default_backend)

    def preview(self, item: Item, task: str, backend: str | None) -> Preview:
        """What launching would run (InputError when it could not be planned)."""
        plan = plan_task(item, task)
        name, _ = self.backend_for(item, backend)
        return Preview(plan, name, self._estimate_cost(item, plan, name))

    def _estimate_cost(self, item: Item, plan: Plan, backend: str) -> str:
        # a subtask whose agent is not the item's is the built-in merge: a model agent only
        # when the item has model agents (else it merges in process)
        has_models = any(spec.kind == "model" for spec in item.agents)
        specs = [item.agent(sub.agent) for sub in plan.subtasks]
        models = [s for s in specs if (s.kind == "model" if s else has_models)]
        if not models:
            return "$0 (local commands only)"
        if backend == "demo":
            return "$0 (demo: model agents are simulated)"
        total = sum(
            self._prices.cost((spec.model if spec else None) or "sonnet", TYPICAL_USAGE)
            for spec in models
        )
        return f"≈ ${total:.2f} (rough: 20k input + 2k output tokens per model agent)"
