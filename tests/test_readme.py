"""The README's and the docs' commands run as written.

Every command of the README, docs/*.md and CONTRIBUTING.md (bash code blocks, and inline `python ...`, `pip ...`,
`prodigy ...` spans) is taken apart and either run as written in a temporary copy of
the project (the ones that take seconds), run with `--dry` (workflows and project
commands: weasel prints what would run), or checked (installs, downloads, the test
suite, other tools): the project commands, workflows, vars, scripts, options, recipes
and files it names must exist. A command no rule covers fails the test, so a new one
gets a rule. Nothing is written into the project's own folders.
"""

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import srsly
from weasel.util import load_project_config

from conftest import ROOT

README = ROOT / "README.md"
PAGES = [README, ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
CONFIG = load_project_config(ROOT)
COMMANDS = {command["name"]: command for command in CONFIG["commands"]}
SOURCE = re.compile(r"^(scripts|configs|tests|\.ci)/[\w./-]+$")  # files a README may cite that must exist
GENERATED = re.compile(r"^(corpus|training|packages)/")


def readme_commands(text: str) -> list[str]:
    """Commands in bash blocks (one a line) and inline code, split at &&, in order, without repeats."""
    found = []
    for lang, body in re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S):
        if lang in ("bash", "sh", "shell", "console"):
            found += [line.strip() for line in body.splitlines() if line.strip() and not line.startswith("#")]
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    found += [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]
    commands = [part.strip() for command in found for part in command.split(" && ")]
    return list(dict.fromkeys(c for c in commands if re.match(r"(python3? |pip |prodigy )", c)))


def run(argv: list[str], project: Path) -> str:
    argv = [sys.executable if argv[0] in ("python", "python3") else argv[0], *argv[1:]]
    result = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, (
        f"{shlex.join(argv)} failed in a copy of the project:\n{result.stdout}{result.stderr}"
    )
    return result.stdout + result.stderr


def options(argv: list[str]) -> list[str]:
    return [arg.split("=")[0] for arg in argv if arg.startswith("--")]


def generated_paths() -> list[str]:
    """Every output of a project command, with the default vars."""
    paths = []
    for command in COMMANDS.values():
        paths += command.get("outputs", []) + command.get("outputs_no_cache", [])
    return paths


def check_paths(argv: list[str]) -> None:
    """Source files named must exist; files under corpus/ training/ packages/ must be written by a command."""
    for arg in argv:
        if SOURCE.match(arg):
            assert (ROOT / arg).exists(), f"{arg} does not exist"
        elif GENERATED.match(arg):
            assert any(arg == p or arg.startswith(p.rstrip("/") + "/") for p in generated_paths()), (
                f"no project command writes {arg}"
            )


def check_project_run(argv: list[str], project: Path) -> str:
    """`python -m spacy project run NAME [DIR] [--vars.X V]`: NAME and the vars exist; a dry run prints the steps."""
    name = argv[5]
    assert name in COMMANDS or name in CONFIG["workflows"], f"no project command or workflow {name!r}"
    for option in options(argv):
        assert option.startswith("--vars."), f"{option}: only --vars.NAME overrides are expected"
        assert option.removeprefix("--vars.") in CONFIG["vars"], f"{option}: no such var in project.yml"
    out = run([*argv, "--dry"], project)
    steps = CONFIG["workflows"].get(name, [name])
    assert all(f" {step} " in out for step in steps), out  # weasel's "==== step ====" banners
    return "dry run"


def check_script(argv: list[str], project: Path) -> str:
    """`python scripts/X.py ...`: its --help lists every option used; recipes named exist; short ones run."""
    script = argv[1]
    assert (ROOT / script).is_file(), f"{script} does not exist"
    if argv[2:] == ["--help"] or script == ".ci/copy_shared_assets.py":
        run(argv, project)
        return "ran"
    help_text = run([argv[0], script, "--help"], project)
    for option in options(argv):
        assert re.search(rf"{re.escape(option)}(?![\w-])", help_text), f"{script} has no option {option}"
    for flag, value in zip(argv, argv[1:]):
        if flag == "--recipes":
            for recipe in value.split(","):
                assert (ROOT / "configs" / "recipes" / f"{recipe}.cfg").exists(), f"no recipe {recipe}"
    return "checked"


