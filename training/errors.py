"""The error a user can fix: one line, no traceback, exit code 2."""

from __future__ import annotations

from typing import Any

import click


class TrainingError(click.ClickException):
    """A mistake the user can fix (inconsistent shards, missing file, bad flag)."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True, file=file)
