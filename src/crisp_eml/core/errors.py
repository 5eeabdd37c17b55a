"""The single error hierarchy of crisp-eml.

Every error a user can cause derives from :class:`EmlError`. The CLI maps these to exit codes and
one-line messages, the server (later) to 4xx JSON bodies. A traceback reaching a user is a bug.
"""

from __future__ import annotations


class EmlError(Exception):
    """Base of every crisp-eml error. ``exit_code`` is what the CLI returns."""

    exit_code = 1
    code = "error"  # the machine-readable name the server and the job records use

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(EmlError):
    """Malformed user input: a file, a field or an option. Names *where* and *why*."""

    exit_code = 2
    code = "bad_request"

    def __init__(self, reason: str, *, source: str | None = None, field: str | None = None) -> None:
        self.source = source
        self.field = field
        self.reason = reason
        where = ""
        if source:
            where += f"{source}: "
        if field:
            where += f"field '{field}': "
        super().__init__(f"{where}{reason}")


class NotFoundError(EmlError):
    """A named thing (sample, version, run, model, alias) does not exist."""

    exit_code = 3
    code = "not_found"


class ConflictError(EmlError):
    """The request contradicts the project state (duplicate sample, existing project...)."""

    exit_code = 4
    code = "conflict"


class ProjectError(EmlError):
    """No project here, or the project's configuration/store is unusable."""

    exit_code = 5
    code = "project_unavailable"


class PermissionDeniedError(EmlError):
    """The acting member's persona lacks the permission for this action."""

    exit_code = 6
    code = "forbidden"


class ToolMissingError(EmlError):
    """An external tool (compiler, emulator, espeak-ng) or optional package is not installed."""

    exit_code = 7
    code = "tool_missing"


class VerificationError(EmlError):
    """Generated code or a model did not match its reference, or a gate failed."""

    exit_code = 8
    code = "verification_failed"
