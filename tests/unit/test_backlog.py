"""A task queue's backlog: highest priority first, first in first out within one."""

from clepsydra.matching.backlog import Backlog


def test_tasks_leave_by_priority_then_by_arrival() -> None:
    backlog: Backlog[tuple[str, int]] = Backlog(lambda item: item[1])
    for item in [("a", 3), ("b", 1), ("c", 3), ("d", 2), ("e", 1)]:
        backlog.append(item)
    backlog.appendleft(("f", 3))  # given back by a poll that went away: first of its priority
    assert len(backlog) == 6
    assert [name for name, _ in backlog] == ["b", "e", "d", "f", "a", "c"]
    assert [backlog.popleft()[0] for _ in range(6)] == ["b", "e", "d", "f", "a", "c"]
    assert not backlog
