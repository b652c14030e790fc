"""Inputs: annotation formats, gold records, patterns, DocBin writing."""
