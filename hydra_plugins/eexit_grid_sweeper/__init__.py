"""eexit's grid sweeper for Hydra (``eexit/conf/hydra/sweeper/grid.yaml``, the default): Hydra's basic sweeper,
composing each job's config once instead of twice. Hydra finds plugins only in the ``hydra_plugins``
namespace package, hence this folder beside ``eexit/``."""
