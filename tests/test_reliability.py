"""Issue 17, replayed: nothing a user does loses their work, runs their code or writes
outside the project. Each bad input fails with one clear message naming the file (and
line), exits 1 and writes nothing."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.tokens import DocBin
from weasel.cli.run import project_run
from weasel.util import load_project_config, split_command

import annotate
import apply
import base
import bootstrap
import check_vars
import clean
import copy_shared_assets
import evaluate
import rehearsal
from conftest import ROOT, run_cli
from ner_update.base import build
from ner_update.common import InputError
from ner_update.evaluation import scoring
from ner_update.inputs import project_vars as vars_checks
from ner_update.inputs.patterns import _regexes, load_patterns, pattern_problem
from ner_update.registered import registered

PATTERNS = [
    {"label": "GADGET", "pattern": [{"LOWER": "iphone"}, {"LOWER": "x"}]},
    {"label": "GADGET", "pattern": "galaxy s9"},
]
TEXTS = ["How to preorder the iPhone X", "My galaxy s9 broke.", "I need a new phone."]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """Stands in for a trained pipeline: a blank English pipeline with an entity_ruler."""
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "GADGET", "pattern": "iPhone X"}])
    path = tmp_path_factory.mktemp("pipeline") / "model"
    nlp.to_disk(path)
    return path


def write_lines(path: Path, lines, encoding: str = "utf8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(line + "\n" for line in lines).encode(encoding))
    return path


def write_patterns(path: Path, patterns) -> Path:
    """Patterns as JSONL; a str item is written as the line it is."""
    return write_lines(path, [p if isinstance(p, str) else srsly.json_dumps(p) for p in patterns])


def run_bootstrap(tmp_path: Path, texts: Path, patterns: Path, *options):
    """Run bootstrap; return (exit code, output, names of the files it wrote)."""
    out = tmp_path / "out"
    args = [texts, "--patterns", patterns, "--output", out / "annotations.json"]
    args += ["--rehearsal-output", out / "rehearsal.jsonl", "--heldout-output", out / "heldout.jsonl", *options]
    code, output = run_cli(bootstrap.main, args)
    return code, output, sorted(p.name for p in out.glob("*")) if out.exists() else []


def run_annotate(model: Path, texts: Path, patterns: Path, out: Path, *options):
    """Run annotate with an HTML page; return (exit code, output)."""
    args = [model, texts, "--patterns", patterns, "--output", out / "review.jsonl", "--html", out / "review.html"]
    return run_cli(annotate.main, [*args, *options])


# --- 1. script injection in the review page ---------------------------------------


def test_review_page_escapes_a_label_from_the_patterns(tmp_path, model):
    label = "<script>alert(1)</script>"
    texts = write_lines(tmp_path / "texts.txt", TEXTS)
    patterns = write_patterns(tmp_path / "patterns.jsonl", [{"label": label, "pattern": "galaxy s9"}])
    code, output = run_annotate(model, texts, patterns, tmp_path / "out", "--labels", f"{label},GADGET")
    assert code == 0, output
    page = (tmp_path / "out" / "review.html").read_text(encoding="utf8")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text on the span


# --- 2. hand corrections are never lost ----------------------------------------------


def test_annotate_never_replaces_a_corrected_review_file(tmp_path, model):
    texts = write_lines(tmp_path / "texts.txt", TEXTS)
    patterns = write_patterns(tmp_path / "patterns.jsonl", PATTERNS)
    out = tmp_path / "corpus"
    assert run_annotate(model, texts, patterns, out)[0] == 0
    assert run_annotate(model, texts, patterns, out)[0] == 0  # unchanged since written: replaced
    review = out / "review.jsonl"
    records = list(srsly.read_jsonl(review))
    records[0]["spans"] = [{"start": 3, "end": 12, "label": "GADGET"}]  # a correction
    srsly.write_jsonl(review, records)
    corrected = review.read_bytes()
    page = (out / "review.html").read_bytes()

    code, output = run_annotate(model, texts, patterns, out)
    assert code == 1
    assert f"{review} changed since annotate wrote it" in output and "--force" in output
    assert review.read_bytes() == corrected and (out / "review.html").read_bytes() == page  # neither replaced

    code, output = run_annotate(model, texts, patterns, out, "--force")
    assert code == 0, output
    assert review.read_bytes() != corrected


def test_annotate_refuses_to_replace_a_review_file_it_did_not_write(tmp_path, model):
    texts = write_lines(tmp_path / "texts.txt", TEXTS)
    patterns = write_patterns(tmp_path / "patterns.jsonl", PATTERNS)
    out = tmp_path / "corpus"
    write_lines(out / "review.jsonl", ['{"text": "mine", "spans": []}'])
    code, output = run_annotate(model, texts, patterns, out)
    assert code == 1 and "changed since annotate wrote it" in output
    assert (out / "review.jsonl").read_text(encoding="utf8") == '{"text": "mine", "spans": []}\n'
    assert not (out / "review.html").exists()


# --- 5. encodings and overlong texts ------------------------------------------------

BAD_BYTES = {
    "utf16": ("\n".join(TEXTS) + "\n").encode("utf-16"),
    "latin1": "iPhone X\ncaf\u00e9 au lait\n".encode("latin-1"),
    "invalid_utf8": b"iPhone X\nfine\nbroken \xc3\x28 here\n",
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\xf4\xff\xd8",
}
EXPECTED = {
    "utf16": "texts.txt: UTF-16 text",
    "latin1": "texts.txt: line 2, column 4: byte 0xE9 is not UTF-8",
    "invalid_utf8": "texts.txt: line 3, column 8: byte 0xC3 is not UTF-8",
    "binary": "texts.txt: line 1, column 1: byte 0x89: the file is binary data, not text",
}


@pytest.mark.parametrize("kind", sorted(BAD_BYTES))
def test_bootstrap_names_the_file_and_line_of_undecodable_texts(tmp_path, kind):
    texts = tmp_path / "texts.txt"
    texts.write_bytes(BAD_BYTES[kind])
    code, output, written = run_bootstrap(tmp_path, texts, write_patterns(tmp_path / "patterns.jsonl", PATTERNS))
    assert code == 1 and written == []
    assert EXPECTED[kind] in output and "Traceback" not in output


@pytest.mark.parametrize("kind", sorted(BAD_BYTES))
def test_annotate_names_the_file_and_line_of_undecodable_texts(tmp_path, model, kind):
    texts = tmp_path / "texts.txt"
    texts.write_bytes(BAD_BYTES[kind])
    out = tmp_path / "out"
    code, output = run_annotate(model, texts, write_patterns(tmp_path / "patterns.jsonl", PATTERNS), out)
    assert code == 1 and not out.exists()
    assert EXPECTED[kind] in output


def test_undecodable_json_texts_and_patterns_name_the_file(tmp_path):
    texts = tmp_path / "texts.json"
    texts.write_bytes('["iPhone X",\n "caf\u00e9"]'.encode("latin-1"))
    patterns = write_patterns(tmp_path / "patterns.jsonl", PATTERNS)
    code, output, written = run_bootstrap(tmp_path, texts, patterns)
    assert code == 1 and written == [] and "texts.json: line 2, column 6: byte 0xE9" in output

    texts = write_lines(tmp_path / "texts.txt", TEXTS)
    patterns = write_lines(
        tmp_path / "patterns.jsonl", [srsly.json_dumps(PATTERNS[0]), '{"label": "G\u00c4", "pattern": "x"}'], "latin-1"
    )
    code, output, written = run_bootstrap(tmp_path, texts, patterns)
    assert code == 1 and written == [] and "patterns.jsonl: line 2, column 13: byte 0xC4" in output


def long_text_file(tmp_path: Path) -> Path:
    return write_lines(tmp_path / "texts.txt", [TEXTS[0], "", "word " * 200_001, TEXTS[1]])


def test_bootstrap_names_the_line_of_a_text_over_max_length(tmp_path):
    patterns = write_patterns(tmp_path / "patterns.jsonl", PATTERNS)
    code, output, written = run_bootstrap(tmp_path, long_text_file(tmp_path), patterns)
    assert code == 1 and written == []
    assert "texts.txt: line 3: a text of 1,000,004 characters, longer than spaCy's limit of 1,000,000" in output


def test_annotate_names_the_line_of_a_text_over_max_length(tmp_path, model):
    patterns = write_patterns(tmp_path / "patterns.jsonl", PATTERNS)
    code, output = run_annotate(model, long_text_file(tmp_path), patterns, tmp_path / "out")
    assert code == 1 and not (tmp_path / "out").exists()
    assert "texts.txt: line 3: a text of 1,000,004 characters" in output


# --- 6. pattern validation ---------------------------------------------------------


@pytest.mark.parametrize(
    "line,expected",
    [
        ({"label": "MY GADGET", "pattern": "pixel"}, "line 2: empty or malformed label 'MY GADGET'"),
        (
            {"label": "GADGET", "pattern": [{"TEXT": {"REGEX": "(pixel"}}]},
            "line 2: invalid regular expression '(pixel'",
        ),
        ({"label": "GADGET", "pattern": [{"_": {"x": {"REGEX": "a{2,1}"}}}]}, "line 2: invalid regular expression"),
        ({"label": "GADGET", "pattern": [{}]}, "line 2: the pattern [{}] puts no condition on any token"),
        ({"label": "GADGET", "pattern": [{"OP": "+"}]}, "matches every text"),
        ({"label": "GADGET", "pattern": [{"OP": "*"}]}, "matches every text"),
        ({"label": "GADGET", "pattern": [{}, {"OP": "?"}]}, "matches every text"),
        ({"label": "GADGET", "pattern": "  "}, "line 2: a phrase pattern must not be blank"),
    ],
)
def test_bad_patterns_fail_at_load_with_file_and_line(tmp_path, line, expected):
    texts = write_lines(tmp_path / "texts.txt", TEXTS)
    patterns = write_patterns(tmp_path / "patterns.jsonl", [PATTERNS[0], line])
    code, output, written = run_bootstrap(tmp_path, texts, patterns)
    assert code == 1 and written == []
    assert f"{patterns}: {expected}" in output or expected in output and str(patterns) in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    "pattern,expected",
    [
        # every token matches every token: a regex that finds the empty string anywhere, any length
        ([{"TEXT": {"REGEX": ".*"}}], "puts no condition on any token (or only conditions every token meets"),
        ([{"LOWER": {"REGEX": "^.*$"}}], "matches every text"),
        ([{"REGEX": ".*"}], "matches every text"),
        ([{"LENGTH": {">=": 0}}], "matches every text"),
        ([{"_": {"brand": {"REGEX": "x?"}}}, {"LENGTH": {">": -1}, "OP": "+"}], "matches every text"),
        # nothing required
        ([{"IS_ASCII": True, "OP": "*"}], 'every token of the pattern [{"IS_ASCII":true,"OP":"*"}] is optional'),
        ([{"LOWER": "apple", "OP": "?"}, {"IS_DIGIT": True, "OP": "{0,2}"}], "is optional"),
        # matching time that doubles per character
        ([{"TEXT": {"REGEX": "^(a+)+$"}}], "the regular expression '^(a+)+$' can take time that doubles"),
        ([{"LOWER": {"REGEX": "(a|a)*"}}], "alternatives that can match the same text"),
        ([{"LOWER": {"REGEX": "(a|aa)+$"}}], "alternatives that can match the same text"),
        ([{"LOWER": "iphone"}, {"TEXT": {"REGEX": "(\\w+\\s?)*$"}}], "a quantifier inside a repeated part"),
    ],
)
def test_patterns_that_match_every_text_or_backtrack_fail_at_load_with_their_line(tmp_path, pattern, expected):
    patterns = write_patterns(tmp_path / "patterns.jsonl", [PATTERNS[0], "", {"label": "GADGET", "pattern": pattern}])
    with pytest.raises(InputError) as error:
        load_patterns(patterns)
    assert f"{patterns}: line 3: " in str(error.value) and expected in str(error.value)


@pytest.mark.parametrize(
    "pattern",
    [
        [{"LOWER": "iphone"}, {"TEXT": {"REGEX": ".*"}}],  # one token with a real condition is enough
        [{"LENGTH": {">=": 2}}, {"LOWER": "pro", "OP": "?"}],
        [{"LOWER": "apple", "OP": "?"}, {"LOWER": "watch"}],
        [{"LOWER": {"REGEX": "^(\\d+\\.)+\\d+$"}}],  # nested, but a text is cut one way only
        [{"LOWER": {"REGEX": "^(ab?)+$"}}],
        [{"LOWER": {"REGEX": "^(?:pro|max|\\d{2})+$"}}],  # (\\d{1,2})+ would not: 1234 cuts many ways
        [{"LOWER": {"REGEX": "^(pro|plus|max|mini|ultra)+$"}}],  # words sharing a first letter, none a prefix
    ],
)
def test_patterns_with_a_real_condition_pass(pattern):
    assert pattern_problem({"label": "GADGET", "pattern": pattern}) is None


def test_the_demo_patterns_pass_every_check():
    patterns = load_patterns(ROOT / "assets" / "gadget_patterns.jsonl")
    assert len(patterns) == 114
    assert any(_regexes(p["pattern"]) for p in patterns)  # the regex checks ran on some


def test_patterns_with_a_byte_order_mark_are_accepted(tmp_path):
    texts = write_lines(tmp_path / "texts.txt", TEXTS)
    patterns = write_patterns(tmp_path / "patterns.jsonl", PATTERNS)
    patterns.write_bytes(b"\xef\xbb\xbf" + patterns.read_bytes())
    code, output, written = run_bootstrap(tmp_path, texts, patterns)
    assert code == 0, output
    assert written == ["annotations.json", "heldout.jsonl", "rehearsal.jsonl"]


def test_blank_lines_shift_neither_error_lines_nor_pattern_ids(tmp_path):
    patterns = write_patterns(tmp_path / "patterns.jsonl", ["", PATTERNS[0], "  ", PATTERNS[1]])
    assert [p["id"] for p in load_patterns(patterns)] == ["line 2", "line 4"]
    write_patterns(patterns, ["", PATTERNS[0], "", {"label": "", "pattern": "x"}])
    with pytest.raises(InputError, match="patterns.jsonl: line 4: empty or malformed label"):
        load_patterns(patterns)


def test_invalid_json_in_patterns_gives_line_and_column_not_the_line(tmp_path):
    texts = write_lines(tmp_path / "texts.txt", TEXTS)
    broken = '{"label": "GADGET", "pattern": "secret customer name"'
    patterns = write_patterns(tmp_path / "patterns.jsonl", [PATTERNS[0], "", broken])
    code, output, written = run_bootstrap(tmp_path, texts, patterns)
    assert code == 1 and written == []
    assert "patterns.jsonl: line 3: invalid JSON at column 54" in output
    assert "secret customer name" not in output


def test_unknown_language_fails_with_a_message(tmp_path):
    texts = write_lines(tmp_path / "texts.txt", TEXTS)
    patterns = write_patterns(tmp_path / "patterns.jsonl", PATTERNS)
    code, output, written = run_bootstrap(tmp_path, texts, patterns, "--lang", "zz")
    assert code == 1 and written == []
    assert "unknown language 'zz'" in output


# --- 2 and 9. clean keeps edited files and follows no link --------------------------


def project_copy(tmp_path: Path) -> Path:
    """The project's definition and scripts, with empty generated folders."""
    project = tmp_path / "project"
    shutil.copytree(
        ROOT, project, symlinks=True, ignore=shutil.ignore_patterns(".git", "corpus", "training", "packages", "assets")
    )
    for folder in ("corpus", "training", "packages"):
        (project / folder).mkdir()
        (project / folder / ".gitkeep").write_text("", encoding="utf8")
    return project


