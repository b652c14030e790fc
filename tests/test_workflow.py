"""The main workflow, end to end, on a fresh copy of the project (short training)."""

import srsly
from spacy.tokens import DocBin
from spacy.vocab import Vocab
from weasel.cli.run import project_run

OVERRIDES = {
    "vars.base_overrides": "--training.max_steps 100 --training.eval_frequency 100",
    "vars.train_overrides": "--training.max_steps 40 --training.eval_frequency 20",
    "vars.heldout_texts_per_file": 100,
    "vars.failed_learning": "ship",  # 40 steps may learn too little to pass evaluate's verdict: build the wheel
}
CHECKED = ("youtube_dev", "other_sites")  # the hand-checked sets: never trained on
STEPS = (  # check-vars runs every time (seconds): it links the optional inputs
    "bootstrap",
    "convert",
    "convert-ewt",
    "convert-btc",
    "base",
    "rehearsal",
    "config",
    "train",
    "assemble",
    "evaluate",
    "report",
)


def test_all_workflow_runs_end_to_end_and_then_skips(public_assets, capsys):
    project = public_assets
    project_run(project, "all", overrides=OVERRIDES, capture=True)

    metrics = srsly.read_json(project / "training" / "metrics.json")
    assert metrics["new_labels"] == ["GADGET"] and metrics["old_labels"] == ["LOC", "ORG", "PER"]
    assert metrics["recipe"] == "new_label_tagger"
    sets = metrics["new_label_sets"]
    assert (
        set(sets) == {"dev", "checkpoint", "checked_test", "checked_other"}
        and metrics["learning"]["checkpoint_set"] == "checkpoint"
    )
    assert set(metrics["old_label_sets"]) == {"ewt", "btc"} and set(metrics["agreement_sets"]) == {"domain"}
    # the checked set, split by text: one part picks the checkpoint, the other chose nothing
    assert sets["checkpoint"]["docs"] + sets["checked_test"]["docs"] == 340 and sets["checked_test"]["docs"] > 100
    assert sets["checked_other"]["docs"] == 331
    # the rules are inside the shipped pipeline: it finds at least what the patterns find
    checked = sets["checked_test"]
    assert checked["shipped"]["r"] >= checked["patterns"]["r"] - 5
    # the base ner runs untouched; a base entity changes only where a new-label entity wins: near-total agreement
    for group in ("old_label_sets", "agreement_sets"):
        for name, entry in metrics[group].items():
            assert entry["shipped"]["agreement"]["f"] >= 95.0, name
    assert set(checked["relabel"]["shipped"]) == {"overlapped", "relabelled", "rate", "base_labels"}
    assert metrics["frozen_outputs"]["identical"] is True
    assert list(srsly.read_jsonl(project / "training" / "losses.jsonl"))[-1]["losses"]["new_labels"] > 0
    assert "GADGET" in (project / "training" / "report.html").read_text(encoding="utf8")
    assert list((project / "packages").rglob("en_ner_updated-0.1.0-py3-none-any.whl"))
    # the hand-checked texts are never trained on
    checked_texts = {
        r["text"] for name in CHECKED for r in srsly.read_jsonl(project / "assets" / f"{name}_checked.jsonl")
    }
    trained = {r[0] for r in srsly.read_json(project / "corpus" / "bootstrapped.json")}
    for name in ("train", "rehearsal"):
        trained |= {doc.text for doc in DocBin().from_disk(project / "corpus" / f"{name}.spacy").get_docs(Vocab())}
    assert not checked_texts & trained
    assert not (project / "corpus" / "domain_rehearsal.jsonl").exists()  # nothing reads it: not written

    capsys.readouterr()
    project_run(project, "all", overrides=OVERRIDES, capture=True)
    out = capsys.readouterr().out
    for step in STEPS:
        assert f"Skipping '{step}': nothing changed" in out, step

    # one step run alone sees an edited input and edited code: no stale output, with or without check-vars
    checked = project / "assets" / "youtube_dev_checked.jsonl"
    checked.write_text("".join(checked.read_text(encoding="utf8").splitlines(keepends=True)[:240]), encoding="utf8")
    module = project / "scripts" / "ner_update" / "report" / "charts.py"
    module.write_text(module.read_text(encoding="utf8") + "# edited\n", encoding="utf8")
    capsys.readouterr()
    for step in ("convert", "report", "vectors"):
        project_run(project, step, overrides=OVERRIDES, capture=True)
    out = capsys.readouterr().out
    assert "Skipping 'convert'" not in out and "Skipping 'report'" not in out, out
    assert "Skipping 'vectors': nothing changed" in out  # it imports neither
    assert len(DocBin().from_disk(project / "corpus" / "checked_dev.spacy")) == 240
