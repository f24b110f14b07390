"""What every engine shares: its sessions by id, the version that grows with every change
(and waiting for it), and the controls by name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Generic, TypeVar

import anyio

from ..errors import ControlError
from .lifecycle import Control

T = TypeVar("T")  # what the engine keeps of a session


class EngineBase(ABC, Generic[T]):
    def __init__(self) -> None:
        self._sessions: dict[str, T] = {}
        self._version = 0
        self._changed: anyio.Event | None = None  # only while someone waits in `changed`

    @abstractmethod
    def control(
        self, session_id: str, control: Control, subtask: str | None = None, reason: str = "user"
    ) -> None: ...

    def pause(self, session_id: str, subtask: str | None = None, reason: str = "user") -> None:
        self.control(session_id, Control.PAUSE, subtask, reason)

    def resume(self, session_id: str, subtask: str | None = None, reason: str = "user") -> None:
        self.control(session_id, Control.RESUME, subtask, reason)

    def cancel(self, session_id: str, subtask: str | None = None, reason: str = "user") -> None:
        self.control(session_id, Control.CANCEL, subtask, reason)

    @property
    def version(self) -> int:
        return self._version

    async def changed(self, since: int) -> int:
        while self._version <= since:
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()
        return self._version

    def _session(self, session_id: str) -> T:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise ControlError(f"no session {session_id!r}") from None

    def _bump(self) -> None:
        self._version += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = None
