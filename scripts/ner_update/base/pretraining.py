"""Pretraining the default base ner's token-to-vector layer: the texts it reads (distinct, none
of a held-out file's) and `spacy pretrain` on them, with the record (pretrain.json) `base` reads
the weights from, or the reason there are none."""

from collections import Counter
from pathlib import Path
from typing import List

import srsly
from spacy.cli.pretrain import pretrain
from spacy.tokens import DocBin
from spacy.util import load_config
from spacy.vocab import Vocab

from ner_update.common import InputError, expand_text_files
from ner_update.files import atomic_dir, content_md5, write_atomic
from ner_update.inputs.texts import excluded_texts, iter_numbered_texts
from ner_update.registered import registered

registered("word_parts")  # registers the default base ner's embedding

RECORD = "pretrain.json"


def record_no_pretraining(output_dir: Path, reason: str) -> Path:
    """Write the record of a pretraining that did not happen (no weights, and why); its path."""
    output_dir.mkdir(parents=True, exist_ok=True)
    record_path = output_dir / RECORD
    write_atomic(record_path, srsly.json_dumps({"weights": None, "reason": reason}, indent=2))
    return record_path


def texts_of_options(corpus: List[Path], texts: List[str], exclude: List[str], counts: Counter) -> List[str]:
    """pretraining_texts for the command's options, where '' is no file; InputError naming the
    files or folders that do not exist."""
    missing = [p for p in [*texts, *exclude] if p.strip() and not Path(p).exists()]
    if missing:
        raise InputError(f'No such file or folder: {", ".join(missing)} (set vars.pretrain_texts, or "" for none)')
    return pretraining_texts(
        corpus, [Path(p) for p in texts if p.strip()], [Path(p) for p in exclude if p.strip()], counts
    )


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


def max_epochs(config_path: Path) -> int:
    """The epochs `spacy pretrain` runs with this config ([pretraining] max_epochs)."""
    return load_config(config_path)["pretraining"]["max_epochs"]


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
        write_atomic(tmp / RECORD, srsly.json_dumps(record, indent=2))
    return record
