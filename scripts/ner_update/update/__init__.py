"""The update: recipes (configs/recipes/*.cfg) adapted to a base pipeline."""
