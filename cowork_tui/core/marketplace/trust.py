"""What an item can do on the machine, for the trust prompt: its command agents' commands, its
agents' tools, its MCP servers and hooks; and the hashes of them the user agreed to at install.

Commands must be agreed to before they run. MCP servers and hooks run only once agreed to;
without that, the item's agents run without them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..models import Item

DEFAULT_TOOLS = "Claude Code's default tools"
REMOTE_KINDS = ("github", "url", "git-subdir", "npm")  # the sources fetched into the cache


def commands_of(item: Item) -> dict[str, str]:
    """What runs local programs without a model, and what it runs: command agents (by name),
    and skills and commands that run shell commands as Claude Code expands them (`/name`)."""
    commands = {a.name: a.command for a in item.agents if a.command}
    commands |= {f"/{item.name}:{s.name}": "\n".join(s.shell) for s in item.skills if s.shell}
    return commands


def commands_hash(item: Item) -> str | None:
    return _hash(commands_of(item))


def extras_hash(item: Item) -> str | None:
    """Of the item's MCP servers and hooks, None when it has neither."""
    extras = {
        "mcp": {server.name: server.config for server in item.mcp_servers},
        "hooks": [[hook.event, hook.config] for hook in item.hooks],
    }
    return _hash(extras) if item.mcp_servers or item.hooks else None


def acts_on_the_machine(item: Item) -> bool:
    """Whether installing `item` needs the user's agreement."""
    return bool(commands_of(item) or item.mcp_servers or item.hooks)


def describe_trust(item: Item) -> str:
    """Everything of `item` that can act on the machine, one indented block per kind."""
    blocks = []
    if is_fetched(item):
        blocks.append(f"  fetched from: {item.source}")
    if commands := commands_of(item):
        lines = ["  local programs (run without a model, through `sh -c` or Claude Code):"]
        for agent, command in commands.items():
            lines.append(f"    {agent}:")
            lines += [f"        {line}" for line in command.strip().splitlines()]
        blocks.append("\n".join(lines))
    model_agents = [a for a in item.agents if a.kind == "model"]
    if model_agents or item.skills:
        lines = ["  tools of its agents:"]
        lines += [
            f"    {a.name}: {', '.join(a.tools) if a.tools is not None else DEFAULT_TOOLS}"
            for a in model_agents
        ]
        if item.skills:
            lines.append(f"    general-purpose (its skills and commands): {DEFAULT_TOOLS}")
        blocks.append("\n".join(lines))
    if item.mcp_servers:
        lines = ["  MCP servers:"]
        lines += [f"    {s.name}: {s.command or s.url or 'no command'}" for s in item.mcp_servers]
        blocks.append("\n".join(lines))
    if item.hooks:
        lines = ["  hooks:"]
        for hook in item.hooks:
            where = f"{hook.event} [{hook.matcher}]" if hook.matcher else hook.event
            lines += [f"    {where}: {action}" for action in hook.actions or ("(nothing)",)]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def is_fetched(item: Item) -> bool:
    """Whether `item` was loaded from a remote source's copy in the cache."""
    return item.path is not None and item.source.split(" ", 1)[0] in REMOTE_KINDS


def trust_prompt(item: Item) -> str:
    """`can act on this machine:` and what can (the item's ref goes in front)."""
    return f"can act on this machine:\n{describe_trust(item)}"


def _hash(data: Any) -> str | None:
    if not data:
        return None
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
