"""User-facing errors: ``run.py`` prints their message as one line and exits non-zero."""


class EExitError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class DatasetNotFoundError(EExitError):
    """The dataset is not at the configured path."""
