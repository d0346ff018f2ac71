"""The official web UI in headless Chromium against a server with a few workflows: the list shows
them, filters by status and by search attribute, and a workflow opens on its event history and
result. Screenshots go to $CLEPSYDRA_ARTIFACTS_DIR (or a temporary directory, printed).

Needs Debian's `chromium` (`apt-get install -y chromium`) and the `playwright` package (its
browser downloads are not used); skipped without them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    WorkflowFailureError,
)
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    VersioningBehavior,
    WorkerDeploymentVersion,
)
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.worker import Worker, WorkerDeploymentConfig

from tests.http.conftest import SEARCH_ATTRIBUTE, HttpServer
from tests.http.workflows import Greeting, WelcomeWorkflow, send_welcome_email, shout
from tests.server_process import use_reference

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
    pytest.mark.skipif(use_reference(), reason="Clepsydra's own UI server"),
]
WAIT_MS = 90_000  # an upper bound for a busy machine, not an expectation


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as p:
        # --no-sandbox: tests may run as root in a container, where Chromium's sandbox cannot start.
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        await browser.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = os.environ.get("CLEPSYDRA_ARTIFACTS_DIR")
    path = Path(target) / "ui" if target else tmp_path_factory.mktemp("ui-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    print(f"UI screenshots in {path}")
    return path


async def start_workflows(client: Client) -> dict[str, str]:
    """A running, a completed, a failed and a completed-with-search-attribute workflow."""
    suffix = uuid.uuid4().hex[:8]
    ids = {kind: f"ui-{kind}-{suffix}" for kind in ("running", "completed", "failed", "tagged")}
    task_queue = f"ui-{suffix}"
    tag = TypedSearchAttributes(
        [SearchAttributePair(SearchAttributeKey.for_keyword(SEARCH_ATTRIBUTE), suffix)]
    )
    async with Worker(client, task_queue=task_queue, workflows=[Greeting]):
        await client.start_workflow(Greeting.run, "Hello", id=ids["running"], task_queue=task_queue)
        completed = await client.start_workflow(
            Greeting.run, "now", id=ids["completed"], task_queue=task_queue
        )
        failed = await client.start_workflow(Greeting.run, "fail", id=ids["failed"], task_queue=task_queue)
        tagged = await client.start_workflow(
            Greeting.run, "now", id=ids["tagged"], task_queue=task_queue, search_attributes=tag
        )
        assert await completed.result() == "now, world!"
        assert await tagged.result() == "now, world!"
        with pytest.raises(WorkflowFailureError):
            await failed.result()
    return ids | {"tag": suffix}


async def shows(page: Any, text: str) -> None:
    """Wait until the page shows `text` (the app renders what it fetched in one go)."""
    await page.wait_for_function("t => document.body.innerText.includes(t)", arg=text, timeout=WAIT_MS)


async def text_of(page: Any) -> str:
    return str(await page.inner_text("body"))


async def test_ui_lists_filters_and_opens_workflows(
    http_server: HttpServer, sdk_client: Client, browser: Any, screenshots: Path
) -> None:
    ids = await start_workflows(sdk_client)
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    workflows = f"{http_server.ui_url}/namespaces/default/workflows"
    try:
        await page.goto(workflows)
        for kind in ("running", "completed", "failed", "tagged"):
            await shows(page, ids[kind])
        await page.screenshot(path=screenshots / "1-workflow-list.png")

        failed_only = 'ExecutionStatus="Failed"'
        await page.goto(f"{workflows}?query={quote(failed_only)}")
        await shows(page, ids["failed"])  # the filtered list has arrived: nothing else is in it
        assert ids["completed"] not in await text_of(page)
        await page.screenshot(path=screenshots / "2-failed-only.png")

        by_tag = f'{SEARCH_ATTRIBUTE}="{ids["tag"]}"'
        await page.goto(f"{workflows}?query={quote(by_tag)}")
        await shows(page, ids["tagged"])
        assert ids["running"] not in await text_of(page)
        await page.screenshot(path=screenshots / "3-by-search-attribute.png")

        await page.get_by_role("link", name=ids["tagged"], exact=True).first.click()
        await shows(page, '"now, world!"')  # its result
        await page.get_by_role("tab", name="Event History").first.click()
        await shows(page, "Workflow Execution Completed")  # its event history
        await page.screenshot(path=screenshots / "4-completed-workflow.png", full_page=True)
    finally:
        await page.close()


async def test_ui_lists_and_opens_schedules(
    http_server: HttpServer, sdk_client: Client, browser: Any, screenshots: Path
) -> None:
    schedule_id = f"ui-schedule-{uuid.uuid4().hex[:8]}"
    await sdk_client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(Greeting.run, "nightly", id="nightly", task_queue="ui-nobody"),
            spec=ScheduleSpec(cron_expressions=["30 2 * * *"]),
        ),
    )
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    schedules = f"{http_server.ui_url}/namespaces/default/schedules"
    try:
        await page.goto(schedules)
        await shows(page, schedule_id)
        await page.screenshot(path=screenshots / "5-schedule-list.png")
        await page.goto(f"{schedules}/{schedule_id}")
        await shows(page, "Greeting")  # the workflow type it starts
        await shows(page, "Upcoming Runs")
        await page.screenshot(path=screenshots / "6-schedule.png", full_page=True)
    finally:
        await page.close()


async def test_ui_pauses_a_failing_activity_and_lists_standalone_activities(
    http_server: HttpServer, sdk_client: Client, browser: Any, screenshots: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    task_queue, workflow_id, activity_id = f"ui-{suffix}", f"ui-welcome-{suffix}", f"ui-shout-{suffix}"
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    async with Worker(
        sdk_client, task_queue=task_queue, workflows=[WelcomeWorkflow], activities=[send_welcome_email, shout]
    ):
        handle = await sdk_client.start_workflow(WelcomeWorkflow.run, id=workflow_id, task_queue=task_queue)
        await sdk_client.execute_activity(
            shout, "hi", id=activity_id, task_queue=task_queue, start_to_close_timeout=timedelta(seconds=10)
        )
        try:
            await page.goto(f"{http_server.ui_url}/namespaces/default/workflows/{workflow_id}")
            await page.get_by_role("tab", name="Pending Activities").first.click()
            await page.get_by_role("button", name="Pause").first.click()
            await page.get_by_test_id("activity-pause-reason").fill("mail outage")
            await page.get_by_role("dialog").get_by_role("button", name="Pause").click()
            await shows(page, "mail outage")  # the pending activity now shows why it is paused
            await page.screenshot(path=screenshots / "7-paused-activity.png", full_page=True)
            [pending] = (await handle.describe()).raw_description.pending_activities
            assert pending.paused and pending.pause_info.manual.reason == "mail outage"

            await page.goto(f"{http_server.ui_url}/namespaces/default/activities")
            await shows(page, activity_id)
            await page.screenshot(path=screenshots / "8-standalone-activities.png", full_page=True)
        finally:
            await page.close()
            await handle.terminate()


async def test_ui_lists_running_workers(http_server: HttpServer, browser: Any, screenshots: Path) -> None:
    # A runtime of its own, heartbeating every second (the SDK's default is a minute).
    runtime = Runtime(telemetry=TelemetryConfig(), worker_heartbeat_interval=timedelta(seconds=1))
    client = await Client.connect(http_server.target, runtime=runtime)
    task_queue = f"ui-workers-{uuid.uuid4().hex[:8]}"
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    async with Worker(client, task_queue=task_queue, activities=[shout]):
        try:
            await page.goto(f"{http_server.ui_url}/namespaces/default/workers")
            await shows(page, task_queue)
            await page.screenshot(path=screenshots / "9-workers.png", full_page=True)
        finally:
            await page.close()


async def test_ui_shows_worker_deployments_and_their_versions(
    http_server: HttpServer, sdk_client: Client, browser: Any, screenshots: Path
) -> None:
    deployment = f"ui-deployment-{uuid.uuid4().hex[:8]}"
    config = WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(deployment, "build-1"),
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.PINNED,
    )
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    async with Worker(sdk_client, task_queue=deployment, workflows=[Greeting], deployment_config=config):
        try:
            await page.goto(f"{http_server.ui_url}/namespaces/default/worker-deployments")
            await shows(page, deployment)
            await page.screenshot(path=screenshots / "10-worker-deployments.png", full_page=True)
            await page.goto(f"{http_server.ui_url}/namespaces/default/worker-deployments/{deployment}")
            await shows(page, "build-1")
            await page.screenshot(path=screenshots / "11-worker-deployment.png", full_page=True)
        finally:
            await page.close()
