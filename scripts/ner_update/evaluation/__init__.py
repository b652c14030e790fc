"""Evaluation: scoring the patterns, the model and the shipped pipeline; the metrics schema; the recipe benchmark."""
