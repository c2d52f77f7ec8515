"""`Batched`: calls that queue up while one runs are run together, in one worker-thread trip.

This is the group commit of databases. While one batch of deletes is in its worker thread, the
deletes that arrive meanwhile wait in the event loop; the next turn takes all of them, in one
thread trip and one catalog transaction. So a busy worker does less work per call, not more,
and more concurrent clients never make each call dearer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from anyio import Lock, to_thread

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Call(Generic[Item, Result]):
    item: Item
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class Batched(Generic[Item, Result]):
    """Runs `run_batch(items)` in a worker thread, one batch at a time, for all callers waiting.

    `run_batch` returns one result per item, in order; if it raises, every call of that batch
    raises the same error.
    """

    def __init__(self, run_batch: Callable[[Sequence[Item]], Sequence[Result]]) -> None:
        self._run_batch = run_batch
        self._queue: list[_Call[Item, Result]] = []
        self._turn: Lock | None = None  # made on first use, inside the event loop

    async def __call__(self, item: Item) -> Result:
        call: _Call[Item, Result] = _Call(item)
        self._queue.append(call)
        if self._turn is None:
            self._turn = Lock()
        try:
            async with self._turn:
                if not call.done:  # nobody took it along: take everything queued so far
                    await self._run_queued()
        except BaseException:
            if call in self._queue:  # cancelled before its batch started: it is not run
                self._queue.remove(call)
            raise
        if call.error is not None:
            raise call.error
        result: Result = call.result
        return result

    async def _run_queued(self) -> None:
        batch, self._queue = self._queue, []
        try:
            await to_thread.run_sync(self._run, batch)
        except BaseException:  # cancelled before the thread started: back to the queue
            self._queue[:0] = [call for call in batch if not call.done]
            raise

    def _run(self, batch: list[_Call[Item, Result]]) -> None:
        # Results are handed over here, in the thread: a caller cancelled while waiting for the
        # thread must not leave the others of its batch without an answer.
        try:
            results = self._run_batch([call.item for call in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
        except BaseException as error:  # noqa: BLE001 - handed to every caller of the batch
            for call in batch:
                call.error, call.done = error, True
            return
        for call, result in zip(batch, results, strict=True):
            call.result, call.done = result, True
