"""Progress of the long commands (demo, import, detect, notice issue, report, tick).

On a terminal (stderr is a tty) rich draws it in place: a spinner and the elapsed time for a
step, a bar with counts where the work is counted. In a log or a pipe it is plain lines on
stderr, no carriage returns or escape codes: one when a step begins, and for counted work one
at each quarter and at the end. Results stay on stdout either way (`--json` stays parseable).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import click

Counter = Callable[[int, int], None]  # (done, total)


class Progress:
    """What a long command shows while it works; close it (or use `progress()`) at the end."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.out = stream if stream is not None else sys.stderr
        self.drawn = self.out.isatty()
        self._rich: Any = None
        self._task: Any = None

    # ---- steps and counts --------------------------------------------------------------

    def step(self, label: str) -> None:
        """A step begins (its end is the next step, a count, or close())."""
        if not self.drawn:
            self._line(f"{label}…")
            return
        self._finish_task()
        self._task = self._bar().add_task(label, total=None)

    def count(self, label: str) -> Counter:
        """A callback for counted work: (done, total) as it goes."""
        if self.drawn:
            self._finish_task()
            task = self._task = self._bar().add_task(label, total=None)
            return lambda done, total: self._rich.update(task, completed=done, total=total)
        shown = [-1]

        def line(done: int, total: int) -> None:
            share = done / total if total else 1.0
            quarter = 4 if done >= total else int(share * 4)
            if quarter > shown[0]:
                shown[0] = quarter
                self._line(f"{label}：{done}/{total}（{share:.0%}）")

        return line

    def echo(self, text: str) -> None:
        """A result line (stdout) printed above the bar when one is drawn on the same terminal."""
        if self._rich is not None and sys.stdout.isatty():
            self._rich.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(text)

    def close(self) -> None:
        """Stop drawing (the last state stays on screen)."""
        if self._rich is not None:
            self._finish_task()
            self._rich.stop()
            self._rich = None

    # ---- inside -------------------------------------------------------------------------

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _bar(self) -> Any:
        if self._rich is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            self._rich = RichProgress(
                SpinnerColumn(finished_text="✓"), TextColumn("{task.description}"),
                BarColumn(bar_width=30), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(file=self.out), transient=False,
                redirect_stdout=False, redirect_stderr=False)
            self._rich.start()
        return self._rich

    def _finish_task(self) -> None:
        if self._task is not None and self._rich is not None:
            task = self._rich.tasks[-1]
            total = task.total if task.total is not None else max(task.completed, 1)
            self._rich.update(self._task, total=total, completed=total)
            self._task = None


@contextmanager
def progress(stream: TextIO | None = None) -> Iterator[Progress]:
    """A Progress for the command, closed when it ends (also on an error)."""
    shown = Progress(stream)
    try:
        yield shown
    finally:
        shown.close()
