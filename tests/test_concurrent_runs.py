"""One `spacy project run` at a time writes into a project: a second one stops before it writes anything."""

import dataclasses
import os
import shutil
import subprocess
import sys
import time

import pytest
import srsly

from conftest import ROOT
from ner_update import runs
from ner_update.common import InputError

# a stand-in for weasel: its command line says `project run`, it runs one step's command, then stays alive
FAKE_WEASEL = "import subprocess, sys, time; code = subprocess.run(sys.argv[1:4]).returncode; "
FAKE_WEASEL += "time.sleep(float(sys.argv[4])); sys.exit(code)"


def weasel_running_check_vars(project, seconds: float, **kwargs):
    command = [sys.executable, "-c", FAKE_WEASEL, sys.executable, str(ROOT / "scripts" / "check_vars.py"), "lang=en"]
    return subprocess.Popen([*command, str(seconds), "project", "run", "all"], cwd=project, text=True, **kwargs)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the processes in /proc")
def test_a_second_run_stops_while_the_first_is_alive_and_goes_once_it_ended(tmp_path):
    first = weasel_running_check_vars(tmp_path, 120, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / runs.RUN_FILE).is_file() or not (tmp_path / runs.RUN_FILE).read_text():
            assert time.monotonic() < deadline and first.poll() is None, "the first run never claimed the project"
            time.sleep(0.2)
        assert srsly.read_json(tmp_path / runs.RUN_FILE)["run"]["pid"] == first.pid
        second = weasel_running_check_vars(tmp_path, 0, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = second.communicate(timeout=60)[0]
        assert second.returncode == 1, out
        assert "another run is writing into this project" in out and f"(pid {first.pid})" in out
        # a copy of the project, claim and all, is not held by the original's run
        copy = tmp_path.parent / f"{tmp_path.name}-copy"
        shutil.copytree(tmp_path, copy)
        in_copy = weasel_running_check_vars(copy, 0, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert in_copy.wait(timeout=60) == 0, in_copy.communicate()[0]
        # a command run by hand (not by weasel) is not held
        by_hand = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "check_vars.py"), "lang=en"], cwd=tmp_path, capture_output=True
        )
        assert by_hand.returncode == 0
    finally:
        first.kill()
        first.wait()
    third = weasel_running_check_vars(tmp_path, 0, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = third.communicate(timeout=60)[0]
    assert third.returncode == 0, out  # the first run ended (killed): it holds nothing


def test_weasel_runs_are_told_from_other_parents():
    assert runs.is_weasel_run(["/usr/bin/python3", "-m", "spacy", "project", "run", "all", "--vars.seed", "1"])
    assert runs.is_weasel_run(["/venv/bin/weasel", "run", "convert"])
    assert runs.is_weasel_run(["python", "-m", "weasel", "run", "convert"])
    assert not runs.is_weasel_run(["bash"])
    assert not runs.is_weasel_run(["python", "-m", "pytest", "tests", "-k", "project run"])


def test_a_claim_names_the_project_and_the_last_command_of_its_run(tmp_path):
    run = runs.Run(os.getppid(), runs.start_time(os.getppid()), "spacy project run all")
    runs.claim_project(tmp_path, run)
    claim = srsly.read_json(tmp_path / runs.RUN_FILE)
    assert claim["project"] == os.path.realpath(tmp_path) and claim["step"]["pid"] == os.getpid()
    # the weasel process is gone (a pid no process has) but its command still writes: still held
    ended = runs.Run(2**22 + 1, "0", "spacy project run all")
    srsly.write_json(tmp_path / runs.RUN_FILE, {**claim, "run": dataclasses.asdict(ended)})
    with pytest.raises(InputError, match="another run is writing into this project"):
        runs.claim_project(tmp_path, run)


def test_every_step_that_writes_starts_with_a_project_command_which_claims_the_project():
    """A step that runs spaCy's own commands (`spacy train`, `spacy package`) claims through a project command first."""
    for command in srsly.read_yaml(ROOT / "project.yml")["commands"]:
        if command.get("outputs") or command.get("outputs_no_cache"):
            first = command["script"][0]
            assert first.startswith("python scripts/"), f"{command['name']} starts with {first[:60]!r}"
