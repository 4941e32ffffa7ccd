"""Code fingerprints (fsmirror.fingerprint): formatting never counts, logic always does; project imports count.

Each test writes real module files under a temp project and edits them on disk, as a person does.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from fsmirror.model.fingerprint import (
    code_version,
    definition_fingerprint,
    module_fingerprint,
    project_imports,
    project_root,
    root_directory,
)

BASE = '''\
"""The lift module."""
import json
from math import floor

LIMIT = 5
UNUSED = 1


def _clip(x):
    return min(floor(x), LIMIT)


def lift(rows, factor=2):
    """Lift every row."""
    total = 0
    for r in rows:
        total += _clip(r) * factor
    return total


class Task:
    """A task."""

    def run(self, orders):
        return [o + 1 for o in orders]

    def other(self):
        return 0
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    d = tmp_path / "src" / "project" / "etl"
    d.mkdir(parents=True)
    return d


def _fp(path: Path, qualname: str, text: str) -> str | None:
    path.write_text(text)
    bump(path)
    return definition_fingerprint(path, qualname)


def bump(path: Path) -> None:
    """Move the mtime on, as an editor's save does (the cache is keyed by mtime and size)."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


SAME = {
    "comments": BASE.replace("    total = 0\n", "    total = 0  # start at zero\n    # loop\n"),
    "blank lines and spaces": BASE.replace("\n\n\ndef lift", "\n\n\n\n\ndef lift").replace(
        "total += _clip(r) * factor", "total  +=  _clip( r )*factor"
    ),
    "docstrings": BASE.replace('    """Lift every row."""\n', '    """Lift every row, twice."""\n')
    .replace('"""The lift module."""', '"""Another module docstring."""')
    .replace('    """A task."""\n', ""),
    "line breaks and parentheses": BASE.replace(
        "def lift(rows, factor=2):", "def lift(\n    rows,\n    factor=(2),\n):"
    ),
    "an unrelated module-level name": BASE.replace("UNUSED = 1", "UNUSED = 2"),
    "another method of the class": BASE.replace("return 0", "return 1"),
    "an import it does not use": BASE.replace("import json", "import json\nimport csv"),
}

CHANGED = {
    "a constant": BASE.replace("total = 0", "total = 1"),
    "an operator": BASE.replace("_clip(r) * factor", "_clip(r) + factor"),
    "a renamed variable": BASE.replace("total", "acc"),
    "a default argument": BASE.replace("factor=2", "factor=3"),
    "a decorator": BASE.replace("def lift(", "@staticmethod\ndef lift("),
    "a module-level constant it uses": BASE.replace("LIMIT = 5", "LIMIT = 6"),
    "a helper it calls": BASE.replace("min(floor(x), LIMIT)", "max(floor(x), LIMIT)"),
    "an import it uses (through the helper)": BASE.replace(
        "from math import floor", "from math import ceil as floor"
    ),
}


@pytest.mark.parametrize("edit", sorted(SAME))
def test_formatting_comments_and_docstrings_do_not_count(project: Path, edit: str) -> None:
    f = project / "lift.py"
    before = {q: _fp(f, q, BASE) for q in ("lift", "Task.run", "_clip")}
    after = {q: _fp(f, q, SAME[edit]) for q in before}
    assert None not in before.values()
    assert after == before


@pytest.mark.parametrize("edit", sorted(CHANGED))
def test_logic_edits_change_the_fingerprint(project: Path, edit: str) -> None:
    f = project / "lift.py"
    before = _fp(f, "lift", BASE)
    after = _fp(f, "lift", CHANGED[edit])
    assert before is not None and after is not None and after != before


def test_nested_methods_and_classes_are_found_and_separate(project: Path) -> None:
    f = project / "lift.py"
    run0, other0, task0 = (_fp(f, q, BASE) for q in ("Task.run", "Task.other", "Task"))
    edited = BASE.replace("o + 1", "o + 2")
    run1, other1, task1 = (_fp(f, q, edited) for q in ("Task.run", "Task.other", "Task"))
    assert len({run0, other0, task0}) == 3
    assert run1 != run0 and task1 != task0  # the method, and the class holding it
    assert other1 == other0  # a sibling method is not touched
    assert _fp(f, "Task.missing", BASE) is None
    assert _fp(f, "Nope", BASE) is None


def test_a_parameter_named_like_a_module_function_is_not_that_function(project: Path) -> None:
    # A Dagster asset's parameter names its upstream asset, defined in the same module.
    src = "def orders():\n    return [1]\n\ndef report(orders):\n    return sum(orders)\n"
    f = project / "assets.py"
    before = _fp(f, "report", src)
    assert _fp(f, "report", src.replace("[1]", "[1, 2]")) == before
    glob = "N = 1\n\ndef f():\n    global N\n    N = 2\n    return N\n"
    assert _fp(f, "f", glob) != _fp(f, "f", glob.replace("N = 1", "N = 3"))


