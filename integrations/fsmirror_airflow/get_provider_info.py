"""fsmirror as an Airflow provider: ``airflow providers list`` names it, and its ``[fsmirror]`` options
are in Airflow's config reference (``airflow config list --defaults``, ``airflow config get-value``).

Airflow finds providers through the ``apache_airflow_provider`` entry point (pyproject.toml), calls
:func:`get_provider_info` and validates the dict against its ``provider_info.schema.json``: the same
shape as the ``get_provider_info.py`` each ``apache-airflow-providers-*`` package ships. The plugin
(``airflow.plugins`` entry point: macros, listener) is separate and stays: a provider cannot add macros.

The options are the ones the adapter reads with ``fsmirror_airflow`` ``setting()``. Their defaults are
what an unset option means, so registering them changes no behaviour: ``config_path`` and ``mirror``
default to empty, which the adapter reads as unset (then ``$FSMIRROR_CONFIG_PATH`` / ``$FSMIRROR_MIRROR``
apply); ``xcom_threshold`` defaults to empty too, since a ``0`` default would hide
``$FSMIRROR_XCOM_THRESHOLD`` (Airflow hands a registered default to ``conf.get`` before any fallback),
and empty means 0: every value is stored by fsmirror.
"""

from __future__ import annotations

from typing import Any

from fsmirror import __version__

__all__ = ["get_provider_info"]


def get_provider_info() -> dict[str, Any]:
    """The provider description Airflow's ProvidersManager reads (its runtime schema)."""
    return {
        "package-name": "fsmirror",
        "name": "fsmirror",
        "description": "Artifact paths that mirror the code that made them: the ``fsmirror`` plugin "
        "(path macro, task listener) and an XCom backend (FSMirrorXComBackend).\n",
        "versions": [__version__],
        "config": {
            "fsmirror": {
                "description": "fsmirror's plugin and XCom backend (docs/airflow.md, 'Set up').\n",
                "options": {
                    "config_path": {
                        "description": "The fsmirror config file (YAML) the macro and the XCom backend "
                        "load. Empty: $FSMIRROR_CONFIG_PATH.\n",
                        "version_added": "2.0.0",
                        "type": "string",
                        "example": "/opt/airflow/fsmirror.yml",
                        "default": "",
                    },
                    "mirror": {
                        "description": "Which mirror of the config file; may be left empty when the "
                        "file has one. Empty: $FSMIRROR_MIRROR.\n",
                        "version_added": "2.0.0",
                        "type": "string",
                        "example": "aipipeline",
                        "default": "",
                    },
                    "xcom_threshold": {
                        "description": "Bytes: an XCom value whose JSON form is smaller than this stays "
                        "inline in the metadata database. Empty: $FSMIRROR_XCOM_THRESHOLD, else 0 "
                        "(every value is stored by fsmirror).\n",
                        "version_added": "2.0.0",
                        "type": "integer",
                        "example": "1024",
                        "default": "",
                    },
                },
            }
        },
    }
