"""The user's settings (`config.toml`)."""

from __future__ import annotations

import tomllib
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from .errors import InputError, describe_validation_error
from .models import BudgetUsd, EngineName
from .paths import Paths
from .pricing import Price

BackendChoice = Literal["auto", "demo", "claude"]  # for model agents; "auto": claude if it can
ADDRESS_FORM = "must be HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:7233"


def valid_address(text: str) -> bool:
    """`HOST:PORT` (an IPv6 host in brackets), the port 1..65535."""
    host, colon, port = text.rpartition(":")
    return (
        bool(colon and host)
        and not any(c.isspace() for c in text)
        and port.isdecimal()
        and 1 <= int(port) <= 65535
    )


def _checked_address(text: str) -> str:
    if not valid_address(text):
        raise PydanticCustomError("address", ADDRESS_FORM)
    return text


class TemporalSettings(BaseModel):
    """The Temporal server the Temporal engine and its workers use (`[temporal]`)."""

    model_config = ConfigDict(extra="forbid")

    address: Annotated[str, AfterValidator(_checked_address)] = "127.0.0.1:7233"
    namespace: str = Field("default", min_length=1)
    task_queue: str = Field("cowork-tui", min_length=1)  # the workers that serve these sessions


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
    engine: EngineName = "local"
    temporal: TemporalSettings = TemporalSettings()


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
