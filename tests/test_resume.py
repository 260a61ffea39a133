"""The shared resume helper: settings saved once, compared key by key, refused in one line; atomic JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evolcoder.errors import UserError
from evolcoder.resume import check_settings, say_complete, write_json_atomic


def test_first_run_writes_later_runs_compare(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "settings.json"
    settings = {"temperature": 0.0, "max_new_tokens": 64, "model": "default", "stops": ("a", "b")}
    assert check_settings(path, settings, way_out="use a new --output") is True
    assert json.loads(path.read_text()) == settings | {"stops": ["a", "b"]}  # JSON-plain: a tuple is a list
    before = path.stat().st_mtime_ns, path.read_bytes()
    assert check_settings(path, settings, way_out="use a new --output") is False
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before  # an agreeing run rewrites nothing


def test_a_changed_setting_is_one_line_naming_the_flag_and_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    check_settings(path, {"temperature": 0.0, "max_new_tokens": 64}, way_out="use a new --output")
    before = path.read_bytes()
    with pytest.raises(UserError) as refused:
        check_settings(path, {"temperature": 0.8, "max_new_tokens": 32}, way_out="use a new --output")
    message = str(refused.value)
    assert message.startswith(f"{path}: --temperature 0.0 → 0.8: ")  # the first differing setting, as its flag
    assert message.endswith("use a new --output") and "\n" not in message
    assert refused.value.field == "--temperature" and refused.value.path == path
    assert path.read_bytes() == before


def test_labels_record_and_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    check_settings(path, {"sha": "aaa"}, way_out="go elsewhere", record={"where": tmp_path, "workers": 4})
    saved = json.loads(path.read_text())
    assert saved == {"where": str(tmp_path), "workers": 4, "sha": "aaa"}  # the record is kept, Paths as str
    # A key the saved file lacks (an older version wrote it) is not compared; the record only when sent again.
    assert check_settings(path, {"sha": "aaa", "new_option": 3}, way_out="go elsewhere", record={"workers": 8}) is False
    with pytest.raises(UserError, match=r"the samples' sha256 'aaa' → 'bbb'.*; go elsewhere"):
        check_settings(path, {"sha": "bbb"}, way_out="go elsewhere", labels={"sha": "the samples' sha256"})


def test_settings_must_be_json_plain_and_a_damaged_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="JSON-plain"):
        check_settings(tmp_path / "s.json", {"output": tmp_path}, way_out="x")
    assert not (tmp_path / "s.json").exists()
    (tmp_path / "s.json").write_text('{"cut')
    with pytest.raises(UserError, match="s.json: not a settings file"):
        check_settings(tmp_path / "s.json", {"a": 1}, way_out="x")


def test_write_json_atomic(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "out.json"
    write_json_atomic(path, {"b": 1, "a": [1, 2]})
    assert path.read_text() == '{\n  "b": 1,\n  "a": [\n    1,\n    2\n  ]\n}\n'
    write_json_atomic(path, {"b": 1, "a": 2}, indent=None)
    assert path.read_text() == '{"b": 1, "a": 2}'  # compact: one line, no newline
    write_json_atomic(path, {"p": tmp_path}, default=str, sort_keys=True)
    assert json.loads(path.read_text()) == {"p": str(tmp_path)}
    with pytest.raises(TypeError):
        write_json_atomic(path, {"p": tmp_path})  # fails before the rename: the old file stays whole
    assert json.loads(path.read_text()) == {"p": str(tmp_path)}
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.json"]  # no partial file left behind


def test_say_complete(capsys: pytest.CaptureFixture[str]) -> None:
    say_complete("generation into s.jsonl", 5)
    assert capsys.readouterr().err == "evolcoder: generation into s.jsonl is already complete (5 rows); nothing to do\n"
