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


# -- module-level statements that change what a definition uses (issue #22) --------------------------

MUTATED = """\
import random

CONFIG = {"f": 1}
CONFIG["f"] = 3


class _Settings:
    limit = 1


SETTINGS = _Settings()
SETTINGS.limit = 3

COLUMNS = ["a"]
COLUMNS.append("b")

random.seed(1)

K = 2


def scaled(n):
    def wrap(fn):
        return lambda x: fn(x) * n

    return wrap


def by_config(x):
    return x * CONFIG["f"]


def by_settings(x):
    return x * SETTINGS.limit


def columns():
    return list(COLUMNS)


def draw():
    return random.random()


def task(x):
    return x + 1


task = scaled(2)(task)


def shadowed(xs):
    return [(lambda K: K + 1)(x) for x in xs] + [K]


def other():
    return 0
"""

# (definition, the edit): each changes what the definition does when it runs
MUTATIONS = {
    "an item assigned": ("by_config", 'CONFIG["f"] = 3', 'CONFIG["f"] = 30'),
    "an attribute assigned": ("by_settings", "SETTINGS.limit = 3", "SETTINGS.limit = 30"),
    "a method called": ("columns", 'COLUMNS.append("b")', 'COLUMNS.append("zzz")'),
    "a module-level call on a module it uses": ("draw", "random.seed(1)", "random.seed(2)"),
    "a decorator-style rebinding": ("task", "task = scaled(2)(task)", "task = scaled(3)(task)"),
    "a constant a lambda parameter shadows elsewhere": ("shadowed", "K = 2", "K = 5"),
}


@pytest.mark.parametrize("edit", sorted(MUTATIONS))
def test_a_module_level_statement_changing_what_it_uses_counts(project: Path, edit: str) -> None:
    name, old, new = MUTATIONS[edit]
    f = project / "mutated.py"
    assert MUTATED.count(old) == 1
    before = _fp(f, name, MUTATED)
    after = _fp(f, name, MUTATED.replace(old, new))
    assert before is not None and after is not None and after != before


@pytest.mark.parametrize("edit", sorted(MUTATIONS))
def test_an_unrelated_edit_still_does_not_count(project: Path, edit: str) -> None:
    name = MUTATIONS[edit][0]
    f = project / "mutated.py"
    before = _fp(f, name, MUTATED)
    for text in (
        MUTATED.replace("COLUMNS = [", "# a comment\nCOLUMNS = ["),  # a comment
        MUTATED.replace("    return 0", "    return 1"),  # another function
    ):
        assert _fp(f, name, text) == before
    if name != "columns":  # another name's mutation is not this definition's
        assert _fp(f, name, MUTATED.replace('COLUMNS.append("b")', 'COLUMNS.append("c")')) == before


def test_a_lambda_or_comprehension_variable_hides_only_inside_itself(project: Path) -> None:
    f = project / "scopes.py"
    src = "N = 1\n\ndef f(xs):\n    return [N for N in xs] + [N]\n"
    assert _fp(f, "f", src) != _fp(f, "f", src.replace("N = 1", "N = 2"))
    # the converse still holds: a parameter is the function's own, whatever nests inside it
    own = "N = 1\n\ndef g(N):\n    return (lambda: N)()\n"
    assert _fp(f, "g", own) == _fp(f, "g", own.replace("N = 1", "N = 2"))


CLASSES = """\
class Base:
    def scale(self, x):
        return x * 2


class Task(Base):
    FACTOR = 3

    def __init__(self):
        self.offset = 1

    def run(self, x):
        return self.helper(x) + super().scale(x) + self.offset

    def helper(self, x):
        return x * self.FACTOR

    def other(self):
        return 0
"""


