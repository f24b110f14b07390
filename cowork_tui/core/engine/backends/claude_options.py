"""How one agent is started in Claude Code: its prompt, tools, the plugin it has loaded, the
skills it may use, and the environment of its CLI (DESIGN §3.1)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...models import AgentSpec
from ...planning.builtin import GENERAL_PURPOSE
from .base import AgentContext
from .claude_plugin import stage_plugin
from .command import APP_VARIABLES

if TYPE_CHECKING:
    from claude_agent_sdk import ClaudeAgentOptions

RETRIES_VARIABLE, DEFAULT_RETRIES = "CLAUDE_CODE_MAX_RETRIES", "2"  # unless the user set it
TIMEOUT_VARIABLE = "API_TIMEOUT_MS"  # how long the CLI waits for the API's answer to start
NO_HOOKS = json.dumps({"disableAllHooks": True})
PLUGIN_FOLDER = "_plugin"  # in the session's outputs folder (subtask outputs are files)


@dataclass(frozen=True)
class ClaudeSetup:
    """What every agent's CLI shares."""

    env: Mapping[str, str] = field(default_factory=dict)  # added to the CLI's environment
    cli_path: str | Path | None = None  # else the CLI bundled with the SDK
    default_model: str | None = None
    stall_seconds: float = 60.0  # no word from the API for this long fails the agent
    config_dir: Path | None = None  # Claude Code's own files, when cowork-tui's home is isolated


def model_option(model: str | None, default: str | None = None) -> str | None:
    """The `--model` to pass: None/"inherit" → the default (the CLI's own when None).

    Aliases (sonnet, opus, haiku) are resolved by the CLI to the current model id, which
    the run records from the CLI's init message.
    """
    if model is None or model.strip().lower() in {"", "inherit", "default"}:
        return default
    return model.strip()


def tool_names(tools: tuple[str, ...] | None, skills: bool) -> list[str] | None:
    """Built-in tools to make available: "Bash(git *)" → "Bash" (the rule goes to allowed);
    None, Claude Code's default tools, for an agent with no `tools:` line; the Skill tool when
    the agent is to use skills."""
    if tools is None:
        return None
    names = list(dict.fromkeys(t.split("(", 1)[0].strip() for t in tools if t.strip()))
    return [*names, "Skill"] if skills and "Skill" not in names else names


def system_prompt(spec: AgentSpec) -> str:
    if spec.system_prompt.strip():
        return spec.system_prompt
    return f"You are {spec.name}. {spec.description}".strip()


def slash_skill(ctx: AgentContext) -> str | None:
    """The one skill or command the general-purpose agent is sent to run, as `/item:name`."""
    if ctx.spec.name != GENERAL_PURPOSE or len(ctx.subtask.skills) != 1:
        return None
    skill = ctx.item.skill(ctx.subtask.skills[0])
    return f"/{ctx.item.name}:{skill.name}" if skill and skill.user_invocable else None


def agent_input(ctx: AgentContext) -> str:
    """The agent's prompt: its skill to run (if one), its subtask, the session task, then
    every upstream result."""
    parts = [ctx.subtask.prompt.strip() or ctx.task]
    if ctx.task.strip() and ctx.task.strip() not in parts[0]:
        parts.append(f"(The session's overall task: {ctx.task.strip()})")
    named = [f"{ctx.item.name}:{name}" for name in ctx.subtask.skills]
    if named and slash_skill(ctx) is None:
        parts.append(f"Use these skills of the plugin (the Skill tool): {', '.join(named)}.")
    if ctx.upstream:
        parts.append("# Results of the subtasks this one builds on")
        for up in ctx.upstream:
            where = f"\n\n(full output: {up.output_path})" if up.output_path else ""
            parts.append(f"## {up.subtask} (agent {up.agent})\n\n{up.text.strip()}{where}")
    text = "\n\n".join(parts)
    slash = slash_skill(ctx)
    return f"{slash} {text}" if slash else text


def extras_left_out(ctx: AgentContext) -> str | None:
    """A note when the item's MCP servers or hooks exist but were not agreed to."""
    item = ctx.item
    if item.extras_trusted or not (item.mcp_servers or item.hooks):
        return None
    what = " and ".join(
        part for part, has in (("MCP servers", item.mcp_servers), ("hooks", item.hooks)) if has
    )
    return f"[cowork-tui] {item.ref}'s {what} are left out: install it and agree to them first"


def agent_options(
    ctx: AgentContext, setup: ClaudeSetup, stderr: Callable[[str], None]
) -> ClaudeAgentOptions:
    from claude_agent_sdk import ClaudeAgentOptions

    spec, item = ctx.spec, ctx.item
    extras = item.extras_trusted
    plugins = []
    if item.path is not None and ctx.output_dir is not None:
        staged = stage_plugin(item, ctx.output_dir / PLUGIN_FOLDER, extras=extras)
        plugins.append({"type": "local", "path": str(staged)})
    skills = [
        f"{item.name}:{name}"
        for name in ctx.subtask.skills
        if (found := item.skill(name)) and found.model_invocable
    ]
    return ClaudeAgentOptions(
        system_prompt=system_prompt(spec),
        tools=tool_names(spec.tools, bool(skills)),
        allowed_tools=list(spec.tools or ()),
        permission_mode="dontAsk",  # unattended: what is not allowed above is refused
        model=model_option(spec.model, setup.default_model),
        max_turns=spec.max_turns,
        max_budget_usd=ctx.budget_left_usd,  # a long turn stops near the session's budget
        cwd=str(ctx.cwd),
        env=cli_env(setup, ctx.session_id),
        cli_path=setup.cli_path,
        include_partial_messages=True,
        plugins=plugins,  # type: ignore[arg-type]
        skills=skills,
        setting_sources=["user"],  # never the project's settings: they can run hooks
        strict_mcp_config=not extras,  # the plugin's MCP servers only when agreed to
        settings=None if extras else NO_HOOKS,  # and its hooks
        verbatim_prompts=slash_skill(ctx) is None,  # task text never expands as a /command
        resume=ctx.conversation,  # a resumed session: the conversation Claude Code kept
        stderr=stderr,
    )


def cli_env(setup: ClaudeSetup, session_id: str) -> dict[str, str]:
    """The environment a CLI of the session gets, on top of ours (the SDK passes ours on):
    cowork-tui's own settings blanked, so its tools find neither the archive nor other
    sessions' outputs through them (no item's trust prompt asks for them)."""
    env = {name: "" for name in os.environ if name.startswith(APP_VARIABLES)}
    # a failing API fails the agent in seconds, not after the CLI's ten retries (minutes)
    if RETRIES_VARIABLE not in os.environ:
        env[RETRIES_VARIABLE] = DEFAULT_RETRIES
    if TIMEOUT_VARIABLE not in os.environ:
        env[TIMEOUT_VARIABLE] = str(int(setup.stall_seconds * 1000))
    if setup.config_dir is not None:  # an isolated home keeps Claude Code's files in it too
        setup.config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        env["CLAUDE_CONFIG_DIR"] = str(setup.config_dir)
    # the session's id marks the CLI and its tools' processes: none outlives the session
    return env | dict(setup.env) | {"COWORK_SESSION_ID": session_id}
