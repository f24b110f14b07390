"""Clear messages for the ways a Claude Code agent can fail (never a traceback)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .select import INSTALL_HINT

if TYPE_CHECKING:
    from claude_agent_sdk import ResultMessage

LOGIN_HINT = "set ANTHROPIC_API_KEY or log in with `claude /login`"


def describe_result_error(
    result: ResultMessage, assistant_error: str | None, max_turns: int | None
) -> str:
    """Why a run whose result message says `is_error` failed."""
    text = (result.result or "; ".join(result.errors or ()) or "").strip()
    status = result.api_error_status
    if result.subtype == "error_max_turns":
        return f"stopped at its turn limit (max_turns={max_turns}) before finishing"
    if result.subtype == "error_max_budget_usd":
        return "stopped at its budget limit before finishing"
    if status == 429 or assistant_error == "rate_limit":
        return f"rate limited by the Claude API (HTTP 429): {text or 'too many requests'}"
    if assistant_error == "authentication_failed" or status in (401, 403):
        return f"no valid Claude credentials ({text or 'authentication failed'}): {LOGIN_HINT}"
    if assistant_error == "billing_error":
        return f"Claude API billing error: {text}"
    if status is not None:
        return f"Claude API error (HTTP {status}): {text or 'no message'}"
    if result.terminal_reason == "api_error" or assistant_error == "server_error":
        return f"the Claude API could not be reached or did not answer: {text or 'no message'}"
    if result.subtype == "success":  # is_error with subtype "success": the text says why
        return f"Claude Code failed: {text or 'no message'}"
    return f"Claude Code failed ({result.subtype}): {text or 'no message'}"


def describe_stall(seconds: float) -> str:
    return (
        f"stalled: the Claude API sent nothing for {seconds:g} s "
        "(stall_seconds in config.toml sets how long to wait)"
    )


def describe_exception(exc: BaseException, stderr_tail: str = "") -> str:
    """A failure of the SDK or of the CLI process itself."""
    from claude_agent_sdk import (
        CLIConnectionError,
        CLIJSONDecodeError,
        CLINotFoundError,
        ProcessError,
    )

    detail = f" — {stderr_tail}" if stderr_tail else ""
    if isinstance(exc, CLINotFoundError):
        return f"Claude Code CLI not found ({exc}): {INSTALL_HINT}"
    if isinstance(exc, ProcessError):
        code = f" with exit code {exc.exit_code}" if exc.exit_code is not None else ""
        output = (exc.stderr or stderr_tail).strip()
        return f"Claude Code exited{code}" + (f": {output[-500:]}" if output else "")
    if isinstance(exc, CLIJSONDecodeError):
        return f"Claude Code sent output that is not JSON: {exc}"
    if isinstance(exc, CLIConnectionError):
        return f"could not talk to Claude Code: {exc}{detail}"
    return f"Claude Code failed: {type(exc).__name__}: {exc}{detail}"
