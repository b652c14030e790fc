"""Guards of a step's outputs against its own inputs."""

from pathlib import Path
from typing import Iterable, Optional, Union

from ner_update.common import InputError


def refuse_overwriting_inputs(outputs: Iterable[Optional[Path]], inputs: Iterable[Union[str, Path, None]]) -> None:
    """InputError if an output is an input file, lies in an input folder, or is another output too
    (None and '' are no path)."""
    given = [Path(p).resolve() for p in inputs if p is not None and str(p).strip()]
    seen: set = set()
    for output in (Path(p) for p in outputs if p is not None and str(p).strip()):
        target = output.resolve()
        clash = next((p for p in given if target == p or (p.is_dir() and p in target.parents)), None)
        if clash is not None:
            raise InputError(f"{output}: the output would overwrite an input ({clash}); write it elsewhere")
        if target in seen:
            raise InputError(f"{output}: two outputs are the same file")
        seen.add(target)
