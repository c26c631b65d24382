"""The built-in generators make exactly the items recorded in item_hashes.json (see
item_hashes.py: rewrite the hashes only when a change of the items is meant)."""

import json

import item_hashes


def test_generated_items_match_the_recorded_hashes():
    recorded = json.loads(item_hashes.HASHES.read_text(encoding="utf-8"))
    assert item_hashes.changed(recorded, item_hashes.compute()) == []


def test_the_check_sees_a_changed_item():
    recorded = {"a": "1", "b": "2"}
    assert item_hashes.changed(recorded, {"a": "1", "b": "3", "c": "4"}) == ["b", "c"]