def test_a_factory_product_is_fingerprinted_as_its_factory(project: Path) -> None:
    src = "def make(region):\n    def sales():\n        return region\n    return sales\n"
    f = project / "factory.py"
    whole = _fp(f, "make", src)
    assert _fp(f, "make.eu_sales", src) == whole  # named at run time: the factory makes it
    assert _fp(f, "make.sales", src) not in (None, whole)


def _tree(project: Path) -> dict[str, Path]:
    root = project.parent  # .../src/project
    files = {
        "init": root / "__init__.py",
        "etl_init": project / "__init__.py",
        "lift": project / "lift.py",
        "helpers": project / "helpers.py",
        "deep": project / "deep.py",
        "rel": project / "rel.py",
        "outside": root.parent / "outside.py",
    }
    files["init"].write_text("")
    files["etl_init"].write_text("")
    files["helpers"].write_text("from project.etl import deep\n\ndef double(x):\n    return 2 * x\n")
    files["deep"].write_text("K = 1\n")
    files["rel"].write_text("R = 1\n")
    files["outside"].write_text("O = 1\n")
    files["lift"].write_text(
        textwrap.dedent(
            """\
            import json
            import outside
            from .helpers import double
            from . import rel

            def lift(x):
                return double(x) + json.loads("1")
            """
        )
    )
    return files


def test_project_imports_are_resolved_transitively_and_only_inside_the_project(project: Path) -> None:
    files = _tree(project)
    root = project_root(str(files["lift"]), "project/etl/lift")
    assert root == str(project.parent)
    imports = project_imports(files["lift"], root)
    assert sorted(imports) == [
        "project/__init__.py",  # 'from project.etl import deep' in helpers runs both packages' inits
        "project/etl/__init__.py",
        "project/etl/deep.py",  # through helpers
        "project/etl/helpers.py",
        "project/etl/rel.py",
    ]  # json is installed, outside.py is not in the project
    assert imports["project/etl/deep.py"] == module_fingerprint(files["deep"])


def test_an_imported_module_edit_changes_the_combined_fingerprint_only(project: Path) -> None:
    files = _tree(project)
    root = str(project.parent)
    before = code_version(files["lift"], "lift", root)
    files["deep"].write_text("K = 2  # two now\n")
    bump(files["deep"])
    after = code_version(files["lift"], "lift", root)
    assert after.fingerprint_self == before.fingerprint_self
    assert after.fingerprint != before.fingerprint
    assert {m for m in after.imports if after.imports[m] != before.imports[m]} == {"project/etl/deep.py"}
    files["deep"].write_text("K = 2  # a comment only\n")
    bump(files["deep"])
    assert code_version(files["lift"], "lift", root) == after
    files["outside"].write_text("O = 2\n")
    bump(files["outside"])
    assert code_version(files["lift"], "lift", root) == after  # not in the project


def test_absolute_imports_from_the_root_itself_and_namespace_packages(tmp_path: Path) -> None:
    root = tmp_path / "pipeline"
    (root / "etl").mkdir(parents=True)  # no __init__.py anywhere: namespace packages
    (root / "etl" / "util.py").write_text("U = 1\n")
    (root / "etl" / "more.py").write_text("M = 1\n")
    (root / "job.py").write_text("import etl.util\n\ndef job():\n    return 1\n")
    assert list(project_imports(root / "job.py", str(root))) == ["pipeline/etl/util.py"]
    # 'from <namespace package> import <submodule>', absolute from the root's parent and relative
    (root / "job2.py").write_text("from pipeline.etl import more\nfrom .etl import util\n")
    assert list(project_imports(root / "job2.py", str(root))) == [
        "pipeline/etl/more.py",
        "pipeline/etl/util.py",
    ]


def test_missing_source_or_definition_and_syntax_errors_give_no_fingerprint(project: Path) -> None:
    f = project / "lift.py"
    assert code_version(f, "lift", str(project.parent)).problem == "source missing"
    assert code_version(None, "lift", None).problem == "source missing"
    f.write_text(BASE)
    assert code_version(f, "nope", None).problem == "no definition of nope in the source"
    f.write_text("def lift(:\n")
    bump(f)
    v = code_version(f, "lift", None)
    assert (v.fingerprint, v.problem) == (None, "source does not parse")


def test_root_directory_by_name_or_package(project: Path) -> None:
    files = _tree(project)
    assert root_directory(files["lift"], "project") == str(project.parent)
    assert root_directory(files["lift"]) == str(project.parent)  # outermost package
    assert root_directory(files["outside"]) == str(project.parent.parent)  # not in a package
    with pytest.raises(ValueError, match="not under a directory named 'nope'"):
        root_directory(files["lift"], "nope")
