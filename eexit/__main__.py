"""``python -m eexit``: the ``eexit`` command (:mod:`eexit.cli.main`)."""
from eexit.cli.main import entry

entry()
