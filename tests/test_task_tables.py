"""The built-in tasks' data files: read by tasks/tables.py, a malformed one stops the import
with the file, the entry and what was expected."""

from dataclasses import dataclass

import pytest

from sftdpo.tasks.tables import DATA, Table, TableError


@dataclass(frozen=True)
class Entry:
    name: str
    ages: tuple[float, float]
    words: tuple[str, ...] = ()


def table(tmp_path, text: str) -> Table:
    (tmp_path / "t.yaml").write_text(text)
    return Table("t", tmp_path)


def test_every_data_file_belongs_to_a_module():
    assert sorted(p.stem for p in DATA.glob("*.yaml")) == [
        "numeric", "radiology", "reasoning", "rubric", "summary_notes", "triage"]


def test_sections_convert_by_type(tmp_path):
    t = table(tmp_path, "entries:\n  - {name: a, ages: [1, 2.5], words: [x, y]}\n"
                        "  - {name: b, ages: [3, 4]}\nslots: {k: [v]}\n")
    assert t.get("entries", tuple[Entry, ...]) == (Entry("a", (1, 2.5), ("x", "y")),
                                                  Entry("b", (3, 4)))
    assert t.get("slots", dict[str, tuple[str, ...]]) == {"k": ("v",)}
    t.done()


@pytest.mark.parametrize(("text", "message"), [
    ("entries:\n  - {name: a, ages: [1, old]}\n",
     r"t\.yaml, entries\[0\] \(name a\)\.ages\[1\]: expected a number, got 'old'"),
    ("entries:\n  - {name: a}\n", r"entries\[0\] \(name a\): missing field ages"),
    ("entries:\n  - {name: a, ages: [1, 2], colour: red}\n",
     r"entries\[0\] \(name a\): unknown field colour"),
    ("entries:\n  - {name: a, ages: [1, 2, 3]}\n", r"ages: expected a list of 2"),
    ("entries: {name: a}\n", r"entries: expected a list"),
    ("other: []\n", r"entries: missing section"),
    ("entries: [\n", r"cannot read"),
    ("- a\n", r"expected a mapping of sections"),
])
def test_malformed_tables_name_file_entry_and_field(tmp_path, text, message):
    with pytest.raises(TableError, match=message):
        table(tmp_path, text).get("entries", tuple[Entry, ...])


def test_an_unread_section_is_an_error(tmp_path):
    t = table(tmp_path, "entries: []\nentires: []\n")
    t.get("entries", tuple[Entry, ...])
    with pytest.raises(TableError, match="entires: unknown section"):
        t.done()
