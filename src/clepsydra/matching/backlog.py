"""A task queue's backlog: tasks waiting for a poll, handed out by priority.

As on the reference, a task's priority key is a small integer, 1 the highest; tasks without
one take the default, 3; within one priority, tasks go first in, first out. Queries and Nexus
requests, whose callers wait, go before any task (key 0).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

DEFAULT_PRIORITY = 3
URGENT = 0
Item = TypeVar("Item")


class Backlog(Generic[Item]):
    def __init__(self, priority_of: Callable[[Item], int]) -> None:
        self._priority_of = priority_of
        self._lines: dict[int, deque[Item]] = {}
        self._size = 0

    def append(self, item: Item) -> None:
        self._line(item).append(item)
        self._size += 1

    def appendleft(self, item: Item) -> None:
        """Back at the head of its priority (a task a poll took and gave back)."""
        self._line(item).appendleft(item)
        self._size += 1

    def popleft(self) -> Item:
        """The oldest task of the highest priority waiting."""
        priority = min(key for key, line in self._lines.items() if line)
        self._size -= 1
        return self._lines[priority].popleft()

    def _line(self, item: Item) -> deque[Item]:
        return self._lines.setdefault(self._priority_of(item), deque())

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def __iter__(self) -> Iterator[Item]:
        """In the order they would be handed out."""
        for priority in sorted(self._lines):
            yield from self._lines[priority]
