from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker


@activity.defn
async def greet(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class HelloWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(greet, name, start_to_close_timeout=timedelta(seconds=10))


async def test_hello_world(client: Client, task_queue: str, workflow_id: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[HelloWorkflow], activities=[greet]):
        result = await client.execute_workflow(
            HelloWorkflow.run, "Clepsydra", id=workflow_id, task_queue=task_queue
        )
    assert result == "Hello, Clepsydra!"
