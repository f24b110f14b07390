from __future__ import annotations

import pytest

from cowork_tui.core.errors import InputError
from cowork_tui.core.models import AgentSpec, CoworkDefaults, Item, WorkflowStep
from cowork_tui.core.planning.builtin import GENERAL_PURPOSE, MERGE_AGENT
from cowork_tui.core.planning.plans import plan_task
from cowork_tui.core.planning.split import read_task, split_stages


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


def pieces(task: str) -> list[tuple[str, ...]]:
    return [sentence.pieces for stage in read_task(task).stages for sentence in stage]


def test_reads_lists_sentences_lines_and_clauses() -> None:
    assert pieces("- check a\n- check b\n- check c") == [("check a",), ("check b",), ("check c",)]
    assert pieces("1. scan\n2) lint") == [("scan",), ("lint",)]
    assert pieces("check a\ncheck b\ncheck c") == [("check a",), ("check b",), ("check c",)]
    assert pieces("Check the auth code. Profile the parser.") == [
        ("Check the auth code",),
        ("Profile the parser",),
    ]
    assert pieces("audit the secrets and profile the hot loop") == [
        ("audit the secrets", "profile the hot loop")
    ]
    assert pieces("check comments, error handling, tests and types") == [
        ("check comments", "error handling", "tests", "types")
    ]
    # the phrase of a preposition stays whole, and so does a verb on its own
    assert pieces("Create a plugin with a hook and an agent") == [
        ("Create a plugin with a hook and an agent",)
    ]
    assert pieces("Find and fix the bug") == [("Find and fix the bug",)]


def test_a_sentence_that_sets_the_scene_is_context_not_a_subtask() -> None:
    reading = read_task("We're adding a payments service. Review its security.")
    assert reading.context == "We're adding a payments service"
    assert [s.text for stage in reading.stages for s in stage] == ["Review its security"]
    plan = plan_task(REVIEW, "We're adding a payments service. Check it for security flaws.")
    assert [s.agent for s in plan.subtasks] == ["security-reviewer"]
    assert "Context: We're adding a payments service" in plan.subtasks[0].prompt


def test_pieces_of_one_concern_stay_one_subtask() -> None:
    # "small" and "secure images" are one concern: no part owns "small"
    item = Item(
        name="docker",
        marketplace="m",
        agents=(
            agent("image-builder", "Builds secure container images with Docker"),
            agent("k8s-deployer", "Deploys services to Kubernetes clusters"),
        ),
    )
    plan = plan_task(item, "Build small, secure Docker images")
    assert [(s.agent, s.prompt) for s in plan.subtasks] == [
        ("image-builder", "Build small, secure Docker images")
    ]


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


def test_a_word_every_part_shares_decides_nothing() -> None:
    item = Item(
        name="pr",
        marketplace="m",
        agents=(
            agent("code-reviewer", "Reviews code for bugs and style"),
            agent("failure-hunter", "Reviews code for silent failures and bad error handling"),
            agent("comment-analyzer", "Reviews code comments for accuracy"),
        ),
    )
    assert [s.agent for s in plan_task(item, "review the error handling").subtasks] == [
        "failure-hunter"
    ]
    assert [s.agent for s in plan_task(item, "check the code comments").subtasks] == [
        "comment-analyzer"
    ]
    # the stemmer meets word forms: "fixing", "fixes", "fixed"
    fixer = item.model_copy(update={"agents": (*item.agents, agent("fixer", "Fixes bugs"))})
    assert [s.agent for s in plan_task(fixer, "try fixing the login bug").subtasks] == ["fixer"]


def test_a_concern_no_part_fits_goes_to_general_purpose_with_a_warning() -> None:
    plan = plan_task(REVIEW, "check security vulnerabilities and order a pizza for the team")
    assert [(s.agent, s.skills) for s in plan.subtasks[:2]] == [
        ("security-reviewer", ()),
        (GENERAL_PURPOSE, ()),
    ]
    assert plan.warnings == ("no agent or skill of review@m fits: order a pizza for the team",)


def test_the_merger_is_the_part_that_says_it_combines_results() -> None:
    # a name that sounds like coordinating is not enough
    item = REVIEW.model_copy(
        update={
            "agents": (
                *REVIEW.agents[:2],
                agent("error-coordinator", "Mines error logs for recurring failures"),
            )
        }
    )
    plan = plan_task(item, "look for security vulnerabilities and find performance problems")
    assert plan.subtasks[-1].agent == MERGE_AGENT
    # REVIEW's coordinator "combines the reviewers' findings"
    plan = plan_task(REVIEW, "look for security vulnerabilities and find performance problems")
    assert plan.subtasks[-1].agent == "coordinator"


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


def test_an_items_only_agent_fits_by_a_word_it_shares() -> None:
    item = Item(name="writer", marketplace="m", agents=(agent("writer", "writes reports"),))
    plan = plan_task(item, "write the report")
    assert [s.agent for s in plan.subtasks] == ["writer"] and not plan.warnings
    assert plan_task(item, "order a pizza").subtasks[0].agent == GENERAL_PURPOSE


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
