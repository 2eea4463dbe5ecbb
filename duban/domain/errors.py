"""Typed errors whose message is shown to users in Chinese."""

from __future__ import annotations


class DubanError(Exception):
    """Base of every error a user sees; `message` is Chinese and names the row, field or step."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(DubanError):
    """A campaign, problem, office or user that does not exist."""


class ConflictError(DubanError):
    """Someone else changed the row first (optimistic lock); reload and try again."""


class PermissionDenied(DubanError):
    """The actor may not do this to this record."""
