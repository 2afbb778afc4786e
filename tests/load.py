"""A bounded load from a second process, for fault tests: `python -m tests.load PLAN.json RECORD.jsonl`.

The plan names the server, a confidential client (client_credentials), and a public client (`app_id`) with its
refresh-token chains to rotate and codes to exchange. Threads send requests until `seconds` have passed or
`requests` were sent; every answer that reaches this process is appended to RECORD (one JSON line each, flushed at
once), so that what the client *received* survives the server being killed. Connection errors and non-2xx
statuses are recorded too; nothing is retried.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.live import post_token


class Recorder:
    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, **entry: Any) -> None:
        with self._lock:
            self._file.write(json.dumps(entry) + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def post(
    http: httpx.Client, plan: dict[str, Any], record: Recorder, kind: str, **extra: Any
) -> tuple[int | None, dict[str, Any] | None]:
    """POST the token request (tests.live.post_token); its status (None if no answer came) and its body if a 200."""
    form, client = extra.pop("form"), extra.pop("client")
    try:
        response = post_token(plan["url"], form, client=client, http=http)
    except httpx.HTTPError as error:
        record.write(kind=kind, status=None, error=type(error).__name__, **extra)
        return None, None
    body: dict[str, Any] | None = None
    try:
        body = response.json()
    except ValueError:
        body = None
    record.write(kind=kind, status=response.status_code, body=body, **extra)
    return response.status_code, body if response.status_code == 200 else None


def run(plan: dict[str, Any], record: Recorder) -> None:
    deadline = time.monotonic() + plan["seconds"]
    budget = threading.Semaphore(plan["requests"])
    machine = (plan["client_id"], plan["client_secret"])
    app = (plan.get("app_id", ""), None)  # the public client whose refresh tokens and codes are in the plan

    def going() -> bool:
        return time.monotonic() < deadline and budget.acquire(blocking=False)

    def client_credentials() -> None:
        with httpx.Client(timeout=10) as http:
            while going():
                _, body = post(
                    http, plan, record, "client_credentials", form=plan["client_credentials"], client=machine
                )
                if body is None:
                    if plan.get("stop_on_error", True):
                        return  # the server is gone: a client backs off rather than hammer it
                    time.sleep(0.05)

    def chain(number: int, refresh_token: str) -> None:
        with httpx.Client(timeout=10) as http:
            while going():
                form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
                status, body = post(
                    http, plan, record, "refresh", form=form, client=app, chain=number, used=refresh_token
                )
                if status == 503 and plan.get("retry_unavailable"):
                    time.sleep(0.05)
                    continue  # the same refresh token again: it was not used, or the server says so then
                if body is None:
                    return  # the chain is broken (server gone or token refused): stop, as a careful client would
                refresh_token = body["refresh_token"]

    def codes() -> None:
        with httpx.Client(timeout=10) as http:
            for code in plan["codes"]:
                if not going():
                    return
                post(http, plan, record, "code", form=code["form"], client=app, code=code["form"]["code"])
                time.sleep(plan.get("code_interval", 0))

    threads = [threading.Thread(target=client_credentials) for _ in range(plan.get("cc_threads", 2))]
    threads += [threading.Thread(target=chain, args=(n, token)) for n, token in enumerate(plan["refresh_tokens"])]
    threads.append(threading.Thread(target=codes))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def read_record(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    recorder = Recorder(Path(sys.argv[2]))
    try:
        run(json.loads(Path(sys.argv[1]).read_text()), recorder)
    finally:
        recorder.close()
