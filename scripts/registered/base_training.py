"""Registered code for training the default base's ner (load with --code
scripts/registered/base_training.py):
- `ner_update.concat_corpus.v1` reads several corpora as one, so that the ner
  trains on the training and the development data alike;
- `ner_update.init_ner_features.v1` starts the ner's own token-to-vector layer
  from weights that `spacy pretrain` learned on raw text;
- and, loaded from next to this file, word_parts.py's
  `ner_update.WordPartsEmbed.v1`, the ner's embedding.

spaCy's `[initialize] init_tok2vec` loads pretrained weights into a whole
layer of a component; an internal tok2vec (as in en_core_web_sm's ner, which
the update needs) is wrapped with a projection, so it cannot be the target.
This callback loads the weights into the tok2vec inside that wrapper.
"""

import importlib.util
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from spacy.language import Language
from spacy.training import Example
from spacy.util import registry

Reader = Callable[[Language], Iterable[Example]]


def _load_sibling(name: str) -> None:
    """Import the module `name` from next to this file (once), as --code loads this file alone."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])


_load_sibling("word_parts")  # registers ner_update.WordPartsEmbed.v1


@registry.readers("ner_update.concat_corpus.v1")
def concat_corpus(*corpora: Reader) -> Callable[[Language], Iterator[Example]]:
    """[corpora.train]: the examples of each corpus in turn (one
    [corpora.train.*.NAME] block each, e.g. spacy.Corpus.v1)."""

    def read(nlp: Language) -> Iterator[Example]:
        for corpus in corpora:
            yield from corpus(nlp)

    return read


@registry.callbacks("ner_update.init_ner_features.v1")
def init_ner_features(path: Optional[Path], component: str = "ner") -> Callable[[Language], Language]:
    """[initialize.after_init]: load `path` (a model*.bin that `spacy pretrain`
    wrote for a tok2vec of the same architecture) into `component`'s own
    token-to-vector layer. path null: keep the random start."""

    def load(nlp: Language) -> Language:
        if path is None:
            return nlp
        if not Path(path).is_file():
            raise ValueError(f"Pretrained token-to-vector weights not found: {path} (run the `pretrain` step first)")
        inner = nlp.get_pipe(component).model.get_ref("tok2vec").layers[0]
        try:
            inner.from_bytes(Path(path).read_bytes())
        except ValueError as err:
            raise ValueError(
                f"Pretrained weights {path} do not fit {component}'s token-to-vector layer ({err}): its config "
                "changed since `pretrain` wrote them (e.g. it reads the cluster vectors now); run `pretrain` again"
            ) from None
        return nlp

    return load
