"""``fsmirror demo``: run a small example pipeline into a local store in the current directory.

It is the README's main job: one command that shows the whole idea (code tree
in, mirrored artifacts with manifests out) with nothing but the local disk.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path
from types import ModuleType

from ..errors import FormatError
from ..mirror import FSMirror

__all__ = ["run_demo", "DEMO_DIR"]

DEMO_DIR = "fsmirror-demo"
ADDRESSES = (
    "project/etl/lift_data.py::extract",
    "project/etl/lift_data.py::summarize",
    "project/etl/lift_data.py::train",
)

_CONFIG = """\
# Written by `fsmirror demo`. Artifacts of the code under project/ go to store/.
storage:
  provider: local
  tenant: {store}  # relative paths are taken from the working directory
mirrors:
  project:
    root: project
    output_name: out
    output_format: parquet
"""


def _load_pipeline(path: Path) -> ModuleType:
    """Import the copied pipeline from its file, so its code address is the file under project/."""
    spec = importlib.util.spec_from_file_location("fsmirror_demo_lift_data", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_demo(directory: str | os.PathLike[str] = ".") -> tuple[FSMirror, list[str]]:
    """Write the example pipeline's artifacts; returns the mirror and the URIs written."""
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as e:
        raise FormatError(
            f"fsmirror demo writes a DataFrame as parquet: pip install 'fsmirror[pandas]' ({e})"
        ) from e
    root = Path(directory).resolve() / DEMO_DIR
    code = root / "project" / "etl" / "lift_data.py"
    code.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).with_name("lift_data.py"), code)
    config = root / "config.yml"
    config.write_text(_CONFIG.format(store=json.dumps(str(root / "store"))))
    fm = FSMirror(config=str(config), mirror="project")
    pipeline = _load_pipeline(code)
    uris: list[str] = []
    # One lineage scope per step (docs/openlineage.md): what a step reads is recorded in what it
    # writes, and with OpenLineage enabled each step is a run with those inputs and outputs.
    with fm.run(key=f"demo:{fm.run_id}:extract", job=ADDRESSES[0]):
        uris.append(fm.write(pipeline.extract, pipeline.extract()))
    for step, address, fmt in (
        (pipeline.summarize, ADDRESSES[1], None),
        (pipeline.train, ADDRESSES[2], "pkl"),
    ):
        with fm.run(key=f"demo:{fm.run_id}:{step.__name__}", job=address):
            rides = fm.read(pipeline.extract)
            uris.append(fm.write(step, step(rides), format=fmt))
    return fm, uris
