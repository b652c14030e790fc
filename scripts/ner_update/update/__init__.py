"""The update: recipes (configs/recipes/*.cfg) adapted to a base pipeline; the base's own predictions as silver data."""
