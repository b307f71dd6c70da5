"""User-facing errors: ``run.py`` prints their message as one line and exits non-zero."""


class EExitError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class DatasetNotFoundError(EExitError):
    """The dataset is not at the configured path."""


class BadArgument(EExitError):
    """An argument outside what its class allows, raised by the class itself so that Python callers get the
    same one line as the command line: ``Conv1dHead: width=0 is not allowed: give an integer >= 1``. The
    pipeline names the config key instead (:meth:`at`): ``head.width=0 is not allowed: ...``."""

    def __init__(self, owner: str, name: str, value, allowed: str):
        self.owner, self.name, self.value, self.allowed = owner, name, value, allowed
        super().__init__(f"{owner}: {name}={value!r} is not allowed: give {allowed}")

    def at(self, group: str) -> EExitError:
        return EExitError(f"{group}.{self.name}={self.value!r} is not allowed: give {self.allowed}")
