"""A task queue's backlog: tasks waiting for a poll, handed out by priority, then fairly.

As on the reference, a task's priority key is a small integer, 1 the highest; tasks without
one take the default, 3. Queries and Nexus requests, whose callers wait, go before any task
(key 0). Within one priority, tasks are shared between their fairness keys in proportion to
the keys' weights (matching/fairness.py; the queue's weight overrides win over the tasks'
own weights); tasks of one key, and tasks without keys, go first in, first out.

A rate-limited queue's backlog has a `gate` (matching/rate_limits.py): iterating it yields
only what may be handed out now, stopping at the first task the limits hold back, and each
task taken out spends its tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, Protocol, TypeVar

from clepsydra.matching.fairness import FairLine

DEFAULT_PRIORITY = 3
URGENT = 0
Item = TypeVar("Item")
Item_contra = TypeVar("Item_contra", contravariant=True)


class Gate(Protocol[Item_contra]):
    def admits(self, item: Item_contra) -> bool:
        """Whether the item may be handed out now (if not, the gate wakes a poll when it may)."""
        ...

    def taken(self, item: Item_contra) -> None:
        """The item was handed out: spend its tokens."""
        ...

    def queued(self) -> None:
        """A task joined the backlog: a waiting poll may take one now."""
        ...


def no_fairness(item: object) -> tuple[str, float]:
    return "", 0.0


class Backlog(Generic[Item]):
    def __init__(
        self,
        priority_of: Callable[[Item], int],
        fairness_of: Callable[[Item], tuple[str, float]] = no_fairness,
    ) -> None:
        self._priority_of = priority_of
        self._fairness_of = fairness_of
        self._lines: dict[int, FairLine[Item]] = {}
        self._size = 0
        # Fairness key → weight, from the queue's config: wins over the tasks' own weights.
        self.weight_overrides: Mapping[str, float] = {}
        self.gate: Gate[Item] | None = None

    def append(self, item: Item) -> None:
        key, weight = self._fairness_of(item)
        self._line(item).append(item, key, self.weight_overrides.get(key, weight))
        self._size += 1
        if self.gate is not None:
            self.gate.queued()

    def appendleft(self, item: Item) -> None:
        """Back at the head of its priority (a task a poll took and gave back)."""
        self._line(item).appendleft(item, self._fairness_of(item)[0])
        self._size += 1
        if self.gate is not None:
            self.gate.queued()

    def popleft(self) -> Item:
        """The next task of the highest priority waiting."""
        priority = min(key for key, line in self._lines.items() if line)
        item = self._lines[priority].popleft()
        self._size -= 1
        if self.gate is not None:
            self.gate.taken(item)
        return item

    def remove(self, item: Item) -> None:
        """Take out an item, wherever it waits (one a worker of another version could not have,
        or the one a poll takes)."""
        self._line(item).remove(item, self._fairness_of(item)[0])
        self._size -= 1
        if self.gate is not None:
            self.gate.taken(item)

    def first(self) -> Item | None:
        """The task that would be handed out next, limits aside."""
        for priority in sorted(self._lines):
            line = self._lines[priority]
            if line:
                return line.first()
        return None

    def _line(self, item: Item) -> FairLine[Item]:
        priority = self._priority_of(item)
        line = self._lines.get(priority)
        if line is None:
            line = self._lines[priority] = FairLine()
        return line

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def __iter__(self) -> Iterator[Item]:
        """In the order they would be handed out; with a gate, only those it admits now."""
        gate = self.gate
        for priority in sorted(self._lines):
            for item in self._lines[priority]:
                if gate is not None and not gate.admits(item):
                    return
                yield item
