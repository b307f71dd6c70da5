"""User errors, one hierarchy: the ``eexit`` command prints their message as one line and exits with status 2.

Lower layers name an argument of their own class (:class:`BadArgument`) or a fit (:class:`TrainingDiverged`); the
composition root, which knows the config, turns them into the key a user types (:meth:`BadArgument.at`)."""


class EExitError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class KeyedError(EExitError):
    """An error that names arguments of one config group by ``{key}`` placeholders: ``{key}root`` reads ``root``
    from Python and ``data.root`` from the command line, where the composition root calls :meth:`at`."""

    def __init__(self, template: str):
        self.template = template
        super().__init__(template.replace("{key}", ""))

    def at(self, group: str) -> EExitError:
        return EExitError(self.template.replace("{key}", f"{group}."))


class DatasetNotFoundError(KeyedError):
    """The dataset is not at the configured path."""


class BadArgument(KeyedError):
    """An argument outside what its class allows, raised by the class itself so that Python callers get the
    same one line as the command line: ``Conv1dHead: width=0 is not allowed: give an integer >= 1``. The
    pipeline names the config key instead (:meth:`at`): ``head.width=0 is not allowed: ...``. ``problem``: what is
    wrong, when it is not that the value lies outside a range (``does not exist; give a state_dict ...``)."""

    def __init__(self, owner: str, name: str, value, allowed: str = "", problem: str | None = None):
        self.owner, self.name, self.value, self.allowed, self.problem = owner, name, value, allowed, problem
        EExitError.__init__(self, f"{owner}: {self._text()}")

    def _text(self) -> str:
        if self.problem is not None:
            return f"{self.name}={self.value} {self.problem}"
        return f"{self.name}={self.value!r} is not allowed: give {self.allowed}"

    def at(self, group: str) -> EExitError:
        return EExitError(f"{group}.{self._text()}")


class TrainingDiverged(EExitError):
    """A fit whose training loss became NaN or infinite (``fit``: ``backbone`` or a regime's name); :meth:`at`
    names the learning rate to lower by its config key."""

    def __init__(self, fit: str, epoch: int, lr: str = "its optimizer's learning rate"):
        self.fit, self.epoch = fit, epoch
        super().__init__(f"{fit}: the training loss became NaN or infinite in epoch {epoch}; nothing was cached or "
                         f"reported. Lower {lr} (or use trainer.precision=32-true)")

    def at(self, lr_key: str) -> "TrainingDiverged":
        return TrainingDiverged(self.fit, self.epoch, lr_key)
