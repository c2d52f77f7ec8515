"""`Batched`: calls queued while a batch runs go together in the next one, each gets its own answer."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import anyio
import pytest

from imagehost.storage.batching import Batched

WAIT = 10.0


class Recorder:
    """A `run_batch` that records each batch and holds the ones numbered in `hold` until released."""

    def __init__(self, hold: tuple[int, ...] = (1,), fail_on: str | None = None, short_by: int = 0) -> None:
        self.batches: list[list[str]] = []
        self.started = {number: threading.Event() for number in hold}
        self.release = {number: threading.Event() for number in hold}
        self.fail_on = fail_on
        self.short_by = short_by

    def __call__(self, items: Sequence[str]) -> list[str]:
        self.batches.append(list(items))
        number = len(self.batches)
        if number in self.started:
            self.started[number].set()
            assert self.release[number].wait(WAIT)
        if self.fail_on in items:
            raise LookupError(f"no {self.fail_on}")
        return [item.upper() for item in items][: len(items) - self.short_by]


async def wait_for(event: threading.Event) -> None:
    with anyio.fail_after(WAIT):
        while not event.is_set():
            await anyio.sleep(0.005)


async def call_all(batched: Batched[str, str], recorder: Recorder, later: list[str]) -> dict[str, str | Exception]:
    """Call "first", then the `later` items while the first batch is held, then release it."""
    answers: dict[str, str | Exception] = {}

    async def one(item: str) -> None:
        try:
            answers[item] = await batched(item)
        except LookupError as error:
            answers[item] = error

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(one, "first")
        await wait_for(recorder.started[1])
        for item in later:
            tasks.start_soon(one, item)
        await anyio.sleep(0.05)  # all of them queued behind the held batch
        recorder.release[1].set()
    return answers


def test_calls_made_while_a_batch_runs_go_in_the_next_batch_together() -> None:
    recorder = Recorder()
    batched: Batched[str, str] = Batched(recorder)
    answers = anyio.run(call_all, batched, recorder, ["b", "c", "d", "e"])
    assert answers == {"first": "FIRST", "b": "B", "c": "C", "d": "D", "e": "E"}
    assert recorder.batches == [["first"], ["b", "c", "d", "e"]]


def test_an_error_goes_to_every_call_of_its_batch_only() -> None:
    recorder = Recorder(fail_on="c")
    batched: Batched[str, str] = Batched(recorder)
    answers = anyio.run(call_all, batched, recorder, ["b", "c", "d"])
    assert answers["first"] == "FIRST"
    assert [str(answers[item]) for item in "bcd"] == ["no c"] * 3
    assert anyio.run(batched, "after") == "AFTER"


def test_a_batch_returning_too_few_results_fails_its_calls() -> None:
    recorder = Recorder(hold=(), short_by=1)
    batched: Batched[str, str] = Batched(recorder)
    with pytest.raises(RuntimeError, match="0 results for a batch of 1"):
        anyio.run(batched, "x")


class Callers:
    """Callers of one `Batched`, each in a cancel scope of its own; their answers by item."""

    def __init__(self, batched: Batched[str, str]) -> None:
        self.batched = batched
        self.answers: dict[str, str] = {}
        self.scopes: dict[str, anyio.CancelScope] = {}

    async def call(self, item: str) -> None:
        with anyio.CancelScope() as self.scopes[item]:
            self.answers[item] = await self.batched(item)


def test_a_caller_cancelled_while_its_batch_runs_does_not_strand_the_others() -> None:
    recorder = Recorder(hold=(1, 2))
    callers = Callers(Batched(recorder))
    one, scopes, answers = callers.call, callers.scopes, callers.answers

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(one, "first")
            await wait_for(recorder.started[1])
            tasks.start_soon(one, "runner")  # first in line: it will run the next batch
            await anyio.sleep(0.02)
            tasks.start_soon(one, "other")
            await anyio.sleep(0.02)
            recorder.release[1].set()
            await wait_for(recorder.started[2])
            scopes["runner"].cancel()
            await anyio.sleep(0.02)
            recorder.release[2].set()

    anyio.run(main)
    assert recorder.batches == [["first"], ["runner", "other"]]
    assert (answers["first"], answers["other"]) == ("FIRST", "OTHER")


def test_a_call_cancelled_before_its_batch_started_is_not_run() -> None:
    recorder = Recorder()
    callers = Callers(Batched(recorder))
    one, scopes, answers = callers.call, callers.scopes, callers.answers

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(one, "first")
            await wait_for(recorder.started[1])
            tasks.start_soon(one, "gone")
            tasks.start_soon(one, "kept")
            await anyio.sleep(0.02)
            scopes["gone"].cancel()
            await anyio.sleep(0.02)
            recorder.release[1].set()

    anyio.run(main)
    assert recorder.batches == [["first"], ["kept"]]
    assert answers == {"first": "FIRST", "kept": "KEPT"}
