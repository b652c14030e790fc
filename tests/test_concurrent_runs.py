"""One `spacy project run` at a time writes into a project: a second one stops before it writes anything."""

import subprocess
import sys
import time

import pytest
import srsly

from conftest import ROOT
from ner_update import runs

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
        assert srsly.read_json(tmp_path / runs.RUN_FILE)["pid"] == first.pid
        second = weasel_running_check_vars(tmp_path, 0, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = second.communicate(timeout=60)[0]
        assert second.returncode == 1, out
        assert "another run is writing into this project" in out and f"(pid {first.pid})" in out
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
