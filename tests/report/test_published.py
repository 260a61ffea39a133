from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evolcoder.report.published import PUBLISHED_FILE, PublishedError, load_published


def test_shipped_file_validates() -> None:
    published = load_published()
    assert len(published.numbers) > 40
    assert {"fig1", "table1", "ds1000"} <= set(published.notes)
    for number in published.numbers:
        assert number.source and number.setting.mode in ("greedy", "sampled", "unstated")
        assert 0 <= number.value <= 100


def test_shipped_file_has_the_papers_headline_numbers() -> None:
    published = load_published()
    table1 = {(p.model, p.benchmark): p for p in published.select("table1")}
    assert table1[("WizardCoder-15B", "humaneval")].value == 57.3
    assert table1[("WizardCoder-15B", "humaneval")].setting.mode == "sampled"
    assert table1[("StarCoder-15B", "mbpp")].value == 43.6
    fig1 = {(p.model, p.benchmark): p for p in published.select("fig1")}
    assert fig1[("WizardCoder-15B", "humaneval")].value == 59.8
    assert fig1[("WizardCoder-15B", "humaneval")].setting.label() == "greedy"
    ds1000 = {(p.model, p.library): p.value for p in published.select("ds1000")}
    assert ds1000[("WizardCoder-15B", "All")] == 29.2
    assert ds1000[("StarCoder-15B", "Pandas")] == 11.4


def test_shipped_file_is_package_data() -> None:
    assert PUBLISHED_FILE.parent.name == "report" and PUBLISHED_FILE.is_file()


def _broken(tmp_path: Path, change: dict, drop: str | None = None) -> Path:
    data = yaml.safe_load(PUBLISHED_FILE.read_text())
    entry = data["entries"][2]
    entry.update(change)
    if drop:
        del entry[drop]
    path = tmp_path / "published.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("change", "drop", "message"),
    [
        ({}, "source", "missing 'source'"),
        ({}, "setting", "missing 'setting'"),
        ({"value": 140}, None, "'value' must be a percentage in [0, 100], got 140"),
        ({"benchmark": "apps"}, None, "'benchmark' must be one of"),
        ({"setting": {"mode": "beam"}}, None, "setting 'mode' must be one of"),
        ({"source": "  "}, None, "missing 'source'"),
    ],
)
def test_broken_entry_names_file_and_entry(tmp_path: Path, change: dict, drop: str | None, message: str) -> None:
    path = _broken(tmp_path, change, drop)
    with pytest.raises(PublishedError) as raised:
        load_published(path)
    text = str(raised.value)
    assert text.startswith(f"{path}: entry 3 (Bard, ")
    assert message in text
    assert "\n" not in text


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "published.yaml"
    path.write_text("entries: [\n")
    with pytest.raises(PublishedError, match="cannot read published numbers"):
        load_published(path)
