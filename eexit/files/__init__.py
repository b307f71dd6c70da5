"""Files eexit reads and writes: loading torch files without running code (``torch_files``)."""
