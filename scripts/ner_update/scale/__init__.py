"""Running at scale: the engine (local processes or Dask), its jobs, sharded outputs, measuring apply."""
