"""Bounded work, live streams first: uploads queue for a few low-priority threads, streams have their own.

Per app (no global state):

- `admit` lets at most ``max_pending`` uploads in at once, counted from when the upload has been
  received whole until its answer is ready; one more is refused at once with 503 and
  ``Retry-After``. A slow or stalled client therefore holds no place (the time it may take to
  send is bounded in `ser.serve.uploads` and per connection in `ser.serve.server`).
- `run` executes the decoding and the model of uploads on a pool of ``workers`` threads (onnxruntime
  and the decoders release the GIL) behind a semaphore, so at most ``workers`` predictions hold
  decoded audio and features at a time and the event loop keeps answering meanwhile. These threads
  run at a lower CPU priority (nice 19 on Linux): a long upload uses the cores the live streams leave.
- `run_live` executes the live streams' windows on threads of their own at normal priority, never
  behind an upload.

After each upload the C heap's freed pages go back to the system (glibc ``malloc_trim``), so the
server's resident memory returns to its resting size after long files instead of keeping the
peak of the largest one.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable, TypeVar

from ser.serve.uploads import ApiError

log = logging.getLogger(__name__)
T = TypeVar("T")
# Niceness of the upload threads: CFS gives a nice-0 thread about 68 times the CPU of a nice-19 one.
UPLOAD_NICE = 19


def lower_priority(nice: int = UPLOAD_NICE) -> None:
    """Run the calling thread (and the threads it starts later) at niceness `nice` (Linux; else nothing)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError) as exc:  # not Linux, or not allowed: uploads then share the CPU evenly
        log.debug("cannot lower the priority of the upload threads: %s", exc)


def _malloc_trim() -> Callable[[], None]:
    """glibc's ``malloc_trim(0)``, or a no-op elsewhere."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        trim = None
    if trim is None:
        return lambda: None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


release_memory = _malloc_trim()


class WorkQueue:
    """Admission control, a low-priority thread pool for uploads and a pool of its own for live streams.

    Parameters
    ----------
    workers : upload predictions running at once (threads).
    max_pending : uploads admitted at once (received whole), running or waiting.
    live_workers : threads for the live streams' windows.
    """

    def __init__(self, workers: int, max_pending: int, live_workers: int = 2):
        if workers < 1 or max_pending < 1 or live_workers < 1:
            raise ValueError(f"workers, max_pending and live_workers must be at least 1, got {workers}, {max_pending}, {live_workers}")
        self.workers = workers
        self.max_pending = max_pending
        self.live_workers = live_workers
        self.pending = 0
        self._executor: ThreadPoolExecutor | None = None
        self._live: ThreadPoolExecutor | None = None
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
        """``function(*args)`` on a low-priority upload thread, once one of the ``workers`` slots is free."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a semaphore belongs to one event loop; an app may see several (tests)
            self._semaphore, self._loop = asyncio.Semaphore(self.workers), loop
        if self._executor is None:  # made on first use, and again after `close` (an app may be restarted)
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="ser-upload", initializer=lower_priority)
        async with self._semaphore:
            return await loop.run_in_executor(self._executor, _then_release, function, args)

    async def run_live(self, function: Callable[..., T], *args) -> T:
        """``function(*args)`` on a live-stream thread (normal priority, not shared with uploads)."""
        if self._live is None:
            self._live = ThreadPoolExecutor(self.live_workers, thread_name_prefix="ser-live")
        return await asyncio.get_running_loop().run_in_executor(self._live, function, *args)

    def close(self) -> None:
        """Wait for running work and stop the threads."""
        for executor in (self._executor, self._live):
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        self._executor = self._live = None


def _then_release(function: Callable[..., T], args: tuple) -> T:
    try:
        return function(*args)
    finally:
        release_memory()
