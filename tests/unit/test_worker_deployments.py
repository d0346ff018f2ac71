"""The worker deployment state machine: routing moves, version statuses and the ramp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clepsydra.engine import worker_deployments as wd
from clepsydra.engine.worker_deployments import Deployment
from clepsydra.errors import FailedPrecondition, InvalidArgument, NotFound

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def deployment(*builds: str) -> Deployment:
    d = Deployment("signup", T0)
    for build_id in builds:
        wd.register(d, build_id, wd.queue_key("signup", 1), T0)
    return d


def test_a_new_version_is_inactive_until_it_is_made_current_and_drains_after() -> None:
    d = deployment("b1", "b2")
    assert d.versions["b1"].status == wd.INACTIVE
    assert wd.set_current(d, "b1", "ops", T0)
    assert d.versions["b1"].status == wd.CURRENT
    assert not wd.set_current(d, "b1", "ops", T0)  # nothing to change: the token stays
    wd.set_current(d, "b2", "ops", T0 + timedelta(minutes=1))
    assert (d.versions["b1"].status, d.versions["b2"].status) == (wd.DRAINING, wd.CURRENT)
    assert d.versions["b1"].last_deactivation_time == T0 + timedelta(minutes=1)
    assert d.routing_revision == 2


def test_a_ramping_version_made_current_ends_the_ramp() -> None:
    d = deployment("b1", "b2")
    wd.set_current(d, "b1", "ops", T0)
    wd.set_ramping(d, "b2", 25, "ops", T0)
    assert (d.ramping, d.versions["b2"].status) == ("b2", wd.RAMPING)
    wd.set_current(d, "b2", "ops", T0)
    assert (d.ramping, d.ramp_percentage) == (None, 0.0)
    assert d.versions["b2"].status == wd.CURRENT


def test_routing_moves_are_refused_as_the_reference_refuses_them() -> None:
    d = deployment("b1")
    wd.set_current(d, "b1", "ops", T0)
    with pytest.raises(InvalidArgument, match="Percentage must be between 0 and 100"):
        wd.set_ramping(d, "b1", 101, "ops", T0)
    with pytest.raises(FailedPrecondition, match=r"requested ramping version signup\.b1 is already current"):
        wd.set_ramping(d, "b1", 10, "ops", T0)
    with pytest.raises(NotFound, match="build ID 'zz' not found in Worker Deployment 'signup'"):
        wd.set_current(d, "zz", "ops", T0)
    with pytest.raises(FailedPrecondition, match="cannot be deleted since it is current or ramping"):
        wd.delete_version(d, "b1", skip_drainage=True, has_pollers=False)
    wd.set_manager(d, "release-bot", "ops")
    with pytest.raises(FailedPrecondition, match="ManagerIdentity 'release-bot' is set"):
        wd.set_current(d, "", "ops", T0)
    wd.set_current(d, "", "release-bot", T0)  # back to unversioned workers, by the manager
    assert d.versions["b1"].status == wd.DRAINING


def test_a_ramp_sends_each_workflow_one_way_and_about_its_share() -> None:
    d = deployment("b1", "b2")
    wd.set_current(d, "b1", "ops", T0)
    wd.set_ramping(d, "b2", 30, "ops", T0)
    ids = [f"signup-{n}" for n in range(2000)]
    targets = [d.target(i) for i in ids]
    assert targets == [d.target(i) for i in ids]
    assert 0.25 < targets.count("b2") / len(ids) < 0.35
    wd.set_ramping(d, "", 100, "ops", T0)  # ramp everything to unversioned workers
    assert {d.target(i) for i in ids} == {""}
