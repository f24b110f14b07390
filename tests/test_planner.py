from __future__ import annotations

import pytest

from cowork_tui.core.errors import InputError
from cowork_tui.core.models import AgentSpec, CoworkDefaults, Item, WorkflowStep
from cowork_tui.core.planning.builtin import MERGE_AGENT
from cowork_tui.core.planning.heuristic import split_parts, split_stages
from cowork_tui.core.planning.plans import plan_task


def agent(name: str, description: str) -> AgentSpec:
    return AgentSpec(name=name, description=description)


REVIEW = Item(
    name="review",
    marketplace="m",
    agents=(
        agent("security-reviewer", "Finds security vulnerabilities, secrets and injection flaws"),
        agent("performance-reviewer", "Finds slow code, allocations and performance problems"),
        agent("test-writer", "Writes missing unit tests"),
        agent("coordinator", "Combines the reviewers' findings into one report"),
    ),
)


def test_splits_stages_on_sequence_words() -> None:
    assert split_stages("scan the code, then write tests and finally report") == [
        "scan the code",
        "write tests",
        "report",
    ]
    assert split_stages("check security. After that, summarize") == ["check security", "summarize"]


def test_splits_parts_on_lists_sentences_and_clauses() -> None:
    assert split_parts("- check a\n- check b\n- check c") == ["check a", "check b", "check c"]
    assert split_parts("Check the auth code. Profile the parser.") == [
        "Check the auth code",
        "Profile the parser",
    ]
    assert split_parts("audit the secrets and profile the hot loop") == [
        "audit the secrets",
        "profile the hot loop",
    ]
    # "security and performance" is one noun phrase, not two clauses
    assert split_parts("review security and performance") == ["review security and performance"]


def test_parallel_parts_go_to_the_best_agents_and_are_merged() -> None:
    plan = plan_task(REVIEW, "look for security vulnerabilities and find performance problems")
    agents = [s.agent for s in plan.subtasks]
    assert agents == ["security-reviewer", "performance-reviewer", "coordinator"]
    merge = plan.subtasks[-1]
    assert merge.merge and set(merge.after) == {"security-reviewer", "performance-reviewer"}
    assert plan.pattern == "fan-out-fan-in"
    assert plan.source == "heuristic"


def test_then_orders_subtasks_sequentially() -> None:
    plan = plan_task(REVIEW, "write unit tests for the parser, then check security vulnerabilities")
    first, second = plan.subtasks
    assert (first.agent, second.agent) == ("test-writer", "security-reviewer")
    assert second.after == (first.id,)
    assert plan.pattern == "sequential"


def test_word_forms_meet() -> None:
    item = Item(
        name="dev",
        marketplace="m",
        agents=(
            agent("code-architect", "Designs feature architectures"),
            agent("code-explorer", "Traces how existing features work"),
        ),
    )
    plan = plan_task(item, "explore how auth works, then design a token refresh")
    assert [s.agent for s in plan.subtasks] == ["code-explorer", "code-architect"]


def test_builtin_merge_when_the_item_has_no_coordinator() -> None:
    item = REVIEW.model_copy(update={"agents": REVIEW.agents[:2]})
    plan = plan_task(item, "check security vulnerabilities and measure performance problems")
    assert plan.subtasks[-1].agent == MERGE_AGENT
    assert plan.subtasks[-1].merge


def test_single_part_is_a_single_subtask() -> None:
    plan = plan_task(REVIEW, "write unit tests")
    assert plan.pattern == "single"
    assert [s.agent for s in plan.subtasks] == ["test-writer"]
    assert plan.subtasks[0].prompt == "write unit tests"


def test_declared_workflow_is_used_as_is() -> None:
    workflow = (
        WorkflowStep(id="scan", agent="security-reviewer", prompt="Scan: {task}"),
        WorkflowStep(id="perf", agent="performance-reviewer"),
        WorkflowStep(id="report", agent="coordinator", after=("scan", "perf")),
    )
    item = REVIEW.model_copy(update={"cowork": CoworkDefaults(workflow=workflow)})
    plan = plan_task(item, "the auth module")
    assert plan.source == "workflow"
    assert [(s.id, s.prompt, s.after) for s in plan.subtasks] == [
        ("scan", "Scan: the auth module", ()),
        ("perf", "the auth module", ()),
        ("report", "the auth module", ("scan", "perf")),
    ]
    assert plan.subtasks[2].merge
    assert plan.pattern == "fan-out-fan-in"


@pytest.mark.parametrize(
    ("item", "task", "message"),
    [
        (REVIEW, "   ", "task: must not be empty"),
        (REVIEW.model_copy(update={"agents": ()}), "x", "nothing to run"),
        (
            REVIEW.model_copy(update={"available": False, "source": "github x/y"}),
            "x",
            "not available",
        ),
    ],
)
def test_unplannable_input_is_a_clear_error(item: Item, task: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        plan_task(item, task)