def test_clean_keeps_a_corrected_review_file_and_removes_the_rest(tmp_path, model):
    project = project_copy(tmp_path)
    texts = write_lines(tmp_path / "texts.txt", TEXTS)
    patterns = write_patterns(tmp_path / "patterns.jsonl", PATTERNS)
    assert run_annotate(model, texts, patterns, project / "corpus")[0] == 0
    review = project / "corpus" / "review.jsonl"
    review.write_text(
        review.read_text(encoding="utf8").replace('"spans":[]', '"spans":[{"start":0,"end":2,"label":"X"}]')
    )
    (project / "corpus" / "train.spacy").write_bytes(b"x")
    (project / "training" / "pipeline" / "ner").mkdir(parents=True)
    (project / "training" / "pipeline" / "ner" / "model").write_bytes(b"x")

    project_run(project, "clean", capture=True)
    assert sorted(p.name for p in (project / "corpus").iterdir()) == [
        ".gitkeep",
        ".review.jsonl.sha256",
        "review.jsonl",
    ]
    assert sorted(p.name for p in (project / "training").iterdir()) == [".gitkeep"]
    assert "X" in review.read_text(encoding="utf8")


def test_clean_refuses_a_symlinked_folder_and_removes_nothing(tmp_path, monkeypatch):
    project = project_copy(tmp_path)
    outside = tmp_path / "elsewhere"
    write_lines(outside / "model.bin", ["x"])
    shutil.rmtree(project / "training")
    (project / "training").symlink_to(outside, target_is_directory=True)
    write_lines(project / "corpus" / "train.spacy", ["x"])
    monkeypatch.chdir(project)
    code, output = run_cli(clean.main, ["corpus", "training", "packages"])
    assert code == 1
    assert "training is a symbolic link" in output and "remove the link" in output
    assert (outside / "model.bin").exists() and (project / "corpus" / "train.spacy").exists()


