"""The issue "Nothing stale, nothing silently wrong", replayed: checks that passed what a later
step failed on, and tracebacks where a message was due. Each test fails on the version before
the fix."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.cli.package import _is_permitted_package_name
from spacy.language import Language
from weasel.util import load_project_config, split_command

import apply
import bootstrap
import check_vars
import convert
import export
import make_config
from conftest import ROOT, run_cli
from ner_update.common import InputError
from ner_update.inputs import project_vars as vars_checks
from ner_update.registered import registered

LONE = "\ud800"  # half of a UTF-16 pair: JSON can escape it ("\\ud800"), UTF-8 cannot hold it


def write_json_lines(path: Path, records) -> Path:
    """JSONL written by the json module, which escapes a lone surrogate as \\ud800 (srsly cannot write it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf8")
    return path


def tiny_pipeline(path: Path, *components: str) -> Path:
    """A blank English pipeline with an initialized ner, word vectors and `components`, written to `path`."""
    nlp = spacy.blank("en")
    for word in ("phone", "tablet"):
        nlp.vocab.set_vector(word, numpy.ones(4, dtype="float32"))
    nlp.add_pipe("ner").add_label("GADGET")
    for name in components:
        nlp.add_pipe(name, config={"clear": False} if name == "ner_update_entity_snapshot" else {})
    nlp.initialize()
    nlp.to_disk(path)
    return path


# --- a. paths that weasel's command lines split --------------------------------------------------

PATH_VALUES = {
    "annotations": "{}/a.jsonl",
    "patterns": "{}/a.jsonl",
    "raw_texts": "{}",
    "checked_dev": "{}/a.jsonl",
    "checked_other": "{}/a.jsonl",
    "rehearsal_texts": "{}/a.jsonl",
    "pretrain_texts": "{}/a.jsonl",
    "base_pretrained": "{}/a.jsonl",
    "base_model": "{}/pipeline",
    "annotate_model": "training/{}",
    "apply_model": "training/{}",
    "apply_input": "{}",
    "apply_output": "corpus/{}",
}


@pytest.fixture(scope="module")
def awkward_folders(tmp_path_factory) -> Path:
    """Two folders whose names weasel cannot pass on: "my data" and "o'brien", each with a file and a pipeline."""
    root = tmp_path_factory.mktemp("awkward")
    for name in ("my data", "o'brien"):
        write_json_lines(root / name / "a.jsonl", [{"text": "I love my phone"}])
        tiny_pipeline(root / name / "pipeline")
    return root


def path_var_words(name: str, value: str) -> list:
    """Each script line of project.yml that uses vars.NAME, with `value` in its place, split as weasel
    splits it: the words that stand for the var."""
    words = []
    for command in load_project_config(ROOT, overrides={f"vars.{name}": value})["commands"]:
        for line in command.get("script", []):
            words += [word for word in split_command(line) if value in word]
    return words


@pytest.mark.parametrize("folder", ["my data", "o'brien"])
@pytest.mark.parametrize("name", sorted(PATH_VALUES))
def test_a_path_var_with_a_space_or_apostrophe_reaches_each_step_whole(awkward_folders, monkeypatch, name, folder):
    """project.yml quotes every path var, so "my data" and "o'brien" are one word of every command line."""
    monkeypatch.chdir(awkward_folders)
    value = PATH_VALUES[name].format(folder)
    words = path_var_words(name, value)
    assert words and all(word == value or word.endswith("=" + value) for word in words), words
    assert not [p for p in vars_checks.check_vars({name: value}) if "without a shell" in p]


@pytest.mark.parametrize("name", sorted(PATH_VALUES))
def test_a_path_var_with_a_double_quote_is_refused_with_why(name):
    value = PATH_VALUES[name].format('my "best" data')
    problems = [p for p in vars_checks.check_vars({name: value}) if "without a shell" in p]
    assert len(problems) == 1 and problems[0].startswith(f"vars.{name} = {value!r}: a double quote")
    assert "rename the file or folder" in problems[0]


def test_check_vars_stops_on_a_path_with_a_double_quote(tmp_path):
    values = ['annotations=my "data"/a.jsonl', "recipe=new_label_tagger", "--output", tmp_path / "vars.json"]
    code, out = run_cli(check_vars.main, values)
    assert code == 1 and 'vars.annotations = \'my "data"/a.jsonl\': a double quote (") in a path' in out
    assert not (tmp_path / "vars.json").exists()


# --- b. numbers that are not numbers -------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "Infinity"])
@pytest.mark.parametrize("name", ["negative_ratio", "checkpoint_share", "dev_ratio"])
def test_a_float_var_must_be_finite(name, value):
    (problem,) = vars_checks.check_vars({name: value})
    assert problem.startswith(f"vars.{name} = {value!r}: ") and "finite number" in problem


def test_finite_floats_still_pass():
    assert vars_checks.check_vars({"negative_ratio": "2.5", "checkpoint_share": "0.5", "dev_ratio": "0.2"}) == []


# --- c. package names spacy package refuses ------------------------------------------------------


@pytest.mark.parametrize(
    "value,expected",
    [
        ("a" * 300, "300 characters, at most 50"),
        ("a" * 51, "51 characters, at most 50"),
        ("1ner", "start with a letter and end with a letter or digit"),
        ("ner_", "start with a letter and end with a letter or digit"),
        ("_ner", "start with a letter and end with a letter or digit"),
        ("_", "start with a letter and end with a letter or digit"),
    ],
)
def test_a_package_name_spacy_package_or_a_wheel_refuses_is_refused(value, expected):
    (problem,) = vars_checks.check_vars({"package_name": value})
    assert problem.startswith(f"vars.package_name = {value!r}: ") and expected in problem


@pytest.mark.parametrize("value", ["ner_updated", "a", "x1", "my_ner_2", "a" * 50, "1ner", "ner_", "_", "a" * 300])
def test_a_package_name_check_vars_accepts_is_one_spacy_package_accepts(value):
    if vars_checks.check_vars({"package_name": value}) == []:
        assert value.isidentifier() and _is_permitted_package_name(value)  # spacy/cli/package.py's two checks


# --- d. a base folder that is not a loadable pipeline --------------------------------------------


def cut_short(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# what breaks the folder, and what the message says
BREAKAGES = {
    "no meta.json": (lambda folder: (folder / "meta.json").unlink(), "it has no meta.json"),
    "meta.json cut short": (lambda folder: cut_short(folder / "meta.json"), "meta.json is cut short"),
    "config.cfg unreadable": (
        lambda folder: (folder / "config.cfg").write_text("[nlp\nlang = ", encoding="utf8"),
        "its config.cfg is unreadable",
    ),
    "ner/model cut short": (lambda folder: cut_short(folder / "ner" / "model"), "ner/model is cut short"),
    "vocab/vectors cut short": (lambda folder: cut_short(folder / "vocab" / "vectors"), "vocab/vectors is cut short"),
    "vocab/strings.json cut short": (
        lambda folder: cut_short(folder / "vocab" / "strings.json"),
        "vocab/strings.json is cut short",
    ),
    "tokenizer cut short": (lambda folder: cut_short(folder / "tokenizer"), "tokenizer is cut short"),
}


@pytest.fixture(scope="module")
def intact_pipeline(tmp_path_factory) -> Path:
    return tiny_pipeline(tmp_path_factory.mktemp("intact") / "pipeline")


def broken_pipeline(intact: Path, folder: Path, breakage: str) -> Path:
    import shutil

    shutil.copytree(intact, folder)
    BREAKAGES[breakage][0](folder)
    return folder


def test_an_intact_pipeline_folder_passes_and_loads(intact_pipeline):
    from ner_update.registered import load_base

    assert vars_checks.check_vars({"base_model": str(intact_pipeline), "apply_model": str(intact_pipeline)}) == []
    assert load_base(str(intact_pipeline)).pipe_names == ["ner"]


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_base_folder_that_would_not_load_is_refused_by_check_vars(intact_pipeline, tmp_path, breakage):
    folder = broken_pipeline(intact_pipeline, tmp_path / "base", breakage)
    with pytest.raises((OSError, ValueError)):  # the case is real: spaCy cannot load it
        spacy.load(folder)
    for name in ("base_model", "annotate_model", "apply_model"):
        (problem,) = vars_checks.check_vars({name: str(folder)})
        assert problem.startswith(f"vars.{name} = {str(folder)!r}: not a loadable pipeline folder: "), problem
        assert BREAKAGES[breakage][1] in problem
    from ner_update.registered import load_base

    with pytest.raises(InputError, match=f"Base pipeline '{folder}'"):  # and loading it is a message
        load_base(str(folder))


def test_a_folder_without_a_config_is_not_a_pipeline(tmp_path):
    (tmp_path / "texts").mkdir()
    (problem,) = vars_checks.check_vars({"base_model": str(tmp_path / "texts")})
    assert "not a loadable pipeline folder: it has no config.cfg" in problem


# --- e. lone surrogates -------------------------------------------------------------------------

SURROGATE_RECORDS = {
    "spans text": {"text": f"I love my iPhone X {LONE}", "spans": [{"start": 10, "end": 18, "label": "GADGET"}]},
    "course text": [f"I love my iPhone X {LONE}", {"entities": [[10, 18, "GADGET"]]}],
    "values text": {"text": f"I love my iPhone X {LONE}", "entities": [{"label": "GADGET", "value": "iPhone X"}]},
    "Label Studio text": {
        "data": {"text": f"{LONE} I love my iPhone X"},
        "annotations": [{"result": [{"type": "labels", "value": {"start": 12, "end": 20, "labels": ["GADGET"]}}]}],
    },
    "spans label": {"text": "I love my iPhone X", "spans": [{"start": 10, "end": 18, "label": f"GADGET{LONE}"}]},
    "doccano label": {"text": "I love my iPhone X", "label": [[10, 18, f"G{LONE}"]]},
}


@pytest.mark.parametrize("case", sorted(SURROGATE_RECORDS))
def test_a_lone_surrogate_in_an_annotation_is_a_bad_record_with_file_and_line(tmp_path, case):
    good = {"text": "My Pixel 7 broke", "spans": [{"start": 3, "end": 10, "label": "GADGET"}]}
    path = write_json_lines(tmp_path / "annotations.jsonl", [good, SURROGATE_RECORDS[case]])
    out = tmp_path / "out"
    args = [path, "--train-output", out / "train.spacy", "--dev-output", out / "dev.spacy"]
    code, output = run_cli(convert.main, args)
    assert code == 1 and not out.exists()
    assert "annotations.jsonl: line 2: " in output
    assert ("lone surrogate" if "text" in case else "malformed label") in output


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_a_lone_surrogate_in_a_raw_text_names_file_and_line(tmp_path, suffix):
    texts = tmp_path / f"texts{suffix}"
    records = [{"text": "My iPhone X broke"}, {"text": f"my phone {LONE} is fine"}]
    if suffix == ".json":
        texts.write_text(json.dumps(["My iPhone X broke", f"my phone {LONE} is fine"]), encoding="utf8")
    else:
        write_json_lines(texts, records)
    patterns = write_json_lines(tmp_path / "patterns.jsonl", [{"label": "GADGET", "pattern": "iPhone X"}])
    out = tmp_path / "out"
    code, output = run_cli(bootstrap.main, [texts, "--patterns", patterns, "--output", out / "annotations.json"])
    where = "line 2" if suffix == ".jsonl" else "record 2"
    assert code == 1 and f"texts{suffix}: {where}: the text has a lone surrogate '\\ud800' at character 10" in output
    assert not out.exists()

    code, output = run_cli(apply.main, [tmp_path / "no_pipeline_needed", texts, "--output", out])
    assert code == 1 and f"texts{suffix}: {where}: the text has a lone surrogate" in output and not out.exists()


# --- f. apply given a folder that is not a pipeline ----------------------------------------------


def test_apply_with_a_folder_that_is_not_a_pipeline_is_a_message(tmp_path, intact_pipeline):
    texts = write_json_lines(tmp_path / "in" / "a.jsonl", [{"text": "My iPhone X broke"}])
    for model in (tmp_path / "in", broken_pipeline(intact_pipeline, tmp_path / "broken", "ner/model cut short")):
        code, output = run_cli(apply.main, [model, texts, "--output", tmp_path / "out"])
        assert code == 1 and f"{model}: not a loadable pipeline folder" in output
        assert not (tmp_path / "out").exists()


# --- g. an unknown language code --------------------------------------------------------------


def test_convert_and_export_name_an_unknown_language(tmp_path):
    path = write_json_lines(tmp_path / "a.jsonl", [{"text": "My iPhone X", "spans": []}])
    out = tmp_path / "out"
    args = [path, "--train-output", out / "t.spacy", "--dev-output", out / "d.spacy", "--lang", "zz"]
    code, output = run_cli(convert.main, args)
    assert code == 1 and "unknown language 'zz': spaCy has no language with this code" in output
    code, output = run_cli(export.main, [path, "--output", out / "tasks.json", "--lang", "zz"])
    assert code == 1 and "unknown language 'zz'" in output
    assert not out.exists()
    # the one rule check-vars applies too
    (problem,) = vars_checks.check_vars({"lang": "zz"})
    assert "unknown language 'zz': spaCy has no language with this code" in problem


# --- h. the shipped pipeline as the base -------------------------------------------------------

RECIPE = ROOT / "configs" / "recipes" / "new_label_tagger.cfg"


def make_config_elsewhere(base: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """`config`'s command in a process of its own, which registers only what the step registers."""
    args = [sys.executable, str(ROOT / "scripts" / "make_config.py"), str(RECIPE), str(base)]
    args += [str(tmp_path / "config.cfg"), "--prepared-base", str(tmp_path / "prepared")]
    return subprocess.run(args, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_COLOR": "1"})


def test_a_pipeline_with_the_projects_components_loads_as_a_base(tmp_path):
    registered("components")  # to build it here
    base = tiny_pipeline(tmp_path / "shipped", "ner_update_entity_snapshot")
    done = make_config_elsewhere(base, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert "ner_update_entity_snapshot" in spacy.util.load_config(tmp_path / "config.cfg")["nlp"]["pipeline"]


@Language.factory("acme_unknown_component")
def make_acme(nlp: Language, name: str):
    return lambda doc: doc


def test_a_base_with_a_component_nobody_registers_says_what_to_do(tmp_path):
    base = tiny_pipeline(tmp_path / "foreign", "acme_unknown_component")
    done = make_config_elsewhere(base, tmp_path)
    output = " ".join(done.stdout.split())
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert (
        f"Base pipeline '{base}' has a component whose code is not installed (factory 'acme_unknown_component'"
        in output
    )
    assert "spacy package --code" in output and not (tmp_path / "config.cfg").exists()


def test_make_config_says_what_to_do_when_the_base_has_the_recipes_component_names(tmp_path):
    """The shipped pipeline loads as a base; a recipe that adds components of its names would write a
    config naming two components alike: make_config stops before anything is written."""
    registered("components")
    nlp = spacy.blank("en")
    nlp.add_pipe("ner").add_label("GADGET")
    nlp.add_pipe("ner_update_entity_snapshot", name="entity_snapshot", config={"clear": False})
    nlp.initialize()
    nlp.to_disk(tmp_path / "shipped")
    recipe = ROOT / "configs" / "recipes" / "new_label_tagger.cfg"
    args = [recipe, tmp_path / "shipped", tmp_path / "config.cfg", "--prepared-base", tmp_path / "prepared"]
    code, output = run_cli(make_config.main, args)
    assert code == 1 and "The base pipeline already has components named entity_snapshot" in output
    assert "vars.base_model" in output
    assert not (tmp_path / "config.cfg").exists() and not (tmp_path / "prepared").exists()
