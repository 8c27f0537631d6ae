"""Bounded work: a burst of requests queues for a few worker threads instead of exhausting memory.

Two bounds, both per app (no global state):

- `admit` lets at most ``max_pending`` requests in at once, counted from before their upload is
  read until their answer is ready; one more is refused at once with 503 and ``Retry-After``.
  Memory is then at most about ``max_pending`` uploads.
- `run` executes the decoding and the model on a pool of ``workers`` threads (onnxruntime and
  the decoders release the GIL), behind a semaphore, so at most ``workers`` predictions hold
  decoded audio and features at a time and the event loop keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable, TypeVar

from ser.serve.uploads import ApiError

T = TypeVar("T")


class WorkQueue:
    """Admission control and a thread pool for blocking model work.

    Parameters
    ----------
    workers : predictions running at once (threads).
    max_pending : requests admitted at once, running or waiting.
    """

    def __init__(self, workers: int, max_pending: int):
        if workers < 1 or max_pending < 1:
            raise ValueError(f"workers and max_pending must be at least 1, got {workers} and {max_pending}")
        self.workers = workers
        self.max_pending = max_pending
        self.pending = 0
        self._executor: ThreadPoolExecutor | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Hold one of the ``max_pending`` places, or raise a 503 `ApiError` when all are taken."""
        if self.pending >= self.max_pending:
            raise ApiError(
                503,
                "busy",
                f"the server is busy ({self.pending} requests in progress, the limit is {self.max_pending}); retry shortly",
                headers={"Retry-After": "1"},
            )
        self.pending += 1
        try:
            yield
        finally:
            self.pending -= 1

    async def run(self, function: Callable[..., T], *args) -> T:
        """``function(*args)`` on a worker thread, once one of the ``workers`` slots is free."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a semaphore belongs to one event loop; an app may see several (tests)
            self._semaphore, self._loop = asyncio.Semaphore(self.workers), loop
        if self._executor is None:  # made on first use, and again after `close` (an app may be restarted)
            self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="ser-predict")
        async with self._semaphore:
            return await loop.run_in_executor(self._executor, function, *args)

    def close(self) -> None:
        """Wait for running work and stop the threads."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