def test_clean_removes_links_inside_the_folders_not_their_targets(tmp_path, monkeypatch):
    project = project_copy(tmp_path)
    outside = tmp_path / "elsewhere"
    write_lines(outside / "keep.txt", ["x"])
    (project / "corpus" / "dir_link").symlink_to(outside, target_is_directory=True)
    (project / "corpus" / "file_link").symlink_to(outside / "keep.txt")
    monkeypatch.chdir(project)
    code, output = run_cli(clean.main, ["corpus", "training", "packages"])
    assert code == 0, output
    assert sorted(p.name for p in (project / "corpus").iterdir()) == [".gitkeep"]
    assert (outside / "keep.txt").read_text(encoding="utf8") == "x\n"


# --- 9. no write through a planted link ---------------------------------------------


def test_copy_shared_assets_refuses_to_write_through_a_link(tmp_path):
    project = project_copy(tmp_path)
    shared = tmp_path / "shared"
    (shared).mkdir()
    asset = next(a for a in load_project_config(project)["assets"] if "url" in a)
    victim = write_lines(tmp_path / "victim.txt", ["precious"])
    content = b"the asset\n"
    (shared / "copy").write_bytes(content)
    (project / asset["dest"]).parent.mkdir(parents=True, exist_ok=True)
    (project / asset["dest"]).symlink_to(victim)
    with pytest.MonkeyPatch.context() as patch:  # the asset's checksum is the one of our file
        patch.setattr(copy_shared_assets, "get_checksum", lambda p: asset["checksum"] if p.name == "copy" else "-")
        code, output = run_cli(copy_shared_assets.main, [shared, "--project", project])
    assert code == 1 and f"{asset['dest']} is a symbolic link" in output
    assert victim.read_text(encoding="utf8") == "precious\n"