def check_python_code(argv: list[str], project: Path) -> str:
    """`python -c CODE`: run in the copy, on a made-up review file; loading the package checks its name."""
    code = argv[2]
    loaded = re.findall(r"spacy\.load\('([^']+)'\)", code)
    if loaded:
        vars_ = CONFIG["vars"]
        assert loaded == [f"{vars_['lang']}_{vars_['package_name']}"], f"the package is not named {loaded}"
        return "checked"
    run(argv, project)
    return "ran"


def check_pip(argv: list[str], project: Path) -> str:
    """Installs are not run: the requirement files exist, a wheel is the one `package` writes."""
    files = [value for flag, value in zip(argv, argv[1:]) if flag in ("-r", "-c")]
    for name in files:
        assert (ROOT / name).is_file(), f"{name} does not exist"
    wheels = [arg for arg in argv if arg.endswith(".whl")]
    for wheel in wheels:
        assert wheel in COMMANDS["package"]["outputs_no_cache"], f"{wheel} is not what `package` writes"
    assert files or wheels, f"nothing checked in {shlex.join(argv)}"
    return "checked"


def check(command: str, project: Path) -> str:
    """Run or check one README command; what was done."""
    argv = shlex.split(command.split(" > ")[0], comments=True)  # a redirect's target is the user's file; # comments
    check_paths(argv)
    python = argv[0] in ("python", "python3")
    if python and argv[1:4] == ["-m", "spacy", "project"]:
        if argv[4:5] == ["run"]:
            return check_project_run(argv, project)
        if argv[4:5] == ["document"]:
            run(argv, project)
            assert (project / "README.md").read_text(encoding="utf8") == README.read_text(encoding="utf8"), (
                "the README's command tables are not what `project document` writes: run it"
            )
            return "ran"
        run([*argv[:5], "--help"], project)  # e.g. `project assets`: needs the network
        return "checked"
    if python and argv[1:3] == ["-m", "spacy"]:  # spaCy's own commands: they exist, and their --code file
        depth = 5 if argv[3] in ("benchmark", "debug") else 4
        run([*argv[:depth], "--help"], project)
        code = [value for flag, value in zip(argv, argv[1:]) if flag == "--code"]
        assert all((ROOT / path).is_file() for path in code), f"no such --code file in {command!r}"
        return "checked"
    if python and argv[1:3] == ["-m", "pip"] or argv[0] == "pip":
        return check_pip(argv, project)
    if python and argv[1:3] == ["-m", "pytest"]:
        assert (ROOT / argv[3]).is_dir()
        return "checked"
    if python and argv[1] == "-c":
        return check_python_code(argv, project)
    if python and argv[1].endswith(".py"):
        return check_script(argv, project)
    if python and argv[1] == "-m" and len(argv) == 3:  # a module named in passing, e.g. `python -m venv`
        assert importlib.util.find_spec(argv[2]), f"no module {argv[2]}"
        return "checked"
    if argv[0] == "prodigy":  # another tool: only the files it reads (above)
        return "checked"
    raise AssertionError(f"no rule for the README command {command!r}: add one to tests/test_readme.py")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project without its generated folders and large assets, and the file
    `annotate` writes (which a README command converts)."""
    copy = tmp_path_factory.mktemp("readme") / "project"
    ignored = (".git", "__pycache__", ".pytest_cache", "corpus", "training", "packages", "project.lock")
    shutil.copytree(
        ROOT, copy, symlinks=True, ignore=shutil.ignore_patterns(*ignored, "en_ewt-ud-*", "btc-*", "wnut17-*")
    )
    for name in ("corpus", "training", "packages"):
        (copy / name).mkdir()
    review = [{"text": "My iPhone X broke.", "spans": [{"start": 3, "end": 11, "label": "GADGET"}], "meta": {}}]
    srsly.write_jsonl(copy / "corpus" / "review.jsonl", review)
    return copy


def test_the_readme_has_commands():
    commands = readme_commands(README.read_text(encoding="utf8"))
    assert "python -m spacy project run all" in commands and len(commands) >= 10
    assert readme_commands("`python a.py` and\n```bash\npip install x && python -m spacy project run y\n```") == [
        "pip install x",
        "python -m spacy project run y",
        "python a.py",
    ]


def page_commands() -> list[str]:
    """Every page's commands, without repeats."""
    commands = [c for page in PAGES for c in readme_commands(page.read_text(encoding="utf8"))]
    return list(dict.fromkeys(commands))


