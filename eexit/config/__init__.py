"""What a configuration may hold, checked before torch loads: every setting (``settings.py``), the values each
accepts (``validators.py``, ``names.py``), and Hydra's composition errors as one line (``hydra_errors.py``).
Nothing here imports torch, Lightning or W&B: a bad setting answers in about a second."""
