"""The project definition: assets match their checksums, commands are documented."""
from weasel.util import get_checksum, load_project_config

from conftest import ROOT


def test_shipped_assets_match_their_checksums():
    config = load_project_config(ROOT)
    shipped = [a for a in config["assets"] if "url" not in a]
    assert shipped
    for asset in shipped:
        assert get_checksum(ROOT / asset["dest"]) == asset["checksum"], f"update the checksum of {asset['dest']} in project.yml"


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
            scripts = [d for d in command["deps"] if d.startswith("scripts/") or d.startswith("configs/")]
            assert scripts, f"{command['name']} must depend on its own script/config"
