"""Rewrite scripts/deps/: each step's links to the code it runs, from project.yml and the import graph.

Run it after adding an import, a module or a command (tests/test_project.py says when):
    python .ci/link_step_code.py
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from ner_update.step_deps import code_link_problems, write_code_links  # noqa: E402

if __name__ == "__main__":
    before = code_link_problems(ROOT)
    write_code_links(ROOT)
    print("\n".join(before) if before else "scripts/deps/ already agreed with the import graph")
    sys.exit(1 if code_link_problems(ROOT) else 0)
