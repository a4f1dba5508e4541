"""Exceptions with one-line messages that the CLI turns into ``error: ...`` and exit code 2.

Raise :class:`InputError` for anything the *user* got wrong (a file, a column, a flag value, a model id): the
message must name the input and say what is wrong, on one line, e.g.
``InputError("benchmarks.csv: column 'Model' is missing (found: name, score)")``.
Programming errors stay ordinary exceptions so they keep their tracebacks.
"""

from __future__ import annotations


class ScalescopeError(Exception):
    """Base class of scalescope's own exceptions."""


class InputError(ScalescopeError, ValueError):
    """Bad user input: a file, column, value, flag or model id. The message is one line naming the input."""

    def __init__(self, message: str):
        # One line, always: the CLI prints exactly this.
        super().__init__(" ".join(str(message).split()))


class DataNotFoundError(InputError, FileNotFoundError):
    """A registered data file is not available offline and could not be downloaded."""


class NotFittedError(ScalescopeError, AttributeError):
    """An estimator was used before ``fit``."""


def check_fitted(estimator, attributes: str | list[str]) -> None:
    """Raise :class:`NotFittedError` unless every ``attribute`` (ending in ``_``) is set on ``estimator``."""
    names = [attributes] if isinstance(attributes, str) else list(attributes)
    if not all(getattr(estimator, a, None) is not None for a in names):
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet; call fit(...) before using it."
        )
