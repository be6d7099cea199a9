#!/usr/bin/env python3
"""A custom Mesos v1 executor written against the public HTTP API only
(Python standard library, JSON). For every task it is given it reports
TASK_RUNNING, then TASK_FINISHED whose message is a JSON report of what it
saw: its MESOS_* environment, the variables named in the task's
`report_env` label, and the task's labels. A task labelled `stay` is left
running instead. Framework messages are echoed back with an "echo:" prefix.
It exits after the acknowledgement of its last update, or on SHUTDOWN."""

import base64
import http.client
import json
import os
import sys
import time
import uuid

ENDPOINT = os.environ["MESOS_AGENT_ENDPOINT"]
FRAMEWORK_ID = os.environ["MESOS_FRAMEWORK_ID"]
EXECUTOR_ID = os.environ["MESOS_EXECUTOR_ID"]


def call(kind, **payload):
    body = {"type": kind, "framework_id": {"value": FRAMEWORK_ID}, "executor_id": {"value": EXECUTOR_ID}}
    body.update(payload)
    return json.dumps(body)


def post(body):
    conn = http.client.HTTPConnection(ENDPOINT, timeout=30)
    conn.request("POST", "/api/v1/executor", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    text = response.read()
    conn.close()
    if response.status != 202:
        sys.exit(f"update refused: {response.status} {text!r}")


def update(task_id, state, message):
    status_uuid = uuid.uuid4().bytes
    status = {
        "task_id": {"value": task_id},
        "state": state,
        "source": "SOURCE_EXECUTOR",
        "message": message,
        "uuid": base64.b64encode(status_uuid).decode(),
        "timestamp": time.time(),
    }
    post(call("UPDATE", update={"status": status}))
    return base64.b64encode(status_uuid).decode()


def records(response):
    """Yields the JSON records of a RecordIO stream."""
    buffer = b""
    while True:
        chunk = response.read1(65536) if hasattr(response, "read1") else response.read(1)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            size_text, rest = buffer.split(b"\n", 1)
            size = int(size_text)
            if len(rest) < size:
                break
            yield json.loads(rest[:size])
            buffer = rest[size:]


def main():
    conn = http.client.HTTPConnection(ENDPOINT, timeout=120)
    conn.request("POST", "/api/v1/executor", call("SUBSCRIBE", subscribe={}),
                 {"Content-Type": "application/json", "Accept": "application/json"})
    response = conn.getresponse()
    if response.status != 200:
        sys.exit(f"subscription refused: {response.status} {response.read()!r}")
    waiting = set()
    for event in records(response):
        kind = event.get("type")
        if kind == "LAUNCH":
            task = event["launch"]["task"]
            task_id = task["task_id"]["value"]
            labels = {l["key"]: l.get("value", "") for l in task.get("labels", {}).get("labels", [])}
            report = {
                "mesos": {k: v for k, v in os.environ.items() if k.startswith("MESOS_")},
                "env": {name: os.environ.get(name) for name in labels.get("report_env", "").split(",") if name},
                "labels": labels,
                "cwd": os.getcwd(),
            }
            update(task_id, "TASK_RUNNING", "running")
            if "stay" not in labels:
                waiting.add(update(task_id, "TASK_FINISHED", json.dumps(report, sort_keys=True)))
        elif kind == "MESSAGE":
            data = base64.b64decode(event["message"]["data"])
            post(call("MESSAGE", message={"data": base64.b64encode(b"echo:" + data).decode()}))
        elif kind == "ACKNOWLEDGED":
            if event["acknowledged"]["uuid"] in waiting:
                waiting.discard(event["acknowledged"]["uuid"])
                if not waiting:
                    return
        elif kind == "SHUTDOWN":
            return


if __name__ == "__main__":
    main()
