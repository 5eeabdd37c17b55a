"""Failed authentications counted per client address, so guessing tokens gets a 429 instead of answers.

One counter per app (on its :class:`~crisp_eml.server.context.ServerContext`); a sliding window in memory,
since a restarted server starting the count again costs an attacker nothing worth keeping state for.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class FailedLogins:
    """A sliding window of failed authentications per client address."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        q = self._seen.setdefault(client, deque())
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def blocked(self, client: str) -> float:
        """Seconds until ``client`` may try again (0: not blocked)."""
        now = time.monotonic()
        with self._lock:
            q = self._recent(client, now)
            return max(0.0, self.window_s - (now - q[0])) if len(q) >= self.limit else 0.0

    def fail(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(client, now).append(now)
            if len(self._seen) > 10_000:  # forget idle clients
                for k in [k for k, q in self._seen.items() if not q]:
                    del self._seen[k]
