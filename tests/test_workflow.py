"""The main workflow, end to end, on a fresh copy of the project (short training)."""
import shutil

import srsly
from weasel.cli.run import project_run

from conftest import ROOT, SHARED_DATA
from copy_shared_assets import copy_shared_assets

GENERATED = ("corpus", "training", "packages", "project.lock", ".git", "__pycache__", ".pytest_cache")
OVERRIDES = {
    "vars.base_overrides": "--training.max_steps 100 --training.eval_frequency 50",
    "vars.train_overrides": "--training.max_steps 40 --training.eval_frequency 20",
}


def test_all_workflow_runs_end_to_end_and_then_skips(tmp_path, public_assets, capsys):
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(*GENERATED, "en_ewt-ud-*", "course-*"))
    (project / "corpus").mkdir()
    (project / "training").mkdir()
    copy_shared_assets(SHARED_DATA, project_dir=project)
    project_run(project, "all", overrides=OVERRIDES, capture=True)

    metrics = srsly.read_json(project / "training" / "metrics.json")
    assert metrics["new_labels"] == ["GADGET"]
    assert metrics["old_labels"] == ["LOC", "ORG", "PER"]
    assert metrics["frozen_outputs"]["identical"] is True
    assert "GADGET" in (project / "training" / "entities.html").read_text(encoding="utf8")
    assert list(srsly.read_jsonl(project / "training" / "losses.jsonl"))[-1]["rehearsal_losses"]
    assert list((project / "packages").rglob("en_gadget_ner-0.1.0-py3-none-any.whl"))

    capsys.readouterr()
    project_run(project, "all", overrides=OVERRIDES, capture=True)
    out = capsys.readouterr().out
    for step in ("bootstrap", "convert", "convert-ewt", "base", "rehearsal", "train", "evaluate"):
        assert f"Skipping '{step}': nothing changed" in out, step
