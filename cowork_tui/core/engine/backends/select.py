"""Which backend runs model agents: `--backend auto` picks Claude when it can really run."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Mapping
from pathlib import Path

INSTALL_HINT = "pip install 'cowork-tui[claude]'"
SIMULATED_NOTICE = "using the demo backend: model agents are simulated, no real agent runs"

_KEY_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
_PROVIDER_VARIABLES = (
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
)


def sdk_installed() -> bool:
    return importlib.util.find_spec("claude_agent_sdk") is not None


def claude_credentials(
    env: Mapping[str, str] | None = None, home: Path | None = None
) -> str | None:
    """Where Claude Code would find credentials (a short description), None if nowhere."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    for name in _KEY_VARIABLES:
        if env.get(name, "").strip():
            return name
    for name in _PROVIDER_VARIABLES:
        if env.get(name, "").strip().lower() in {"1", "true", "yes"}:
            return name
    config_dir = (
        Path(env["CLAUDE_CONFIG_DIR"]) if env.get("CLAUDE_CONFIG_DIR") else home / ".claude"
    )
    if (config_dir / ".credentials.json").is_file():
        return "a logged-in Claude Code"
    global_config = _read_json(config_dir / ".claude.json") or _read_json(home / ".claude.json")
    if "primaryApiKey" in global_config or "oauthAccount" in global_config:
        return "a logged-in Claude Code"
    if "apiKeyHelper" in _read_json(config_dir / "settings.json"):
        return "Claude Code's apiKeyHelper"
    return None


def claude_unavailable_reason(
    env: Mapping[str, str] | None = None, home: Path | None = None
) -> str | None:
    """Why the Claude backend cannot run here, None when it can."""
    if not sdk_installed():
        return f"the 'claude' extra is not installed: {INSTALL_HINT}"
    if claude_credentials(env, home) is None:
        return "no credentials: set ANTHROPIC_API_KEY or log in with `claude /login`"
    return None


def resolve_backend(
    name: str, env: Mapping[str, str] | None = None, home: Path | None = None
) -> tuple[str, str | None]:
    """The backend to use for `name` ("auto" resolved) and a notice to show, if any."""
    if name != "auto":
        return name, None
    reason = claude_unavailable_reason(env, home)
    if reason is None:
        return "claude", None
    return "demo", f"Claude backend unavailable ({reason}): {SIMULATED_NOTICE}"


def _read_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
