"""Assets for the lineage tests: ``doubled`` and ``broken`` read ``numbers``; ``broken`` fails after reading."""

from dagster import asset


@asset
def numbers() -> list[int]:
    return [1, 2, 3]


@asset
def doubled(numbers: list[int]) -> list[int]:
    return [n * 2 for n in numbers]


@asset
def total(numbers: list[int], doubled: list[int]) -> dict[str, int]:
    return {"numbers": sum(numbers), "doubled": sum(doubled)}


@asset
def broken(numbers: list[int]) -> list[int]:
    raise ValueError(f"broken on purpose after reading {len(numbers)} numbers")
