"""Running sessions: the engine protocol, the states and controls as data, the pure scheduler,
the in-process engine and its sessions, and the backends that run one agent each."""