@pytest.mark.parametrize("command", page_commands())
def test_readme_command_runs_or_names_what_exists(command, project):
    assert check(command, project) in ("ran", "dry run", "checked")


def anchors(page: Path) -> set:
    """The anchors GitHub gives a page's headings (lower case, punctuation dropped, spaces to hyphens)."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf8"), flags=re.S)
    headings = re.findall(r"^#+ (.+)$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_the_readme_is_a_guide_and_its_links_resolve():
    """README.md stays short; every relative link of every page points at a file and heading that exist."""
    assert len(README.read_text(encoding="utf8").splitlines()) <= 300
    broken = []
    for page in PAGES:
        for target, anchor in re.findall(r"\]\(([^)\s#]*)(?:#([^)\s]*))?\)", page.read_text(encoding="utf8")):
            if re.match(r"\w+://", target):
                continue
            linked = (page.parent / target).resolve() if target else page
            if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
                broken.append(f"{page.relative_to(ROOT)}: {target}#{anchor}")
    assert not broken, f"links to files or headings that do not exist: {broken}"
    assert "060--the-bases-speed-a-small-tagger-for-the-new-labels" in anchors(ROOT / "CHANGELOG.md")


def test_export_writes_label_studio_and_prodigy_tasks(project):
    """`spacy project run export`, as docs/data-formats.md says, turns annotate's review file into both tools' tasks."""
    run(["python", "-m", "spacy", "project", "run", "export"], project)
    tasks = srsly.read_json(project / "corpus" / "review_label_studio.json")
    value = tasks[0]["predictions"][0]["result"][0]["value"]
    assert tasks[0]["data"]["text"] == "My iPhone X broke." and value["text"] == "iPhone X"
    prodigy = list(srsly.read_jsonl(project / "corpus" / "review_prodigy.jsonl"))
    assert prodigy == [
        {"text": "My iPhone X broke.", "spans": [{"start": 3, "end": 11, "label": "GADGET"}], "meta": {}}
    ]


def test_a_command_that_no_longer_exists_fails(project):
    for command, problem in (
        ("python -m spacy project run trian", "no project command or workflow 'trian'"),
        ("python -m spacy project run all --vars.recipes x", "--vars.recipes: no such var"),
        ("python scripts/benchmark.py base corpus --recipe x", "has no option --recipe"),
        ("python scripts/benchmark.py base corpus --recipes rules_win_second_ner", "no recipe rules_win_second_ner"),
        ("python scripts/old.py --help", "scripts/old.py does not exist"),
        ("python -c \"import spacy; spacy.load('en_gadget_ner')\"", "the package is not named"),
        ("pip install packages/x.whl", "no project command writes packages/x.whl"),
        ("weasel run all", "no rule for the README command"),
        ("python -m vnev", "no module vnev"),
    ):
        with pytest.raises(AssertionError, match=re.escape(problem)):
            check(command, project)


def test_source_files_the_readme_names_exist():
    text = "\n".join(page.read_text(encoding="utf8") for page in PAGES)
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    named = {" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)}
    missing = sorted(path for path in named if SOURCE.match(path) and not (ROOT / path).exists())
    assert not missing, f"the README names files that do not exist: {missing}"
    assert {"scripts/registered/functions.py", "configs/base.cfg"} <= named


def test_vars_the_readme_sets_exist():
    text = "\n".join(page.read_text(encoding="utf8") for page in PAGES)
    named = set(re.findall(r"--vars\.(\w+)", text)) | set(re.findall(r"`vars\.(\w+)`", text))
    named -= {"NAME"}  # the placeholder in "--vars.NAME"
    assert named and not named - set(CONFIG["vars"]), f"no such vars in project.yml: {named - set(CONFIG['vars'])}"
