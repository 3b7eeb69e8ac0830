"""The product is ``app/`` alone (issue 13): the wheel holds no test double, no ``tools/`` and
no ``tests/``, and no module in ``app/`` imports from either, so a production image built from
the wheel cannot reach a stand-in."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Top-level packages that are not the product.
NOT_PRODUCT = frozenset({"tests", "tools"})


def imported_roots(source: str) -> set[str]:
    """The top-level package of every absolute import in ``source``."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_import_scan_sees_every_form() -> None:
    """Guards the scan below: each way of importing a tool or a test is seen."""
    for source in (
        "import tools.sendgrid_standin",
        "from tools.sendgrid_standin import SendGridStandIn",
        "from tests import factories",
        "def f():\n    import tests.support.mailing as m\n",
        "try:\n    from tools import x\nexcept ImportError:\n    pass\n",
    ):
        assert imported_roots(source) & NOT_PRODUCT, source


def test_no_module_in_app_imports_from_tests_or_tools() -> None:
    modules = sorted((ROOT / "app").rglob("*.py"))
    assert len(modules) > 50
    offenders = {
        str(path.relative_to(ROOT)): sorted(roots & NOT_PRODUCT)
        for path in modules
        if (roots := imported_roots(path.read_text(encoding="utf-8"))) & NOT_PRODUCT
    }
    assert offenders == {}


def test_the_wheel_holds_the_app_and_no_stand_in_tools_or_tests(tmp_path: Path) -> None:
    """Builds the wheel from a copy of the sources (so the worktree gets no ``build/``) with
    ``pip wheel --no-deps`` and reads what it would install."""
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for folder in ("app", "tools", "tests"):
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path / "wheel"
    subprocess.run(  # noqa: S603 - this interpreter's pip, fixed arguments
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(source)],
        check=True,
        timeout=300,
    )
    (wheel,) = out.glob("candor-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    roots = {name.split("/")[0] for name in names}
    assert roots == {"app", next(r for r in roots if r.endswith(".dist-info"))}
    assert "app/messaging/backends/sendgrid.py" in names
    assert any(name.startswith("app/messaging/templates/") for name in names)
    assert [name for name in names if "standin" in name.lower()] == []


def reads_app_state_settings(source: str) -> bool:
    """Whether ``source`` reads ``<something>.state.settings`` (rather than assigning it)."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "settings"
            and isinstance(node.ctx, ast.Load)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "state"
        ):
            return True
    return False


def test_the_settings_scan_sees_a_read_and_not_the_assignment() -> None:
    assert reads_app_state_settings("s = request.app.state.settings.secret_key")
    assert not reads_app_state_settings("app.state.settings = settings")


def test_endpoints_take_settings_through_SettingsDep_only() -> None:
    """One place turns the app's settings into a dependency (``app.core.settings:app_settings``);
    routers and dependencies declare ``settings: SettingsDep`` instead of reaching into
    ``request.app.state`` (issue 13)."""
    readers = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "app").rglob("*.py")
        if reads_app_state_settings(path.read_text(encoding="utf-8"))
    )
    assert readers == ["app/core/settings.py"]