def test_base_refuses_to_write_its_logs_through_a_link(tmp_path):
    out = tmp_path / "training" / "base"
    out.mkdir(parents=True)
    victim = write_lines(tmp_path / "victim.txt", ["precious"])
    (out / "syntax.log").symlink_to(victim)
    code, output = run_cli(base.main, [out / "model-best", "--output", out], extra_args=True)
    assert code == 1 and "syntax.log is a symbolic link" in output
    assert victim.read_text(encoding="utf8") == "precious\n"
    assert sorted(p.name for p in out.iterdir()) == ["syntax.log"]


# --- 8. vars checked before long work -----------------------------------------------


def project_vars(**changes) -> list:
    """Every var of project.yml as NAME=VALUE, with some changed."""
    values = {**load_project_config(ROOT)["vars"], **changes}
    return [f"{name}={value}" for name, value in values.items()]


def test_check_vars_runs_first_with_every_var_and_before_package():
    config = load_project_config(ROOT, overrides={"vars.old_label_map": "O'X:ORG"})
    assert config["workflows"]["all"][0] == "check-vars"
    commands = {command["name"]: command for command in config["commands"]}
    args = split_command(commands["check-vars"]["script"][0])
    assert args[:2] == ["python", "scripts/check_vars.py"]
    assert {arg.partition("=")[0] for arg in args[2:] if "=" in arg} == set(config["vars"])
    assert "old_label_map=O'X:ORG" in args
    first = split_command(commands["package"]["script"][0])
    assert (
        first[1] == "scripts/check_vars.py" and "package_version=0.1.0" in first and "package_name=ner_updated" in first
    )


