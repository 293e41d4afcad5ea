"""Errors a user can cause.

Every error that a user can fix (a bad spec, an unknown name, data that is not
there offline) is a ``UserError``: the CLI prints its message on one line and
exits with status 2.  Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """An error the user can fix; the message says how."""


class UnknownNameError(UserError, ValueError):
    """A registry lookup for a name that is not registered."""


class UnknownParameterError(UserError, TypeError):
    """A component built with a parameter it does not take."""


class DataUnavailableError(UserError):
    """A dataset or model that cannot be found locally and cannot be fetched."""


class UnsafeCheckpointError(UserError):
    """A checkpoint that would run code when loaded."""


class InvalidInputError(UserError, ValueError):
    """Tensors or numbers that break a documented precondition."""


class UnwritablePathError(UserError):
    """An output path that is a folder, or where nothing can be written."""
