"""The docs say what the code does: the settings tables are the declarations' (handlers.config),
the README stays a front door, every Makefile command is in it, and no link leads nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handlers.config import SETTINGS, Setting

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
CONFIGURATION = ROOT / "docs" / "configuration.md"
MIB = 1024 * 1024


def table_after(heading: str, text: str) -> list[list[str]]:
    """The cells of each body row of the first table under `heading` (a whole heading line)."""
    lines = text.splitlines()
    start = lines.index(heading)
    rows, in_table = [], False
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            in_table = True
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
        elif in_table or line.startswith("#"):
            break
    return rows[2:]  # after the header row and its --- row


def documented_default(setting: Setting) -> str:
    default = setting.default
    if default is None:
        return "unset"
    if default == "":
        return "empty"
    if isinstance(default, int):
        number = default // setting.unit
        for size, unit in ((1024 * MIB, "GiB"), (MIB, "MiB")):
            if setting.variable.endswith("_BYTES") and number % size == 0:
                return f"{number} ({number // size} {unit})"
        return str(number)
    if isinstance(default, tuple):  # origins, or (name, side) pairs
        default = ",".join(item if isinstance(item, str) else "{}={}".format(*item) for item in default)
    return f"`{default}`"


def documented_bounds(setting: Setting) -> str:
    if setting.bounds is None:
        return ""
    lo, hi = setting.bounds
    return f"at least {lo}" if hi is None else f"{lo}..{hi}"


@pytest.mark.parametrize(
    ("heading", "chosen_at_deploy"),
    [("## The functions' settings you choose", True), ("## The functions' settings deploy or Lambda sets", False)],
)
def test_the_settings_tables_are_the_declarations(heading, chosen_at_deploy):
    """Adding a setting without documenting it, or changing a default, bounds or meaning on one
    side only, fails here."""
    documented = {
        row[0].strip("`"): row[1:] for row in table_after(heading, CONFIGURATION.read_text()) if len(row) == 4
    }
    declared = {
        setting.variable: [documented_default(setting), documented_bounds(setting), setting.meaning]
        for setting in SETTINGS
        if setting.chosen_at_deploy is chosen_at_deploy
    }
    assert documented == declared


def test_every_variable_the_docs_name_for_the_machine_is_read_by_the_code():
    sources = "\n".join(
        path.read_text()
        for pattern in ("bootstrap/**/*.py", "devserver/**/*.py", "tests/**/*.py", "Makefile", "docker-compose.yml")
        for path in ROOT.glob(pattern)
        if ".venv" not in path.parts
    )
    rows = table_after("## Deploy and the local machine", CONFIGURATION.read_text())
    variables = [name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row[0])]
    assert len(variables) > 20
    unread = [name for name in variables if not re.search(rf"[\"'{{(= ]{name}\b", sources)]
    assert unread == []


def test_the_readme_is_a_front_door():
    assert len(README.read_text().splitlines()) <= 210


def test_the_readme_lists_every_make_command():
    makefile = (ROOT / "Makefile").read_text()
    documented_targets = set(re.findall(r"^([a-zA-Z_-]+):.*## ", makefile, flags=re.MULTILINE))
    assert len(documented_targets) > 10
    listed = set(re.findall(r"`make ([a-z-]+)", README.read_text()))
    assert documented_targets - listed == set()


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.MULTILINE)
            if anchor not in {slug(heading) for heading in headings}:
                broken.append(target)
    assert broken == []


REPOSITORY_PATH = re.compile(r"((?:handlers|bootstrap|devserver|frontend|tests|docs)/[\w./*-]*)(?:::(\w+))?")
MADE_BY_MAKE = "frontend/vendor/"  # `make vendor` writes it; git ignores it


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_file_and_test_the_docs_name_exists(page):
    """`bootstrap/deploy/events.py::ensure_reserved_concurrency`, `test_x.py::test_y`: a file moved
    or a test renamed fails here, not in a reader's hands."""
    missing = []
    for name in re.findall(r"`([^`\s]+)`", page.read_text()):
        if (match := REPOSITORY_PATH.fullmatch(name)) and not name.startswith(MADE_BY_MAKE):
            path, member = match.groups()
            files = list(ROOT.glob(path))
        elif match := re.fullmatch(r"(test_\w+\.py)::(\w+)", name):
            files, member = list(ROOT.glob(f"tests/**/{match[1]}")), match[2]
        else:
            continue
        if not files or (
            member and not any(re.search(rf"^\s*(def|class) {member}\b", f.read_text(), re.M) for f in files)
        ):
            missing.append(name)
    assert missing == []


def test_the_operations_tables_are_the_metrics_and_alarms_deploy_makes():
    """docs/operations.md lists each declared metric (name, unit, dimensions, meaning) and each alarm
    deploy makes (name, metric, statistic, period, threshold), in their order."""
    from bootstrap.deploy.monitoring import ALARMS
    from handlers.telemetry import METRICS

    text = (ROOT / "docs" / "operations.md").read_text()
    assert table_after("## Metrics", text) == [
        [f"`{m.name}`", m.unit, ", ".join(("service", *m.dimensions)), m.meaning] for m in METRICS
    ]
    rows = table_after("## Alarms", text)
    assert [row[0] for row in rows] == [f"`{a.name}`" for a in ALARMS]
    for row, alarm in zip(rows, ALARMS, strict=True):
        relation = ">=" if "OrEqual" in alarm.comparison else ">"
        assert row[1] == f"`{alarm.namespace or '<prefix>'}` `{alarm.metric}`"
        assert row[2] == f"{alarm.statistic} over {alarm.period // 60} min {relation} {alarm.threshold:g}"
