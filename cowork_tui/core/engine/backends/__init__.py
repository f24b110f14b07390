"""Ways to run an agent: command (local process), demo (simulation), claude (Agent SDK)."""
