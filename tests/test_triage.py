"""The synthetic portal-message generator and the two triage tasks built on it."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from sftdpo.tasks.triage import (
    ARCHETYPES,
    PROVIDER_TRIAGE,
    PROVIDERS,
    RANK,
    URGENCIES,
    URGENCY_TRIAGE,
    generate_messages,
)

ARCHETYPE_BY_NAME = {a.name: a for a in ARCHETYPES}


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return generate_messages(400, seed=0)


def base(archetype: str) -> str:
    return archetype.split(":")[0]


def is_hard(archetype: str) -> bool:
    return ":" in archetype  # a hard variant's suffix, "refill_request:mixed"


def test_exact_count_unique_ids_and_texts(items):
    assert len(items) == 400
    assert [it["id"] for it in items] == [f"triage-{i:05d}" for i in range(400)]
    assert len({it["text"] for it in items}) == 400
    assert all(set(it) == {"id", "text", "provider", "urgency", "archetype"} for it in items)
    assert all(it["text"].strip() for it in items)
    assert generate_messages(0, seed=0) == []
    assert len(generate_messages(7, seed=5)) == 7


def test_deterministic_per_seed(items):
    assert generate_messages(400, seed=0) == items
    other = generate_messages(400, seed=1)
    assert [it["text"] for it in other] != [it["text"] for it in items]
    assert sum(a["text"] == b["text"] for a, b in zip(items, other, strict=True)) < 10


def test_provider_balance_and_urgent_share(items):
    counts = Counter(it["provider"] for it in items)
    assert set(counts) == set(PROVIDERS)
    assert max(counts.values()) - min(counts.values()) <= 1
    for n in (21, 97, 402):
        odd = Counter(it["provider"] for it in generate_messages(n, seed=3))
        assert max(odd.values()) - min(odd.values()) <= 1
    urgent = sum(it["urgency"] == "urgent" for it in items) / len(items)
    assert 0.3 <= urgent <= 0.55


def test_labels_in_label_sets(items):
    for it in items:
        assert it["provider"] in PROVIDERS
        assert it["urgency"] in URGENCIES
        assert PROVIDER_TRIAGE.gold(it) == it["provider"]
        assert URGENCY_TRIAGE.gold(it) == it["urgency"]


def test_each_provider_has_four_archetypes_and_both_urgencies(items):
    seen: dict[str, set[str]] = {p: set() for p in PROVIDERS}
    for it in items:
        seen[it["provider"]].add(base(it["archetype"]))
    assert all(len(names) >= 4 for names in seen.values()), seen
    pairs = {(it["provider"], it["urgency"]) for it in items}
    assert pairs == {(p, u) for p in PROVIDERS for u in URGENCIES}
    table = {(a.provider, a.urgency) for a in ARCHETYPES}
    assert table == pairs  # every provider has an urgent and a routine archetype


def test_labels_follow_archetype_and_mixed_rule(items):
    for it in generate_messages(400, seed=0, hard_share=1.0) + items:
        arch = ARCHETYPE_BY_NAME[base(it["archetype"])]
        assert arch.provider == it["provider"]
        if not it["archetype"].endswith(":mixed"):
            assert arch.urgency == it["urgency"], it
        elif arch.urgency == "urgent":
            assert it["urgency"] == "urgent"  # the more urgent concern decides urgency


def test_mixed_messages_exercise_the_urgency_rule():
    mixed = [it for it in generate_messages(400, seed=2, hard_share=1.0)
             if it["archetype"].endswith(":mixed")]
    assert len(mixed) > 40
    # routine concern for the deciding role, urgent concern for a less demanding one
    assert any(ARCHETYPE_BY_NAME[base(it["archetype"])].urgency == "non-urgent"
               and it["urgency"] == "urgent" for it in mixed)
    assert {it["provider"] for it in mixed} == set(PROVIDERS)


def test_rank_orders_clinical_demand():
    assert sorted(PROVIDERS, key=RANK.get) == ["physician", "nurse", "pharmacist", "scheduling"]


def test_hard_share_controls_hard_variants():
    none = generate_messages(200, seed=4, hard_share=0.0)
    every = generate_messages(200, seed=4, hard_share=1.0)
    some = generate_messages(200, seed=4, hard_share=0.3)
    assert not any(is_hard(it["archetype"]) for it in none)
    assert all(is_hard(it["archetype"]) for it in every)
    assert sum(is_hard(it["archetype"]) for it in some) == 60
    variants = Counter(it["archetype"].split(":")[1] for it in every)
    assert set(variants) == {"mixed", "negated_red_flag", "distractor", "calm_urgent",
                             "alarmed_routine"}
    for it in every:
        variant = it["archetype"].split(":")[1]
        if variant == "calm_urgent":
            assert it["urgency"] == "urgent"
        if variant in ("alarmed_routine", "negated_red_flag"):
            assert it["urgency"] == "non-urgent"


def test_typos_never_alter_digits():
    clean = generate_messages(300, seed=6, typo_rate=0.0)
    noisy = generate_messages(300, seed=6, typo_rate=0.5)
    changed = 0
    for a, b in zip(clean, noisy, strict=True):
        assert (a["id"], a["provider"], a["urgency"], a["archetype"]) == (
            b["id"], b["provider"], b["urgency"], b["archetype"])
        assert re.findall(r"\S*\d\S*", a["text"]) == re.findall(r"\S*\d\S*", b["text"])
        changed += a["text"] != b["text"]
    assert changed > 250


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        generate_messages(-1, seed=0)
    with pytest.raises(ValueError):
        generate_messages(10, seed=0, hard_share=1.5)
    with pytest.raises(ValueError):
        generate_messages(10, seed=0, typo_rate=-0.1)


@pytest.mark.parametrize(("completion", "label"), [
    ("urgent", "urgent"),
    ("Urgent", "urgent"),
    ("URGENT.", "urgent"),
    ("non-urgent", "non-urgent"),
    ("Non-Urgent", "non-urgent"),
    ("Not urgent.", "non-urgent"),
    ("This is not urgent", "non-urgent"),
    ("nonurgent", "non-urgent"),
    ("Routine", "non-urgent"),
    ("Emergent", "urgent"),
    ("It is not an emergency.", "non-urgent"),
    ("I think the answer is banana", None),
    ("", None),
])
def test_parse_urgency(completion, label):
    assert URGENCY_TRIAGE.parse(completion) == label


@pytest.mark.parametrize(("completion", "label"), [
    ("physician", "physician"),
    ("Nurse", "nurse"),
    ("The nurse should handle this", "nurse"),
    ("The doctor", "physician"),
    ("MD", "physician"),
    ("RN.", "nurse"),
    ("Pharmacy", "pharmacist"),
    ("pharmacist", "pharmacist"),
    ("Front desk", "scheduling"),
    ("scheduling staff", "scheduling"),
    ("Scheduler", "scheduling"),
    ("SCHEDULING", "scheduling"),
    ("no idea, sorry", None),
    ("urgent", None),
])
def test_parse_provider(completion, label):
    assert PROVIDER_TRIAGE.parse(completion) == label


def test_completion_round_trips_and_tasks_share_strata(items):
    for task in (PROVIDER_TRIAGE, URGENCY_TRIAGE):
        for label in task.labels:
            assert task.parse(task.completion({task.label_field: label})) == label
        messages = task.prompt_messages(items[0])
        assert [m["role"] for m in messages] == ["system", "user"]
        assert all(label in messages[1]["content"] for label in task.labels)
    assert PROVIDER_TRIAGE.build_items is URGENCY_TRIAGE.build_items
    assert all(PROVIDER_TRIAGE.stratum(it) == URGENCY_TRIAGE.stratum(it) for it in items)
    assert len({PROVIDER_TRIAGE.stratum(it) for it in items}) == 8
