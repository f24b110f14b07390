"""The demo backend: a labelled simulation of model agents, for trying cowork-tui offline.

Everything it produces says "[simulated]". Steps, token counts and output are derived from
the agent and its subtask and are the same on every run of the same task (the seed is a hash
of task, subtask and agent); only the step delays are real time.
"""

from __future__ import annotations

import hashlib
import random
import re

import anyio

from ...models import SIMULATION, Tokens
from .base import AgentContext, AgentOutcome, AgentReporter, AgentRun, Backend

SIMULATED = "[simulated]"
DEMO_MODEL = "demo"
_MODEL_IDS = {
    "opus": "claude-opus-4-5",
    "sonnet": "claude-sonnet-4-5",
    "haiku": "claude-haiku-4-5",
    "inherit": "claude-sonnet-4-5",
}
_WORD = re.compile(r"[A-Za-z][A-Za-z-]{3,}")
_VERBS = ("Reading", "Reviewing", "Checking", "Analysing", "Comparing", "Drafting notes on")


def demo_model(alias: str | None) -> str:
    """A plausible model id for an agent's `model:` (an alias, a full id, or nothing)."""
    if alias is None:
        return _MODEL_IDS["sonnet"]
    if alias.startswith("claude-"):
        return alias
    return _MODEL_IDS.get(alias.lower(), DEMO_MODEL)


def demo_seed(ctx: AgentContext) -> int:
    key = "\0".join((ctx.task, ctx.subtask.id, ctx.subtask.prompt, ctx.spec.name))
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


class DemoBackend(Backend):
    name = SIMULATION

    def __init__(self, step_seconds: float = 0.8) -> None:
        self.step_seconds = step_seconds

    async def start(self, ctx: AgentContext, reporter: AgentReporter) -> AgentRun:
        return DemoRun(ctx, reporter, self.step_seconds)


class DemoRun(AgentRun):
    cannot_steer = "a demo agent is a simulation: it cannot be steered (run on Claude to steer)"

    def __init__(self, ctx: AgentContext, reporter: AgentReporter, step_seconds: float) -> None:
        self._ctx = ctx
        self._reporter = reporter
        self._step_seconds = step_seconds
        self._rng = random.Random(demo_seed(ctx))
        self._model = demo_model(ctx.spec.model)
        self._running = anyio.Event()  # set while not paused
        self._running.set()
        self._stopped = anyio.Event()

    async def wait(self) -> AgentOutcome:
        steps = self._steps()
        rng, ctx = self._rng, self._ctx
        context = len(ctx.spec.system_prompt) + len(ctx.subtask.prompt)
        context += sum(len(up.text) for up in ctx.upstream)
        tokens = Tokens()
        for i, step in enumerate(steps):
            if not await self._next_step():
                return AgentOutcome(ok=False, error="stopped")
            self._reporter.progress(i / len(steps), f"{SIMULATED} {step}")
            self._reporter.output(f"{SIMULATED} {step}\n")
            with anyio.move_on_after(self._step_seconds * rng.uniform(0.6, 1.4)):
                await self._stopped.wait()
            tokens = tokens + Tokens(
                input=context // 4 + rng.randint(800, 2500),
                output=rng.randint(150, 700),
                cache_read=rng.randint(0, 3000) if i else 0,
            )
            self._reporter.usage(tokens, self._model)
        if self._stopped.is_set():
            return AgentOutcome(ok=False, error="stopped")
        result = self._result(steps)
        self._reporter.output(result)
        self._reporter.progress(1.0, f"{SIMULATED} done")
        return AgentOutcome(ok=True, output=result)

    async def pause(self) -> None:
        self._running = anyio.Event()

    async def resume(self) -> None:
        self._running.set()

    async def stop(self) -> None:
        self._stopped.set()
        self._running.set()

    async def _next_step(self) -> bool:
        """Wait while paused; False once stopped."""
        await self._running.wait()
        return not self._stopped.is_set()

    def _steps(self) -> list[str]:
        ctx, rng = self._ctx, self._rng
        skills = [ctx.item.skill(name) for name in ctx.subtask.skills]
        about = " ".join(s.description for s in skills if s) or ctx.spec.description
        words = _WORD.findall(f"{ctx.subtask.prompt} {about}")
        topics = list(dict.fromkeys(w.lower() for w in words)) or [ctx.spec.name]
        middle = [
            f"{rng.choice(_VERBS)} {topic}"
            for topic in rng.sample(topics, min(len(topics), rng.randint(1, 4)))
        ]
        inputs = "upstream results" if ctx.upstream else "the task"
        used = [f"Using the skill {ctx.item.name}:{name}" for name in ctx.subtask.skills]
        return [f"Reading {inputs}", *used, *middle, "Writing the result"]

    def _result(self, steps: list[str]) -> str:
        ctx, rng = self._ctx, self._rng
        lines = [f"{SIMULATED} {ctx.spec.name} on: {ctx.subtask.prompt}", ""]
        if ctx.subtask.skills:
            used = ", ".join(f"{ctx.item.name}:{name}" for name in ctx.subtask.skills)
            lines += [f"- following {used} (its instructions were not really read)", ""]
        lines += [f"- {step.split(' ', 1)[-1]}: {rng.choice(_FINDINGS)}" for step in steps[1:-1]]
        if ctx.upstream:
            lines.append(
                f"- combined {len(ctx.upstream)} upstream results: "
                + ", ".join(up.subtask for up in ctx.upstream)
            )
        lines += ["", f"{SIMULATED} No real model was called."]
        return "\n".join(lines) + "\n"


_FINDINGS = (
    "looks consistent",
    "two points to follow up",
    "one issue worth fixing",
    "nothing unusual found",
    "worth a closer look",
    "covered, with minor gaps",
)
