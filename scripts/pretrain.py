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

import srsly
import typer
from spacy.cli.pretrain import pretrain
from spacy.tokens import DocBin
from spacy.util import load_config
from spacy.vocab import Vocab
from wasabi import msg

from ner_update.common import (
    InputError,
    atomic_dir,
    content_md5,
    excluded_texts,
    expand_text_files,
    is_default_base,
    iter_numbered_texts,
    write_atomic,
)
from ner_update.registered import registered

registered("word_parts")  # registers the default base ner's embedding


def pretraining_texts(corpus: List[Path], texts: List[Path], exclude: List[Path], counts: Counter) -> List[str]:
    """The texts of the .spacy files in `corpus` and of the raw-text files in
    `texts`, minus any text of the files in `exclude`; distinct, in order."""
    held = excluded_texts(exclude)
    out: List[str] = []
    seen = set()
    spacy_files = expand_text_files(corpus, suffixes=(".spacy",))
    streams = [(doc.text for doc in DocBin().from_disk(p).get_docs(Vocab())) for p in spacy_files]
    streams += [(text for _, text in iter_numbered_texts(p, counts)) for p in expand_text_files(texts)]
    for stream in streams:
        for text in stream:
            text = text.strip()
            if not text:
                continue
            if text in held:
                counts["held-out texts left out"] += 1
            elif text in seen:
                counts["repeated texts left out"] += 1
            else:
                seen.add(text)
                out.append(text)
    return out


def run_pretraining(config_path: Path, texts: List[str], output_dir: Path, epochs: int) -> dict:
    """`spacy pretrain` on `texts`; the weights and their record appear in
    output_dir only when it has finished (nothing partial is left behind)."""
    with atomic_dir(output_dir) as tmp:
        text_path = tmp / "texts.jsonl"
        srsly.write_jsonl(text_path, [{"text": t} for t in texts])
        (tmp / "weights").mkdir()
        config = load_config(config_path, overrides={"paths.raw_text": str(text_path)}, interpolate=True)
        pretrain(config, tmp / "weights", silent=False)
        text_path.unlink()
        weights = tmp / "weights" / f"model{epochs - 1}.bin"
        if not weights.exists():
            raise InputError(f"spacy pretrain wrote no {weights.name}")
        record = {
            "weights": (output_dir / "weights" / weights.name).as_posix(),
            "texts": len(texts),
            "epochs": epochs,
            "config_md5": content_md5(config_path),
        }
        write_atomic(tmp / "pretrain.json", srsly.json_dumps(record, indent=2))
    return record


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
    record_path = output_dir / "pretrain.json"
    if not is_default_base(base_model, base_dir):
        output_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(
            record_path,
            srsly.json_dumps({"weights": None, "reason": f"the base is {base_model}, not the default"}, indent=2),
        )
        msg.info(f"Nothing to pretrain: the base is '{base_model}', not the one `base` trains")
        return
    counts: Counter = Counter()
    missing = [p for p in [*texts, *exclude] if p.strip() and not Path(p).exists()]
    if missing:
        msg.fail(f'No such file or folder: {", ".join(missing)} (set vars.pretrain_texts, or "" for none)', exits=1)
    try:
        found = pretraining_texts(
            corpus, [Path(p) for p in texts if p.strip()], [Path(p) for p in exclude if p.strip()], counts
        )
    except InputError as err:
        msg.fail(str(err), exits=1)
    if not found:
        msg.fail("No texts to pretrain on: give --corpus or --texts", exits=1)
    epochs = load_config(config_path)["pretraining"]["max_epochs"]
    msg.info(
        f"Pretraining on {len(found):,} texts ({sum(len(t.split()) for t in found):,} words) for {epochs} epochs; "
        + ", ".join(f"{v:,} {k}" for k, v in sorted(counts.items()))
    )
    record = run_pretraining(config_path, found, output_dir, epochs)
    msg.good(f"Pretrained weights in {record['weights']}")


if __name__ == "__main__":
    typer.run(main)
