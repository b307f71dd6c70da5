"""The command line's own pieces, light so that they load before the stack: what a job leaves behind and reads
back (``jobs.py``), and the number a sweeper optimises (``objective.py``)."""
