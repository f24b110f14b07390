"""What an item can do on the machine, for the trust prompt: its command agents' commands,
and the hash of them the user confirmed at install."""

from __future__ import annotations

import hashlib
import json

from ..models import Item


def commands_of(item: Item) -> dict[str, str]:
    """Agent name → the command it runs, for the item's command agents."""
    return {a.name: a.command for a in item.agents if a.command}


def commands_hash(item: Item) -> str | None:
    commands = commands_of(item)
    if not commands:
        return None
    return hashlib.sha256(json.dumps(commands, sort_keys=True).encode()).hexdigest()


def describe_commands(item: Item) -> str:
    """The exact commands of an item's command agents, one indented block per agent."""
    blocks = []
    for agent, command in commands_of(item).items():
        body = "\n".join(f"      {line}" for line in command.strip().splitlines())
        blocks.append(f"  {agent}:\n{body}")
    return "\n".join(blocks)