def test_a_quote_in_the_label_map_reaches_every_script_as_one_argument():
    config = load_project_config(ROOT, overrides={"vars.old_label_map": "O'X:ORG,PERSON:PER"})
    lines = [line for command in config["commands"] for line in command["script"] if "O'X" in line]
    assert len(lines) >= 3  # check-vars, evaluate, benchmark
    for line in lines:
        args = split_command(line)  # weasel's shlex split: a ' inside '...' used to end the quote
        assert any(arg.endswith("O'X:ORG,PERSON:PER") for arg in args), line


def test_check_vars_accepts_the_project_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # paths in vars are relative to the project
    output = tmp_path / "vars.json"
    code, out = run_cli(check_vars.main, [*project_vars(), "--output", output])
    assert code == 0, out
    assert srsly.read_json(output)["recipe"] == "new_label_tagger"


@pytest.mark.parametrize(
    "name,value,expected",
    [
        ("recipe", "rules_win", "not a recipe in configs/recipes; choose one of"),
        ("package_version", "../../x", "not a version such as 0.1.0"),
        ("package_version", "0.1.0/../../x", "not a version such as 0.1.0"),
        ("package_name", "../evil", "use only lowercase letters, digits and _"),
        ("package_name", "My Pipeline", "use only lowercase letters, digits and _"),
        ("old_label_map", "O'X", 'label map item "O\'X" is not LABEL:GOLD_LABEL'),
        ("lang", "zz", "spaCy has no language with this code"),
        ("base_model", "en_core_web_nope", "neither an installed pipeline package nor a pipeline folder"),
        ("patterns", "assets/no_such_patterns.jsonl", "no such file or folder"),
        ("split", "by_name", "Input should be 'entity' or 'random'"),
        ("failed_learning", "warn", "Input should be 'stop' or 'ship'"),
        ("dev_ratio", "1.5", "less than 1"),
        ("train_overrides", "training.max_steps 100", "'training.max_steps' is not a config override"),
        ("base_overrides", "--training.max_steps", "--training.max_steps has no value"),
        ("labels", "album,musical artist", "comma-separated labels (a label is"),
        ("labels", 'album,"x', "comma-separated labels (a label is"),
    ],
)
def test_check_vars_names_each_bad_var_and_writes_nothing(tmp_path, monkeypatch, name, value, expected):
    monkeypatch.chdir(ROOT)
    output = tmp_path / "vars.json"
    code, out = run_cli(check_vars.main, [*project_vars(**{name: value}), "--output", output])
    assert code == 1
    assert f"vars.{name} = {value!r}:" in out and expected in out
    assert "1 bad vars" in out and not output.exists()


