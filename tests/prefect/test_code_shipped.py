"""Flow code that reaches the process running it by unusual roads still lands at its mirrored path.

- A deployment pulled into a worker's temporary directory (``flow.from_source``, the
  process worker's ``/tmp/tmp...prefect``): the key and the manifest hold the address
  under the mirror's root, never the temporary directory.
- A task shipped by value (Dask workers get tasks of ``__main__``, or of a flow file
  loaded by path, as cloudpickle by-value payloads whose code file is
  ``<dynamic-code>``): it writes at the address its key names.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudpickle
from prefect_support import block_slug

from fsmirror import FSMirror
from fsmirror_prefect import FSMirrorStorage

FLOW = '''
from fsmirror_prefect import mirrored_flow, mirrored_task

STORAGE = {slug!r}


@mirrored_task(storage=STORAGE)
def lift_data(n: int) -> list[int]:
    return list(range(n))


@mirrored_flow(storage=STORAGE)
def pipeline(n: int):
    return lift_data(n, return_state=True)
'''


JSON_MIRROR = {"project": {"root": "project", "prefix": "MIRROR", "output_name": "out", "output_format": "json"}}


def _pulled(tmp_path: Path, slug: str) -> Path:
    """The flow file where a process worker's pull step puts it: <tmp>prefect/<bucket>/<folder>/..."""
    work = Path(tempfile.mkdtemp(suffix="prefect", dir=tmp_path))
    src = work / "code-bucket" / "flows" / "project" / "etl" / "pipeline.py"
    src.parent.mkdir(parents=True)
    src.write_text(FLOW.format(slug=slug))
    return src


def test_flow_pulled_into_a_temp_dir_keys_on_the_address(
    tmp_path: Path, local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]
) -> None:
    from prefect.flows import load_flow_from_entrypoint

    config = local_config(mirrors=JSON_MIRROR)
    block = save_block(config, mirror=None)
    src = _pulled(tmp_path, block_slug(block))
    flow = load_flow_from_entrypoint(f"{src}:pipeline")  # what the worker's flow-run process does
    state = flow(3, return_state=True)
    task_state = state.result()
    key = task_state.data.metadata.storage_key  # the ResultRecord in this process
    assert key.startswith("fsmirror:") and key.endswith(":project/etl/pipeline.py::lift_data"), key
    assert str(src.parents[3]) not in key and "prefect/" not in key
    fm = FSMirror(str(config))
    run_id = str(state.state_details.flow_run_id)
    uri = fm.mirror_full_output("project/etl/pipeline.py::lift_data", run_id=run_id, output_format="json")
    man = fm.manifest("project/etl/pipeline.py::lift_data", run_id=run_id)
    assert man["uri"] == uri and man["code"]["address"] == "project/etl/pipeline.py::lift_data"
    assert json.loads(Path(uri).read_text()) == [0, 1, 2]


def test_task_shipped_by_value_writes_at_its_keys_address(
    tmp_path: Path, local_config: Callable[..., Path], save_block: Callable[..., FSMirrorStorage]
) -> None:
    from prefect.utilities.importtools import load_script_as_module

    from prefect import flow

    config = local_config(mirrors=JSON_MIRROR)
    block = save_block(config, mirror=None)
    src = _pulled(tmp_path, block_slug(block))
    module = load_script_as_module(str(src))  # as Prefect loads a flow file by path
    cloudpickle.register_pickle_by_value(module)  # as for a module the receiving process cannot import
    try:
        shipped: Any = cloudpickle.loads(cloudpickle.dumps(module.lift_data))
    finally:
        cloudpickle.unregister_pickle_by_value(module)
    assert shipped.fn.__code__.co_filename == "<dynamic-code>"  # what a Dask worker unpickles
    shutil.rmtree(src.parents[3])  # and the file is not there either

    @flow
    def on_a_worker() -> Any:
        return shipped(4, return_state=True)

    state = on_a_worker(return_state=True)
    task_state = state.result()
    assert task_state.is_completed(), task_state
    run_id = str(state.state_details.flow_run_id)
    fm = FSMirror(str(config))
    uri = fm.mirror_full_output("project/etl/pipeline.py::lift_data", run_id=run_id, output_format="json")
    assert json.loads(Path(uri).read_text()) == [0, 1, 2, 3]
    assert task_state.result() == [0, 1, 2, 3]
