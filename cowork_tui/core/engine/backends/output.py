"""Bounded views of an agent's output: whatever its size, memory use stays fixed."""

from __future__ import annotations

from collections import deque


class BoundedText:
    """The first `head` and last `tail` characters of a stream, with the gap marked."""

    def __init__(self, head: int = 32_768, tail: int = 32_768) -> None:
        self._head_cap, self._tail_cap = head, tail
        self._head = ""
        self._tail = ""
        self.size = 0  # characters seen

    def add(self, text: str) -> None:
        self.size += len(text)
        if len(self._head) < self._head_cap:
            room = self._head_cap - len(self._head)
            self._head += text[:room]
            text = text[room:]
        if text and self._tail_cap:
            self._tail = (self._tail + text[-self._tail_cap :])[-self._tail_cap :]

    def text(self) -> str:
        omitted = self.size - len(self._head) - len(self._tail)
        if omitted <= 0:
            return self._head + self._tail
        return f"{self._head}\n[… {omitted:,} characters omitted …]\n{self._tail}"


class LineTail:
    """The last `lines` lines of a stream, each cut to `width` characters."""

    def __init__(self, lines: int = 20, width: int = 400) -> None:
        self._width = width
        self._done: deque[str] = deque(maxlen=lines)
        self._current = ""  # the unfinished last line, already cut to width

    def add(self, text: str) -> None:
        parts = text.rsplit("\n", self._done.maxlen or 0)
        if len(parts) == 1:
            self._current = (self._current + text[: self._width])[: self._width]
            return
        first, *middle, last = parts
        if "\n" in first:  # more lines than we keep: only the end of `first` matters
            first = first[first.rfind("\n") + 1 :]
            self._done.clear()
            self._current = ""
        self._done.append((self._current + first[: self._width])[: self._width])
        self._done.extend(line[: self._width] for line in middle)
        self._current = last[: self._width]

    def lines(self) -> tuple[str, ...]:
        return (*self._done, self._current) if self._current else tuple(self._done)