def test_check_vars_reads_the_recipes_from_their_config_folder():
    assert vars_checks.check_vars({"recipe": "single_ner"}) == []
    assert (
        "choose one of new_label_only, new_label_tagger, second_ner, second_ner_shared, single_ner"
        in vars_checks.check_vars({"recipe": "ner_only"})[0]
    )


def test_an_absolute_path_to_the_default_base_is_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    default = (tmp_path / "training" / "base" / "model-best").resolve()
    assert vars_checks.check_vars({"base_model": str(default)}) == []
    trained = []
    monkeypatch.setattr(build, "train_in_parallel", lambda jobs, *_, **__: trained.append(jobs) or sys.exit(3))
    configs = ["--config", ROOT / "configs" / "base.cfg", "--ner-config", ROOT / "configs" / "base_ner.cfg"]
    code, out = run_cli(base.main, [default, "--output", "training/base", *configs])
    assert trained and code == 3, out  # it trains the base instead of sending the user to `project run base`


def test_loss_logger_refuses_to_write_through_a_link(tmp_path):
    functions = registered("functions")

    outside = tmp_path / "outside.jsonl"
    outside.write_text("keep\n", encoding="utf8")
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "losses.jsonl").symlink_to(outside)
    setup = functions.loss_logger(
        tmp_path / "training" / "losses.jsonl", wrapped=lambda *a: (lambda info: None, lambda: None)
    )
    with pytest.raises(ValueError, match="is a symbolic link"):
        setup(spacy.blank("en"))
    assert outside.read_text(encoding="utf8") == "keep\n"


