"""The one way an expected failure leaves the program: a message and a hint, exit 1."""

from __future__ import annotations


class MaillogError(Exception):
    """A user-facing error: printed as one line by the CLI, exit code 1."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class RecordError(ValueError):
    """One bad record in an otherwise readable file: skipped and reported as FILE:LINE: why."""


class FileFormatError(MaillogError):
    """A whole file that cannot be imported: nothing from it is stored."""
