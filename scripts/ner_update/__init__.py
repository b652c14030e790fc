"""The project's library: what the weasel commands in scripts/ call. It prints nothing
and raises (InputError and friends); the commands decide what to print and when to exit.

One sub-package per concern:
- inputs/: annotation formats, validation and merging of gold records, patterns, DocBin writing;
- base/: the offline base pipeline (EWT, UNER and BTC readers, building and pretraining it, gazetteers,
  cluster vectors);
- update/: recipes adapted to a base (the update's training config), the base's silver data;
- evaluation/: scoring, evaluate's side-by-side metrics and their schema, the recipe benchmark;
- report/: the report and review pages (jinja2 templates in report/templates/);
- review/: annotate's suggestions and review records;
- scale/: running a pipeline or the patterns over many texts (local processes or Dask).
Shared by all: common.py (InputError, reading text and JSON, the folder policy, the label
rule), files.py (atomic writes, checksums), pipelines.py (resolving and checking a base, the
GPU).
The code spaCy loads with `--code` is in scripts/registered/, outside this package;
`ner_update.registered` imports it for the project's own steps and loads a base with it.
"""
