"""Review: a pipeline's suggestions on raw texts beside the patterns' matches, for `annotate`."""
