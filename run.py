#!/usr/bin/env python
"""``python run.py [overrides]`` in a checkout: the same as the installed ``eexit`` command (:mod:`eexit.cli.main`)."""
from eexit.cli.main import entry

if __name__ == "__main__":
    entry()