def test_the_label_map_is_derived_from_the_base_or_check_vars_says_what_to_set(tmp_path):
    """ "" (the default): none for a base with the gold's labels, the OntoNotes map for OntoNotes labels;
    a base with other labels fails in check-vars, naming vars.old_label_map, before anything trains."""
    assert scoring.label_map_for("", ["LOC", "ORG", "PER"]) == {}
    assert scoring.label_map_for("", ["PERSON", "GPE", "ORG", "DATE", "LOC", "FAC"]) == scoring.ONTONOTES_MAP
    assert scoring.label_map_for("PERSONA:PER", ["PERSONA"]) == {"PERSONA": "PER"}
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    for label in ("DRUG", "PERSONA"):
        ner.add_label(label)
    nlp.initialize()
    nlp.to_disk(tmp_path / "base")
    problems = vars_checks.check_vars({"base_model": str(tmp_path / "base"), "old_label_map": ""})
    assert len(problems) == 1 and problems[0].startswith(
        "vars.old_label_map = '': the base's entity labels (DRUG, PERSONA)"
    )
    assert "set vars.old_label_map" in problems[0]
    assert vars_checks.check_vars({"base_model": str(tmp_path / "base"), "old_label_map": "PERSONA:PER"}) == []


def test_a_misspelt_var_on_the_command_line_stops_check_vars_with_the_nearest_name():
    """Through weasel, as a user types it: weasel adds any --vars.NAME to the vars and passes each step only
    the values its command names, so check-vars reads the names from weasel's command line."""
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "project", "run", "check-vars", ".", "--vars.recipee", "second_ner"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stdout
    assert "--vars.recipee: project.yml has no var 'recipee': did you mean --vars.recipe?" in result.stdout


def test_unknown_var_names_are_named_with_the_nearest_known_one():
    given = vars_checks.weasel_var_overrides(["python", "-m", "spacy", "project", "run", "all", "--vars.sed=1"])
    assert given == ["sed"]
    known = vars_checks.project_var_names()
    assert "recipe" in known and "base_model" in known
    assert vars_checks.unknown_vars(["recipe", "sed", "zzzzqq"], known) == [
        "--vars.sed: project.yml has no var 'sed': did you mean --vars.seed?",
        "--vars.zzzzqq: project.yml has no var 'zzzzqq': see the vars at the top of project.yml",
    ]


def test_a_chained_logger_receives_every_step_beside_the_loss_log(tmp_path):
    """`wrapped` takes any logger: a spacy.ChainLogger.v1 of the console and another (W&B, MLflow, ...),
    resolved from config as a user writes it."""
    from spacy.util import registry

    functions = registered("functions")
    seen = []

    @registry.loggers("test.recording_logger.v1")
    def recording_logger():
        return lambda nlp, stdout, stderr: (seen.append, lambda: seen.append("finished"))

    config = {
        "logger": {
            "@loggers": "ner_update.loss_logger.v1",
            "path": str(tmp_path / "losses.jsonl"),
            "wrapped": {
                "@loggers": "spacy.ChainLogger.v1",
                "logger1": {"@loggers": "spacy.ConsoleLogger.v3", "progress_bar": None},
                "logger2": {"@loggers": "test.recording_logger.v1"},
            },
        }
    }
    assert functions.loss_logger  # registered by loading the training code
    setup = registry.resolve(config)["logger"]
    nlp = spacy.blank("en")
    nlp.add_pipe("ner")
    nlp.initialize()
    log_step, finalize = setup(nlp)
    info = {"epoch": 0, "step": 100, "score": 0.5, "losses": {"ner": 2.0}, "other_scores": {}, "checkpoints": []}
    info.update({"seconds": 3, "words": 1000})
    log_step(info)
    finalize()
    assert seen == [info, "finished"]
    assert srsly.read_jsonl(tmp_path / "losses.jsonl").__next__()["step"] == 100


