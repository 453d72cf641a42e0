"""Errors that end a gate as inconclusive (exit 2) with a located, actionable message.

Bad input must never produce a traceback or a pass: every module raises `ChangegateError`
(or a subclass) and the CLI turns it into an `error` result carrying the rule and location.
"""

from __future__ import annotations

from changegate.result import Location


class ChangegateError(Exception):
    """A problem that makes the gate inconclusive: exit code 2.

    `rule` is the stable reason code (e.g. `POLICY_INVALID`, `RANGE_INCOMPLETE`); `location`
    points at the file/line or commit so the annotation lands where the fix is.
    """

    def __init__(self, rule: str, message: str, location: Location | None = None,
                 fix: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.location = location or Location()
        self.fix = fix

    def __str__(self) -> str:
        where = self.location.describe()
        return f"{where}: {self.message}" if where else self.message


class InputError(ChangegateError):
    """Malformed input (policy, keys file, lock file, API reply): named file, line and key."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None, *,
                 rule: str = "BAD_INPUT", fix: str | None = None,
                 column: int | None = None) -> None:
        super().__init__(rule, message, Location(file=file, line=line, column=column), fix)
