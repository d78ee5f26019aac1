"""The REST API: cold import against ``import boto3``, and GET /hubs/{id} on the local stack.

Reported as measured in one run, with ratios to a baseline from the same run:
- the API function's cold path: ``import app`` (every function pays it) and ``import app`` plus the API's own
  module (``chalicelib.hub_api``: pydantic and the request model), against ``import boto3``;
- requests per second of signed ``GET /hubs/{id}`` through the stand-in API Gateway (SigV4 check, a Lambda
  container, one DynamoDB read), sequential and from 4 threads, against a bare DynamoDB ``GetItem`` of the same
  record on the same stack.
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import cold_imports  # noqa: E402

REQUESTS = 300
THREADS = 4


def per_second(call, count: int, threads: int = 1) -> float:
    def worker(n: int) -> None:
        for _ in range(n):
            call()

    workers = [threading.Thread(target=worker, args=(count // threads,)) for _ in range(threads)]
    started = time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return (count // threads * threads) / (time.perf_counter() - started)


def main() -> int:
    boto3_s, app_s, api_s = cold_imports("import boto3", "import app", "import app; from chalicelib import hub_api")
    print(f"cold import boto3:                 {boto3_s * 1000:7.1f} ms (baseline)")
    print(f"cold import app.py:                {app_s * 1000:7.1f} ms  ratio {app_s / boto3_s:5.2f} x boto3")
    print(f"cold import app.py + the API code: {api_s * 1000:7.1f} ms  ratio {api_s / boto3_s:5.2f} x boto3")

    from chalicelib import hub_records
    from coursehub.api_client import ApiClient
    from coursehub.demo import sample_request
    from coursehub_local.stack import LocalStack, StackConfig

    with LocalStack(StackConfig()) as stack:
        dynamodb, table = stack.client("dynamodb"), stack.seeded.environment["HUB_TABLE_NAME"]
        hub_records.create(dynamodb, table, "hub-bench", sample_request())
        api = ApiClient.local(stack.details())
        assert api.get("hub-bench").body["hub_id"] == "hub-bench"

        def raw_get() -> None:
            dynamodb.get_item(TableName=table, Key={"hub_id": {"S": "hub-bench"}}, ConsistentRead=True)

        raw_get()
        baseline = per_second(raw_get, REQUESTS)
        sequential = per_second(lambda: api.get("hub-bench"), REQUESTS)
        parallel = per_second(lambda: api.get("hub-bench"), REQUESTS, THREADS)
        containers = stack.api.containers.started
    print(f"DynamoDB GetItem on the stack:     {baseline:7.1f} /s (baseline)")
    print(f"GET /hubs/{{id}}, sequential:        {sequential:7.1f} /s  ratio {sequential / baseline:5.2f} x GetItem")
    print(f"GET /hubs/{{id}}, {THREADS} threads:         {parallel:7.1f} /s  ratio {parallel / baseline:5.2f} x GetItem "
          f"({containers} Lambda containers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
