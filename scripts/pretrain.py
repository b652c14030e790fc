"""Pretrain the default base ner's token-to-vector layer on raw web text.

`spacy pretrain` (characters objective) on a tok2vec of the same architecture
as the base ner's own (configs/base_pretrain.cfg), over the base's own
training texts (corpus/base_train: EWT sentences and BTC's training tweets) and
raw texts (by default the YouTube comments). `base` starts the ner from the
weights. Writes training/pretrain/pretrain.json: the weights file, or null with
the reason when there is nothing to pretrain (another base than the default).
"""

from collections import Counter
from pathlib import Path
from typing import List

import typer
from wasabi import msg

from ner_update.base.pretraining import max_epochs, record_no_pretraining, run_pretraining, texts_of_options
from ner_update.common import exits_on_input_error
from ner_update.pipelines import is_default_base
from ner_update.runs import run_command


@exits_on_input_error
def main(
    base_model: str = typer.Argument(..., help="The base pipeline the update uses: only the default one is pretrained"),
    config_path: Path = typer.Option(Path("configs/base_pretrain.cfg"), "--config", exists=True, dir_okay=False),
    corpus: List[Path] = typer.Option(
        [], "--corpus", help="A .spacy file or folder whose texts to pretrain on; repeatable"
    ),
    texts: List[str] = typer.Option(
        [], "--texts", help="Raw texts (.txt/.json/.jsonl file or folder); repeatable; '' none"
    ),
    exclude: List[str] = typer.Option(
        [], "--exclude", help="A file whose texts are never pretrained on (e.g. the checked dev set); '' none"
    ),
    output_dir: Path = typer.Option(Path("training/pretrain"), "--output", file_okay=False),
    base_dir: Path = typer.Option(
        Path("training/base"), "--base-dir", file_okay=False, help="Where `base` trains the default base"
    ),
):
    """Pretrain the default base ner's features, or record that there is nothing to pretrain."""
    if not is_default_base(base_model, base_dir):
        record_no_pretraining(output_dir, f"the base is {base_model}, not the default")
        msg.info(f"Nothing to pretrain: the base is '{base_model}', not the one `base` trains")
        return
    counts: Counter = Counter()
    found = texts_of_options(corpus, texts, exclude, counts)
    if not found:
        msg.fail("No texts to pretrain on: give --corpus or --texts", exits=1)
    epochs = max_epochs(config_path)
    msg.info(
        f"Pretraining on {len(found):,} texts ({sum(len(t.split()) for t in found):,} words) for {epochs} epochs; "
        + ", ".join(f"{v:,} {k}" for k, v in sorted(counts.items()))
    )
    record = run_pretraining(config_path, found, output_dir, epochs)
    msg.good(f"Pretrained weights in {record['weights']}")


if __name__ == "__main__":
    run_command(main)
