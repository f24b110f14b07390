"""The user's settings (`config.toml`)."""

from __future__ import annotations

import tomllib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InputError, describe_validation_error
from .models import BudgetUsd
from .paths import Paths
from .pricing import Price

BackendChoice = Literal["auto", "demo", "claude"]  # for model agents; "auto": claude if it can


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_seconds: float = Field(3.0, ge=1, le=10)
    default_backend: BackendChoice = "auto"
    grace_seconds: float = Field(5.0, ge=0, le=60)  # SIGTERM → SIGKILL on cancel and timeout
    stall_seconds: float = Field(60.0, ge=1, le=3600)  # a Claude API silent this long: failed
    stall_warn_seconds: float = Field(20.0, ge=1, le=3600)  # this long: shown "stalled"
    # a session that ends, fails or stops at its budget out of sight: a notification and the
    # terminal bell ("none": neither)
    notify: Literal["bell", "none"] = "bell"
    bell: bool = True  # the older switch: false keeps the bell quiet whatever `notify` says
    budget_usd: BudgetUsd | None = None  # a session's spending cap unless its item gives one
    # Claude plans items without a workflow: "auto" when the session runs on Claude, true
    # whenever Claude is available; the heuristic planner otherwise, and when Claude fails
    model_planner: Literal["auto"] | bool = "auto"
    pricing: dict[str, Price] = {}  # model or tier name → price, overriding the built-in list


def load_settings(paths: Paths) -> Settings:
    """Read `config.toml`; a missing file means the defaults."""
    file = paths.config_file
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{file}: {exc}") from exc
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe_validation_error(file.name, exc)) from exc
