"""Marketplaces and their items: loading and checking them leniently, where plugins come from,
what the user installed and trusted, and the marketplaces Claude Code already knows."""