MODEL_STEPS = {"train": "spacy train", "rehearsal": "rehearsal.py", "evaluate": "evaluate.py"}
MODEL_STEPS.update({"annotate": "annotate.py", "apply": "apply.py", "base": "base.py"})


def test_gpu_id_reaches_every_step_that_runs_a_model():
    config = load_project_config(ROOT, overrides={"vars.gpu_id": 3})
    commands = {command["name"]: command for command in config["commands"]}
    for name, runs in MODEL_STEPS.items():
        line = next(line for line in commands[name]["script"] if runs in line)
        args = split_command(line)
        assert args[args.index("--gpu-id") + 1] == "3", name


@pytest.mark.parametrize("command", ["rehearsal", "evaluate", "annotate", "apply"])
def test_each_model_step_runs_on_the_gpu_it_is_given(command, tmp_path, monkeypatch):
    """--gpu-id reaches spaCy's require_gpu before any model loads (here, where thinc finds no GPU, the
    step stops with what to install); worker processes read the same GPU from the environment."""
    asked = []
    monkeypatch.setattr("thinc.api.require_gpu", lambda gpu_id: asked.append(gpu_id) or True)
    monkeypatch.setenv("NER_UPDATE_GPU_ID", "-1")  # restored (unset) after the test, whatever the step sets
    module = {"rehearsal": rehearsal, "evaluate": evaluate, "annotate": annotate, "apply": apply}[command]
    corpus = tmp_path / "c.spacy"
    DocBin().to_disk(corpus)
    texts = tmp_path / "t.txt"
    texts.write_text("a text\n", encoding="utf8")
    args = {
        "rehearsal": ["nope_model", corpus, corpus, tmp_path / "out", "--texts", texts],
        "evaluate": ["nope_model", tmp_path, ""],
        "annotate": ["nope_model", str(texts), "--output", tmp_path / "review.jsonl"],
        "apply": ["nope_model", texts, "--output", tmp_path / "shards"],
    }[command]
    run_cli(module.main, [*args, "--gpu-id", "2"])
    assert asked and asked[0] == 2, command
    assert os.environ.get("NER_UPDATE_GPU_ID") == "2"


def test_a_gpu_without_a_gpu_library_stops_with_what_to_install(monkeypatch):
    from ner_update.pipelines import use_gpu

    monkeypatch.setenv("NER_UPDATE_GPU_ID", "-1")
    use_gpu(-1)  # the CPU: nothing to do
    from thinc.util import gpu_is_available

    if gpu_is_available():
        pytest.skip("a GPU is usable here")
    with pytest.raises(ValueError, match="no GPU is usable here.*--vars.gpu_id -1"):
        use_gpu(0)
    assert "no GPU is usable here" in vars_checks.check_vars({"gpu_id": "0"})[0]


def test_a_missing_base_is_an_input_error_in_the_library_and_a_message_in_the_command(tmp_path):
    """Library code raises; the commands decide to exit, with the message."""
    from ner_update.registered import load_base

    with pytest.raises(InputError, match="Base pipeline 'no_such_base' not found"):
        load_base("no_such_base")
    corpus = tmp_path / "c.spacy"
    DocBin().to_disk(corpus)
    texts = tmp_path / "t.txt"
    texts.write_text("a text\n", encoding="utf8")
    code, out = run_cli(rehearsal.main, ["no_such_base", corpus, corpus, tmp_path / "out", "--texts", texts])
    assert code == 1 and "Base pipeline 'no_such_base' not found" in out and not (tmp_path / "out").exists()