@pytest.mark.parametrize(
    "old, new",
    [
        ("return x * 2", "return x * 5"),  # the base class
        ("class Task(Base):", "class Task(Base, dict):"),  # the bases
        ("return x * self.FACTOR", "return x - self.FACTOR"),  # a sibling method it calls via self
        ("FACTOR = 3", "FACTOR = 4"),  # a class attribute that sibling reads
        ("self.offset = 1", "self.offset = 2"),  # an instance attribute another method sets
    ],
)
def test_a_method_follows_its_bases_and_the_members_it_uses(project: Path, old: str, new: str) -> None:
    f = project / "classes.py"
    before = _fp(f, "Task.run", CLASSES)
    assert before is not None and _fp(f, "Task.run", CLASSES.replace(old, new)) != before
    assert _fp(f, "Task.run", CLASSES.replace("return 0", "return 1")) == before  # a member it does not use


DAG_FILE = """\
from airflow.sdk import dag, task
from airflow.providers.standard.operators.bash import BashOperator

LIMIT = 5


@dag(schedule=None)
def orders(days=3):
    margin = 2
    export = BashOperator(task_id="export", bash_command="echo one")

    @task
    def load():
        return LIMIT + margin

    @task
    def window():
        return days

    @task
    def side():
        return 0

    load() >> export
    window()


orders()
"""


@pytest.mark.parametrize(
    "name, old, new",
    [
        ("orders.load", "return LIMIT + margin", "return LIMIT - margin"),  # its body
        ("orders.load", "margin = 2", "margin = 3"),  # a local of the function around it
        ("orders.load", "LIMIT = 5", "LIMIT = 6"),  # a module constant
        ("orders.window", "def orders(days=3):", "def orders(days=4):"),  # a parameter of the function around
        (
            "orders.export",
            'bash_command="echo one"',
            'bash_command="echo two"',
        ),  # an assignment in a function
    ],
)
def test_a_definition_inside_a_function_is_fingerprinted_alone(
    project: Path, name: str, old: str, new: str
) -> None:
    f = project / "dag.py"
    before = _fp(f, name, DAG_FILE)
    assert before is not None and before != _fp(f, "orders", DAG_FILE)
    assert _fp(f, name, DAG_FILE.replace(old, new)) != before
    assert _fp(f, name, DAG_FILE.replace("return 0", "return 1")) == before  # a sibling task


def test_the_whole_module_is_a_definition_too(project: Path) -> None:
    f = project / "dag.py"
    whole = _fp(f, "<module>", DAG_FILE)
    assert whole == _fp(f, "<module>", DAG_FILE.replace("LIMIT = 5", "LIMIT = 5  # five"))
    assert whole != _fp(f, "<module>", DAG_FILE.replace("return 0", "return 1"))


def test_stale_sees_a_module_level_mutation_end_to_end(tmp_path: Path) -> None:
    """Write with the old source, edit the module file, run ``fsmirror stale`` as a user does."""
    import importlib.util
    import subprocess
    import sys

    from fsmirror import FSMirror

    pkg = tmp_path / "src" / "project" / "etl"
    pkg.mkdir(parents=True)
    mod = pkg / "mutated.py"
    mod.write_text(MUTATED)
    cfg = tmp_path / "fsmirror.yml"
    cfg.write_text(
        f"storage: {{provider: local, tenant: {tmp_path / 'store'}}}\n"
        "mirrors: {m: {root: project, output_format: json}}\n"
    )
    spec = importlib.util.spec_from_file_location("mutated_e2e", mod)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fm = FSMirror(config=str(cfg), mirror="m")
    fm.write(module.by_config, module.by_config(1), run_id="r1")
    fm.write(module.columns, module.columns(), run_id="r1")

    def stale() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fsmirror.cli", "--config", str(cfg), "stale", "-m", "m"],
            capture_output=True,
            text=True,
            timeout=60,
        )

    fresh = stale()
    assert (fresh.returncode, fresh.stdout) == (
        0,
        "nothing stale: 2 latest artifact(s) made by today's code from their inputs' latest runs\n",
    ), fresh.stderr
    mod.write_text(MUTATED.replace('CONFIG["f"] = 3', 'CONFIG["f"] = 30'))
    bump(mod)
    r = stale()
    assert (r.returncode, r.stdout) == (
        1,
        "project/etl/mutated.py::by_config  run r1: code changed\n1 of 2 latest artifact(s) stale\n",
    ), r.stderr


