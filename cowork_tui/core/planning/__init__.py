"""Task → plan: a DAG of subtasks mapped to the item's agents (a declared workflow, the
heuristic planner, or a model), checked by one validator before anything runs."""
