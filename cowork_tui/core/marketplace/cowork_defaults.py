"""The `cowork` extension object: checked where it is written (entry or plugin.json), then
merged key by key, the marketplace entry winning."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..errors import field_path
from ..models import MAX_PARALLEL, MIN_PARALLEL, CoworkDefaults, WorkflowStep

COWORK_KEYS = frozenset(f.alias or n for n, f in CoworkDefaults.model_fields.items())
STEP_KEYS = frozenset(WorkflowStep.model_fields)
_BOUNDS = {
    "maxParallelAgents": f"must be between {MIN_PARALLEL} and {MAX_PARALLEL}",
    "completionRate": "must be between 0 and 1",
    "avgSessionMinutes": "must be at least 0",
    "budgetUsd": "must be more than 0",
}
_BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
_DEFAULTS = CoworkDefaults()  # frozen: one for every plugin without a `cowork` object


@dataclass
class CoworkCheck:
    """The outcome of checking one `cowork` object (`where` = `file: path.to.cowork`)."""

    value: dict[str, Any] = field(default_factory=dict)  # empty when absent or invalid
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_cowork(value: Any, where: str) -> CoworkCheck:
    out = CoworkCheck()
    if value is None:
        return out
    if not isinstance(value, dict):
        out.errors.append(f"{where}: must be an object")
        return out
    unknown = sorted(k for k in value if k not in COWORK_KEYS)
    if unknown:
        out.warnings.append(f"{where}: unknown keys ignored: {', '.join(unknown)}")
    steps = value.get("workflow")
    if isinstance(steps, list):
        for i, step in enumerate(steps):
            extra = sorted(k for k in step if k not in STEP_KEYS) if isinstance(step, dict) else []
            if extra:
                out.warnings.append(
                    f"{where}.workflow[{i}]: unknown keys ignored: {', '.join(extra)}"
                )
    try:
        CoworkDefaults.model_validate_json(json.dumps(value), strict=True)
    except ValidationError as exc:
        out.errors.extend(_describe(where, exc))
        return out
    out.value = value
    return out


def merged_defaults(plugin: CoworkCheck, entry: CoworkCheck) -> CoworkDefaults:
    """Both objects already checked; the entry's keys win."""
    if not plugin.value and not entry.value:
        return _DEFAULTS  # most plugins: nothing to validate
    return CoworkDefaults.model_validate_json(json.dumps(plugin.value | entry.value), strict=True)


def _describe(where: str, exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = next((p for p in reversed(loc) if isinstance(p, str)), "")
        message = (
            _BOUNDS[key]
            if err["type"] in _BOUND_ERRORS and key in _BOUNDS
            else err["msg"][:1].lower() + err["msg"][1:]
        )
        lines.append(f"{where}.{field_path(loc)}: {message}" if loc else f"{where}: {message}")
    return lines