def test_a_seed_through_another_import_of_the_same_package_counts(project: Path) -> None:
    src = "import random\nfrom random import randint\n\nrandom.seed(1)\n\ndef roll():\n    return randint(1, 6)\n"
    f = project / "dice.py"
    assert _fp(f, "roll", src) != _fp(f, "roll", src.replace("seed(1)", "seed(2)"))


# What docs/provenance.md says the fingerprint does not see: pinned, so the page stays true.
BLIND = {
    "a mutating call inside an assignment": (
        "COLUMNS = ['a']\nx = COLUMNS.pop()\n\ndef f():\n    return COLUMNS\n",
        "pop()",
        "pop(0)",
        "f",
    ),
    "a module-level call of a function that changes a name in its body": (
        "CONFIG = {}\n\ndef configure():\n    CONFIG['f'] = 3\n\nconfigure()\n\ndef f():\n    return CONFIG\n",
        "= 3",
        "= 4",
        "f",
    ),
    "the arguments a factory is called with": (
        "def make(region):\n    def sales():\n        return region\n    return sales\n\neu = make('eu')\n",
        "'eu'",
        "'us'",
        "make.sales",
    ),
    "a call on a module the definition does not use": (
        "import numpy as np\nimport random\n\nrandom.seed(1)\n\ndef f():\n    return np.random.random()\n",
        "seed(1)",
        "seed(2)",
        "f",
    ),
}


@pytest.mark.parametrize("case", sorted(BLIND))
def test_documented_blind_spots(project: Path, case: str) -> None:
    src, old, new, name = BLIND[case]
    f = project / "blind.py"
    before = _fp(f, name, src)
    assert before is not None and _fp(f, name, src.replace(old, new)) == before


def test_an_inherited_method_has_no_definition_of_its_own(project: Path) -> None:
    src = "class Base:\n    def run(self):\n        return 1\n\n\nclass Task(Base):\n    pass\n"
    assert _fp(project / "inherit.py", "Task.run", src) is None


# More of what provenance.md lists as counting: (source, old, new, definition)
ALSO_COUNTS = {
    "an item deleted": (
        "CACHE = {'a': 1, 'b': 2}\ndel CACHE['a']\n\ndef f():\n    return CACHE\n",
        "del CACHE['a']",
        "del CACHE['b']",
        "f",
    ),
    "a name passed to a dropped call": (
        "COLUMNS = ['a', 'b']\n\ndef register(cols, n=1):\n    cols.extend('x' * n)\n\nregister(COLUMNS)\n\n"
        "def f():\n    return COLUMNS\n",
        "register(COLUMNS)",
        "register(COLUMNS, 2)",
        "f",
    ),
    "a method rebound on its class": (
        "def traced(fn):\n    return fn\n\ndef other(fn):\n    return fn\n\nclass Task:\n"
        "    def run(self):\n        return 1\n\nTask.run = traced(Task.run)\n",
        "traced(Task.run)",
        "other(Task.run)",
        "Task.run",
    ),
    "a dropped call passing it, in a module-level block (errs towards changed)": (
        "from x import DAG, BashOperator, PythonOperator\n\ndef extract():\n    return 1\n\n"
        "with DAG('d'):\n    PythonOperator(task_id='extract', python_callable=extract)\n"
        "    BashOperator(task_id='b', bash_command='echo 1')\n",
        "echo 1",
        "echo 2",
        "extract",
    ),
    "a function called with the name": (
        "CONFIG = {}\n\ndef configure(c):\n    c['f'] = 3\n\nconfigure(CONFIG)\n\ndef f():\n    return CONFIG\n",
        "= 3",
        "= 4",
        "f",
    ),
    "a function that sets the name with global": (
        "N = 1\n\ndef configure():\n    global N\n    N = 2\n\ndef f():\n    return N\n",
        "N = 2",
        "N = 3",
        "f",
    ),
}


@pytest.mark.parametrize("case", sorted(ALSO_COUNTS))
def test_more_statements_that_change_a_name_count(project: Path, case: str) -> None:
    src, old, new, name = ALSO_COUNTS[case]
    f = project / "also.py"
    before = _fp(f, name, src)
    assert before is not None and _fp(f, name, src.replace(old, new)) != before
