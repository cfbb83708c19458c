"""A small JSON-RPC client over HTTP with retry and backoff (stdlib only, easy to fake in tests)."""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from typing import Any


class RpcError(RuntimeError):
    """The node answered with a JSON-RPC error (not retried here: the caller decides)."""

    def __init__(self, method: str, error: dict):
        self.code = error.get("code")
        self.message = str(error.get("message", error))
        super().__init__(f"{method}: {self.message}")


class NodeUnreachable(RuntimeError):
    """The node did not answer after every retry."""


# messages nodes use when an eth_getLogs range returns too much (geth, erigon, Alchemy, Infura, Anvil)
TOO_MUCH = ("too many", "limit", "exceed", "range", "response size", "max results", "query timeout", "10000")


def too_much(err: RpcError) -> bool:
    return err.code in (-32005, -32602, -32614) or any(s in err.message.lower() for s in TOO_MUCH)


class HttpRpc:
    """`call(method, params)` and `batch([(method, params), ...])` against one node URL.
    Connection errors, timeouts, HTTP 429 and 5xx are retried `retries` times with exponential
    backoff (base `backoff_s`, doubled each time, with jitter, capped at 30 s)."""

    def __init__(self, url: str, timeout_s: float = 30.0, retries: int = 5, backoff_s: float = 0.5):
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self._id = 0
        self.requests = 0

    def _post(self, body: Any) -> Any:
        data = json.dumps(body).encode()
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url, data=data, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    self.requests += 1
                    return json.loads(response.read())
            except urllib.error.HTTPError as e:
                if e.code != 429 and e.code < 500:
                    raise NodeUnreachable(f"{self.url} answered HTTP {e.code}") from None
                failure = f"HTTP {e.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                failure = str(getattr(e, "reason", e))
            if attempt == self.retries:
                raise NodeUnreachable(f"no answer from {self.url} ({failure})")
            time.sleep(min(delay, 30.0) * (1 + random.random() / 4))
            delay *= 2
        raise AssertionError("unreachable")

    def call(self, method: str, params: list) -> Any:
        self._id += 1
        reply = self._post({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        if "error" in reply:
            raise RpcError(method, reply["error"])
        return reply["result"]

    def batch(self, calls: list[tuple[str, list]]) -> list[Any]:
        if not calls:
            return []
        first = self._id + 1
        self._id += len(calls)
        body = [{"jsonrpc": "2.0", "id": first + i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        replies = self._post(body)
        if isinstance(replies, dict):  # a node without batch support answers with one error
            return [self.call(m, p) for m, p in calls]
        by_id = {r.get("id"): r for r in replies}
        out = []
        for i, (method, _) in enumerate(calls):
            reply = by_id.get(first + i, {"error": {"message": "missing from batch reply"}})
            if "error" in reply:
                raise RpcError(method, reply["error"])
            out.append(reply["result"])
        return out
