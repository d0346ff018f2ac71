"""Fairness between the keys of one priority: stride scheduling, as the reference does it.

Tasks may carry a fairness key (a tenant, say) and a weight. Each key advances a counter,
its *pass*, by a stride inversely proportional to its weight (1000 / weight) per task; a
task takes its key's next pass, and tasks go out lowest pass first, first in first out
between equal passes. So, over a backlog, keys weighted 3 and 1 get three tasks to one,
and a key that has been quiet starts again at the pass of the last task handed out (the
reference's ack level), not behind the keys that stayed busy. Without keys every task is
of the one key "" and the order stays first in, first out. See the reference's
service/matching/fairness.md and fair_task_writer.go: its passes are persisted with the
tasks; here they live with the in-memory backlog and start again from nothing when the
backlog has been emptied (or the process restarted), which only changes how a burst of new
keys interleaves.

A line keeps a queue (deque) per key, in pass order, and a heap of each key's head; the heap
may hold stale entries (of heads since taken or removed), skipped when they surface.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar

Item = TypeVar("Item")
STRIDE = 1000  # a pass's step at weight 1; MIN_WEIGHT * STRIDE must be >= 1
MIN_WEIGHT = 0.001
FRONT = -1  # the pass of a task given back: before every other


def effective_weight(weight: float) -> float:
    """A weight as dispatch uses it: zero or negative means the default, 1."""
    return 1.0 if weight <= 0 else max(weight, MIN_WEIGHT)


def stride(weight: float) -> int:
    return max(1, int(STRIDE / effective_weight(weight)))


class FairLine(Generic[Item]):
    """The tasks of one priority, in pass order."""

    def __init__(self) -> None:
        # key → its tasks as (pass, sequence, item), in order; keys with none are dropped.
        self._by_key: dict[str, deque[tuple[int, int, Item]]] = {}
        self._heads: list[tuple[int, int, str]] = []  # (pass, sequence, key) of keys' heads
        self._passes: dict[str, int] = {}  # key → the pass of its last task
        self._base = 0  # the pass of the last task handed out
        self._sequence = 0
        self._front = 0  # sequences of tasks given back count down, the latest first
        self._size = 0

    def append(self, item: Item, key: str, weight: float) -> None:
        step = stride(weight)
        last = self._passes.get(key)
        turn = max(self._base, step if last is None else last + step)
        self._passes[key] = turn
        self._sequence += 1
        self._push(key, (turn, self._sequence, item), left=False)

    def appendleft(self, item: Item, key: str) -> None:
        """Back at the head of the line (a task a poll took and gave back)."""
        self._front -= 1
        self._push(key, (FRONT, self._front, item), left=True)

    def popleft(self) -> Item:
        key = self._head_key()
        tasks = self._by_key[key]
        heapq.heappop(self._heads)
        turn, _, item = tasks.popleft()
        self._taken(key, tasks)
        self._base = max(self._base, turn)
        return item

    def remove(self, item: Item, key: str) -> None:
        """Take out an item wherever it is (ValueError if it is not in the line)."""
        tasks = self._by_key.get(key)
        if tasks is None:
            raise ValueError("not in the line")
        for index, entry in enumerate(tasks):
            if entry[2] is item or entry[2] == item:
                del tasks[index]
                if index == 0:
                    self._taken(key, tasks)
                else:
                    self._size -= 1
                return
        raise ValueError("not in the line")

    def first(self) -> Item:
        return self._by_key[self._head_key()][0][2]

    def _push(self, key: str, entry: tuple[int, int, Item], left: bool) -> None:
        tasks = self._by_key.get(key)
        if tasks is None:
            tasks = self._by_key[key] = deque()
        if left:
            tasks.appendleft(entry)
        else:
            tasks.append(entry)
        if left or len(tasks) == 1:  # a new head for the key
            heapq.heappush(self._heads, (entry[0], entry[1], key))
        self._size += 1

    def _taken(self, key: str, tasks: deque[tuple[int, int, Item]]) -> None:
        """The head of `key` went: its next task is its head now."""
        self._size -= 1
        if tasks:
            heapq.heappush(self._heads, (tasks[0][0], tasks[0][1], key))
        else:
            del self._by_key[key]
        if not self._size:  # nothing waits: no key is behind another
            self._heads.clear()
            self._passes.clear()

    def _head_key(self) -> str:
        heads = self._heads
        while True:
            turn, sequence, key = heads[0]
            tasks = self._by_key.get(key)
            if tasks and tasks[0][0] == turn and tasks[0][1] == sequence:
                return key
            heapq.heappop(heads)  # stale

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Item]:
        """In the order they would be handed out."""
        if len(self._by_key) == 1:
            for tasks in self._by_key.values():
                for entry in tasks:
                    yield entry[2]
            return
        for entry in heapq.merge(*self._by_key.values()):
            yield entry[2]
