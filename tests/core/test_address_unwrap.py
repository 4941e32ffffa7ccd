"""A decorated function resolves to the code it wraps, not to the decorator's module."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from fsmirror.paths.address import address_of


def _decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return wrapper


def lift_data() -> int:
    return 1


def test_wraps_wrapper_resolves_to_the_wrapped_function() -> None:
    wrapped = _decorate(_decorate(lift_data))
    assert wrapped.__code__.co_name == "wrapper"
    assert address_of(wrapped) == address_of(lift_data)
    assert address_of(wrapped).qualname == "lift_data"
    assert address_of(wrapped).file_parts[-1] == "test_address_unwrap.py"
