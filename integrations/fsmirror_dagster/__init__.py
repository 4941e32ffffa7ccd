"""fsmirror for Dagster: ``FSMirrorIOManager`` keeps every run's outputs at mirrored, run-scoped paths.

>>> from fsmirror_dagster import FSMirrorIOManager  # doctest: +SKIP
>>> Definitions(assets=[...], resources={"io_manager": FSMirrorIOManager(mirror="aipipeline")})  # doctest: +SKIP
"""

from .code_version import code_version, with_code_versions
from .io_manager import (
    ADDRESS_METADATA_KEY,
    DAGSTER_URI_METADATA_KEY,
    OUTPUT_NAME_METADATA_KEY,
    PATH_METADATA_KEY,
    URI_METADATA_KEY,
    FSMirrorIOManager,
    content_data_version,
)

__all__ = ["FSMirrorIOManager", "URI_METADATA_KEY", "ADDRESS_METADATA_KEY", "OUTPUT_NAME_METADATA_KEY"]
__all__ += ["PATH_METADATA_KEY", "DAGSTER_URI_METADATA_KEY", "content_data_version"]
__all__ += ["code_version", "with_code_versions"]
