"""Progress of the long steps of a command, for a person watching a terminal.

The library marks its steps (`with progress.step("run the Pulumi program"): ...`, and
`progress.tick()` for each unit of work inside one); nothing is shown unless an entry point
installs a `Reporter` (`mesh plan`, `mesh audit` and `mesh diff` do, on a terminal, for large
meshes: `infra.cli.common.progress_on_terminal`). Without one, a step costs a global read.

The reporter is process-wide, not a context variable: the Pulumi runtime registers resources
from its executor threads, which do not inherit the caller's context.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Reporter(Protocol):
    def begin(self, label: str) -> object: ...

    def advance(self, task: object, n: int) -> None: ...

    def end(self, task: object) -> None: ...


_reporter: Reporter | None = None
_task: object | None = None


@contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    """Show the steps run inside the block through `reporter`."""
    global _reporter
    previous, _reporter = _reporter, reporter
    try:
        yield
    finally:
        _reporter = previous


@contextmanager
def step(label: str) -> Iterator[None]:
    """One named step of the work; `tick()` inside it counts its units."""
    global _task
    reporter = _reporter
    if reporter is None:
        yield
        return
    outer, _task = _task, reporter.begin(label)
    try:
        yield
    finally:
        reporter.end(_task)
        _task = outer


def tick(n: int = 1) -> None:
    """One more unit of the current step done (a resource registered, a file read)."""
    reporter, task = _reporter, _task
    if reporter is not None and task is not None:
        reporter.advance(task, n)
