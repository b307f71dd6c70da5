"""Checks of one setting's value: each returns ``(ok, what is allowed)`` for ``eexit.config.settings``'s table."""
from __future__ import annotations

import numbers
from collections.abc import Sequence


def _int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _sequence(v) -> bool:
    """A list of values, also as OmegaConf gives it (``ListConfig``); a string is not one."""
    return isinstance(v, Sequence) and not isinstance(v, (str, bytes))


def _number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def positive_int(v):
    return _int(v) and v >= 1, "an integer >= 1"


def count(v):
    return _int(v) and v >= 0, "an integer >= 0"


def positive(v):
    return _number(v) and v > 0, "a number > 0"


def fraction(v):
    return _number(v) and 0 <= v <= 1, "a number in [0, 1]"


def margin(v):
    return _number(v) and 0 <= v < 1, "a number in [0, 1) (the allowed drop in class precision)"


def margins(v):
    ok = _sequence(v) and len(v) > 0 and all(_number(m) and -1 < m < 1 for m in v)
    return ok, "a non-empty list of numbers in (-1, 1)"


def one_of(*allowed):
    """Equal to one of ``allowed`` and of its type: ``true`` is not ``1``, ``1.0`` is not ``1``."""
    return lambda v: (any(v == a and type(v) is type(a) for a in allowed), "one of " + ", ".join(map(str, allowed)))


def optional(check):
    def inner(v):
        ok, what = check(v)
        return v is None or ok, f"null or {what}"
    return inner


def image_size(v):
    ok = (_int(v) and v >= 8) or (_sequence(v) and len(v) == 2 and all(_int(s) and s >= 8 for s in v))
    return ok, "an integer >= 8 or [height, width] (a smaller image vanishes in the backbone's downsampling)"


def blocks(v):
    ok = v is None or (_sequence(v) and len(v) > 0 and all(_int(b) and b >= 0 for b in v))
    return ok, "null or a non-empty list of block indices >= 0 (see results.json \"blocks\")"


def require(owner: str, **arguments) -> None:
    """``require("Conv1dHead", width=(width, positive_int), ...)``: a :class:`~eexit.errors.BadArgument` for the
    first argument its check refuses (classes check their own arguments with it)."""
    from eexit.errors import BadArgument
    for name, (value, check) in arguments.items():
        ok, allowed = check(value)
        if not ok:
            raise BadArgument(owner, name, value, allowed)
