"""What `annotate` suggests: the entities of the pipeline and of the patterns on
each text, run on the engine, and the labels the pipeline cannot predict. A
library: prints nothing but progress bars.
"""

from dataclasses import dataclass

from spacy.language import Language
from tqdm import tqdm

from ner_update.evaluation.scoring import ner_labels
from ner_update.review.request import Plan
from ner_update.scale.engine import SHARD_BATCHES, EngineOptions, Job, Runner, open_engine, shards_of
from ner_update.scale.jobs import pattern_matches_job, pipeline_spans_job


@dataclass
class Item:
    """One text, where it came from, and the entities each view found in it."""

    source: str
    line: int
    text: str
    pipeline_spans: list[dict]
    pattern_spans: list[dict] | None  # None without patterns

    @property
    def disagreement(self) -> bool:
        return self.pattern_spans is not None and self.pattern_spans != self.pipeline_spans

    def to_record(self, pipeline: str) -> dict:
        """The span record to review: the pipeline's spans to correct, both views in "meta"."""
        meta = {
            "source": self.source,
            "line": self.line,
            "pipeline": pipeline,
            "disagreement": self.disagreement,
            "pattern_spans": self.pattern_spans,
            "pipeline_spans": self.pipeline_spans,
        }
        return {"text": self.text, "spans": [dict(s) for s in self.pipeline_spans], "meta": meta}


def unknown_labels(nlp: Language, labels: list | None) -> list[str]:
    """The labels given that no entity component of the pipeline knows (it will predict none of them)."""
    known = ner_labels(nlp)
    return [label for label in labels or [] if label not in known]


def _run(runner: Runner, job: Job, texts: list[str], desc: str, batch_size: int) -> list:
    """One result per text from the engine, with a progress bar."""
    found: list = []
    with tqdm(total=len(texts), desc=desc, unit="text", disable=None) as bar:
        for result in runner.map(job, shards_of(texts, batch_size * SHARD_BATCHES)):
            found += result.results
            bar.update(len(result.items))
    return found


def predict(model: str, planned: Plan, lang: str, options: EngineOptions, batch_size: int) -> list[Item]:
    """Run the pipeline (only what its ner needs) and the patterns over the texts, with the engine."""
    found, patterns = planned.found, planned.patterns
    texts = [text for _, _, text in found]
    keep = sorted(set(planned.labels)) if planned.labels else None
    with open_engine(options) as runner:
        predicted = _run(runner, pipeline_spans_job(model, keep, batch_size=batch_size), texts, "pipeline", batch_size)
        if patterns is None:
            matched: list = [None] * len(texts)
        else:
            matches = _run(runner, pattern_matches_job(lang, patterns, batch_size), texts, "patterns", batch_size)
            matched = [
                [{"start": s, "end": e, "label": label} for s, e, label, _ in spans if keep is None or label in keep]
                for spans in matches
            ]
    return [Item(src, line, text, p, m) for (src, line, text), p, m in zip(found, predicted, matched)]
