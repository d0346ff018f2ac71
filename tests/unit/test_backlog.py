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


def _fair_backlog() -> Backlog[tuple[str, str, float]]:
    """Items are (name, fairness key, weight), all of one priority."""
    return Backlog(lambda item: 3, lambda item: (item[1], item[2]))


def test_fairness_keys_take_turns_by_weight() -> None:
    backlog = _fair_backlog()
    for n in range(6):
        backlog.append((f"g{n}", "gold", 3.0))
    for n in range(3):
        backlog.append((f"t{n}", "tin", 1.0))
    assert [name for name, _, _ in backlog] == ["g0", "g1", "g2", "t0", "g3", "g4", "g5", "t1", "t2"]
    assert [backlog.popleft()[0] for _ in range(9)] == ["g0", "g1", "g2", "t0", "g3", "g4", "g5", "t1", "t2"]


def test_a_key_that_was_quiet_does_not_take_the_turns_it_missed() -> None:
    backlog = _fair_backlog()
    for n in range(4):
        backlog.append((f"a{n}", "a", 1.0))
    assert [backlog.popleft()[0] for _ in range(2)] == ["a0", "a1"]
    backlog.append(("b0", "b", 1.0))
    backlog.append(("b1", "b", 1.0))
    # b starts at the pass of the last task handed out: it goes next, then takes turns with a,
    # rather than twice ahead of a for the turns it missed.
    assert [backlog.popleft()[0] for _ in range(4)] == ["b0", "a2", "b1", "a3"]


def test_overrides_win_and_a_given_back_task_goes_first_and_removal_keeps_the_order() -> None:
    backlog = _fair_backlog()
    backlog.weight_overrides = {"tin": 3.0}
    for n in range(3):
        backlog.append((f"g{n}", "gold", 3.0))
        backlog.append((f"t{n}", "tin", 1.0))
    assert [name for name, _, _ in backlog] == ["g0", "t0", "g1", "t1", "g2", "t2"]
    backlog.remove(("g0", "gold", 3.0))
    backlog.remove(("t1", "tin", 1.0))
    backlog.appendleft(("x", "tin", 1.0))
    assert backlog.first() == ("x", "tin", 1.0)
    assert [backlog.popleft()[0] for _ in range(5)] == ["x", "t0", "g1", "g2", "t2"]
    assert not backlog
