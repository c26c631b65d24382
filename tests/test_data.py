from collections import Counter

import pytest

from sftdpo.data import drop_duplicate_texts, normalised, stratified_split
from sftdpo.tasks import TASKS

TRIAGE = TASKS["provider_triage"]


def split(seed=0, n=300):
    return stratified_split(TRIAGE, TRIAGE.build_items(n, 0), validation=0.1, test=0.4,
                            seed=seed)


def test_splits_cover_items_once_with_requested_shares():
    parts = split()
    ids = [item["id"] for part in parts.values() for item in part]
    assert len(ids) == len(set(ids)) == 300
    assert len(parts["test"]) == 120
    assert len(parts["validation"]) == 30


def test_no_text_in_two_splits():
    parts = split()
    texts = {name: {normalised(i["text"]) for i in part} for name, part in parts.items()}
    assert not texts["train"] & texts["test"]
    assert not texts["train"] & texts["validation"]
    assert not texts["validation"] & texts["test"]


def test_duplicates_are_dropped_before_splitting():
    items = [{"id": "a", "text": "Need a refill!"}, {"id": "b", "text": "need a  refill"},
             {"id": "c", "text": "Chest pain"}]
    kept, dropped = drop_duplicate_texts(items)
    assert [i["id"] for i in kept] == ["a", "c"] and dropped == 1


@pytest.mark.parametrize("field", ["provider", "urgency"])
def test_each_split_keeps_the_label_shares(field):
    parts = split()
    overall = Counter(i[field] for part in parts.values() for i in part)
    for part in (parts["train"], parts["test"]):
        counts = Counter(i[field] for i in part)
        for label, total in overall.items():
            assert counts[label] / len(part) == pytest.approx(total / 300, abs=0.03)


def test_split_is_seeded():
    assert split(seed=1) == split(seed=1)
    assert [i["id"] for i in split(seed=1)["test"]] != [i["id"] for i in split(seed=2)["test"]]


def test_both_triage_tasks_split_the_same_messages_alike():
    urgency = TASKS["urgency_triage"]
    items = TRIAGE.build_items(300, 0)
    a = stratified_split(TRIAGE, items, 0.1, 0.4, seed=0)
    b = stratified_split(urgency, items, 0.1, 0.4, seed=0)
    assert {n: [i["id"] for i in p] for n, p in a.items()} == {
        n: [i["id"] for i in p] for n, p in b.items()}


def test_small_tasks_fall_back_to_stratifying_on_the_label():
    parts = stratified_split(TRIAGE, TRIAGE.build_items(60, 0), validation=0.1, test=0.4, seed=0)
    assert [len(parts[name]) for name in ("train", "validation", "test")] == [30, 6, 24]
    assert len({i["provider"] for i in parts["test"]}) == 4
