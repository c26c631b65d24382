"""Preference-pair strategies on a tiny random model: what each rejects, and its fallbacks."""

import pytest

import sftdpo.pairs as pairs_module
from sftdpo.inference import TokenTally, answer_logprobs
from sftdpo.modeling import load_base_model, load_tokenizer
from sftdpo.pairs import PAIR_STRATEGIES, PairContext, with_reference
from sftdpo.scoring import candidate_logprobs
from sftdpo.tasks import BUILTIN_TASKS
from sftdpo.userdata import DataError

SPEC = {"dtype": "float32", "quantization": "none"}


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model_dir):
    return load_base_model(tiny_model_dir, SPEC, "cpu"), load_tokenizer(tiny_model_dir)


def context(model_and_tokenizer, task_name, n_items=6, **overrides):
    model, tokenizer = model_and_tokenizer
    task = BUILTIN_TASKS[task_name]
    fields = {"model": model, "tokenizer": tokenizer, "task": task,
              "items": task.build_items(max(n_items, 20), 4)[:n_items], "seed": 0,
              "max_new_tokens": 6, "batch_size": 4,
              "load_base_model": lambda: model} | overrides
    return PairContext(**fields)


def test_hardest_wrong_label_rejects_the_wrong_label_the_model_likes_most(model_and_tokenizer):
    ctx = context(model_and_tokenizer, "provider_triage")
    pairs = PAIR_STRATEGIES["hardest_wrong_label"](ctx)
    assert [p["id"] for p in pairs] == [item["id"] for item in ctx.items]
    for pair, item in zip(pairs, ctx.items, strict=True):
        gold = ctx.task.gold(item)
        assert pair["chosen"] == gold and pair["strategy"] == "hardest_wrong_label"
        scored, _ = answer_logprobs(ctx.model, ctx.tokenizer, [pair["prompt"]],
                                    [ctx.task.labels], 1)
        logprobs = dict(zip(ctx.task.labels, scored[0], strict=True))
        wrong = {label: lp for label, lp in logprobs.items() if label != gold}
        assert pair["rejected"] == max(wrong, key=wrong.get)
        assert pair["sft_prefers_rejected"] == (wrong[pair["rejected"]] > logprobs[gold])


def test_hardest_wrong_option_of_a_reasoning_item(model_and_tokenizer):
    ctx = context(model_and_tokenizer, "clinical_reasoning", n_items=8)
    for pair, item in zip(PAIR_STRATEGIES["hardest_wrong_label"](ctx), ctx.items, strict=True):
        assert pair["chosen"] == ctx.task.completion(item)
        assert pair["rejected_answer"] in ctx.task.candidates(item)
        assert ctx.task.score(item, pair["rejected_answer"])["score"] == 0


def test_hardest_wrong_label_refuses_free_text(model_and_tokenizer):
    ctx = context(model_and_tokenizer, "hospital_course_summary", n_items=2)
    with pytest.raises(DataError, match="hardest_wrong_label needs at least two candidate"):
        PAIR_STRATEGIES["hardest_wrong_label"](ctx)


def test_sft_wrong_answers_rejects_the_models_own_wrong_answer(model_and_tokenizer,
                                                              monkeypatch):
    ctx = context(model_and_tokenizer, "provider_triage")
    # The model answers items 0, 2, 4 wrongly (another label, in its own words), 1, 3, 5 right.
    answers = []
    for k, item in enumerate(ctx.items):
        gold = ctx.task.gold(item)
        wrong = next(label for label in ctx.task.labels if label != gold)
        answers.append(f"I think the {wrong}." if k % 2 == 0 else gold)
    monkeypatch.setattr(pairs_module, "generate_answers",
                        lambda *a, **k: (answers, TokenTally()))
    pairs = PAIR_STRATEGIES["sft_wrong_answers"](ctx)
    assert [p["id"] for p in pairs] == [item["id"] for item in ctx.items]
    assert [p["strategy"] for p in pairs] == ["sft_wrong_answer", "hardest_wrong_label"] * 3
    for k in (0, 2, 4):
        assert pairs[k]["rejected"] == answers[k]
        assert pairs[k]["chosen"] == ctx.task.gold(ctx.items[k])


def test_the_tokens_every_model_call_runs_add_up_in_the_context(model_and_tokenizer,
                                                                monkeypatch):
    """The pairs job's compute record reads ``ctx.tally``: the strategy's generation, the
    ranking of its fallback (two layers down) and with_reference's scoring, each as the call
    returned it; a second job in the same process counts its own calls only."""
    generation = TokenTally(prompt=70, generated=9)

    def build(ctx):
        answers = []
        for k, item in enumerate(ctx.items):
            gold = ctx.task.gold(item)
            answers.append(next(x for x in ctx.task.labels if x != gold) if k % 2 == 0 else gold)
        monkeypatch.setattr(pairs_module, "generate_answers",
                            lambda *a, **k: (answers, generation))
        return with_reference(ctx, PAIR_STRATEGIES["sft_wrong_answers"](ctx), 4096)

    ctx = context(model_and_tokenizer, "provider_triage")
    pairs = build(ctx)
    # Items 1, 3, 5 fall back to the hardest wrong label, ranked in one call; items 0, 2, 4
    # keep the model's answer, scored for the reference in another.
    _, ranking = candidate_logprobs(ctx.model, ctx.tokenizer, ctx.task, ctx.items[1::2],
                                    ctx.batch_size)
    own = [pair for pair in pairs if pair["strategy"] == "sft_wrong_answer"]
    _, reference = answer_logprobs(ctx.model, ctx.tokenizer, [p["prompt"] for p in own],
                                   [[p["chosen"], p["rejected"]] for p in own], ctx.batch_size)
    assert len(own) == 3 and ranking.scored > 0 and reference.scored > 0
    assert ctx.tally == generation + ranking + reference
    again = context(model_and_tokenizer, "provider_triage")
    assert build(again) == pairs
    assert again.tally == ctx.tally


def test_sft_wrong_answers_of_summaries_fall_back_to_degraded(model_and_tokenizer, monkeypatch):
    ctx = context(model_and_tokenizer, "hospital_course_summary", n_items=2)
    answers = ["Pt admitted.", ctx.task.completion(ctx.items[1])]
    monkeypatch.setattr(pairs_module, "generate_answers",
                        lambda *a, **k: (answers, TokenTally()))
    pairs = PAIR_STRATEGIES["sft_wrong_answers"](ctx)
    assert pairs[0]["strategy"] == "sft_wrong_answer" and pairs[0]["rejected"] == "Pt admitted."
    assert pairs[1]["strategy"].startswith("degraded_summary:")


def test_sft_wrong_answers_falls_back_where_the_model_is_right(model_and_tokenizer, monkeypatch):
    ctx = context(model_and_tokenizer, "provider_triage")
    right = [ctx.task.completion(item) for item in ctx.items]
    monkeypatch.setattr(pairs_module, "generate_answers", lambda *a, **k: (right, TokenTally()))
    pairs = PAIR_STRATEGIES["sft_wrong_answers"](ctx)
    assert {p["strategy"] for p in pairs} == {"hardest_wrong_label"}


def test_degraded_summaries_grade_below_the_reference(model_and_tokenizer):
    ctx = context(model_and_tokenizer, "hospital_course_summary", n_items=9, max_new_tokens=12)
    pairs = PAIR_STRATEGIES["degraded_summary"](ctx)
    assert len(pairs) == 9
    kinds = {p["strategy"] for p in pairs}
    assert kinds <= {"degraded_summary:drop_key_facts", "degraded_summary:contradict_fact",
                     "degraded_summary:base_summary"}
    assert len(kinds) >= 2  # the degradations are mixed
    for pair in pairs:
        assert pair["rejected_grade"] < pair["chosen_grade"]
    assert pairs == PAIR_STRATEGIES["degraded_summary"](ctx)  # seeded


def test_degradations_can_be_restricted(model_and_tokenizer):
    ctx = context(model_and_tokenizer, "hospital_course_summary", n_items=4,
                  degradations=("contradict_fact",))
    pairs = PAIR_STRATEGIES["degraded_summary"](ctx)
    assert {p["strategy"] for p in pairs} == {"degraded_summary:contradict_fact"}


def test_user_pairs_take_the_users_answers_and_need_at_least_one(model_and_tokenizer):
    items = [{"id": "a", "text": "Refill please", "provider": "pharmacist",
              "chosen": "pharmacist", "rejected": "nurse"},
             {"id": "b", "text": "Rash after new drug", "provider": "physician"}]
    ctx = context(model_and_tokenizer, "provider_triage", items=items)
    pairs = PAIR_STRATEGIES["user_pairs"](ctx)
    assert [(p["id"], p["chosen"], p["rejected"], p["strategy"]) for p in pairs] == [
        ("a", "pharmacist", "nurse", "user_pairs")]
    ctx.items = items[1:]
    with pytest.raises(DataError, match="none of the 1 training items has both"):
        PAIR_STRATEGIES["user_pairs"](ctx)


SHORT_REFERENCES = ("Stable changes of COPD.", "Who manufactures cetirizine?",
                    "Mild cardiomegaly.", "Clear lungs.", "Healed rib fracture.",
                    "Small hiatal hernia.", "Degenerative spine changes.", "Tortuous aorta.")


def short_summaries(n: int, same_reference: int = 0) -> list[dict]:
    """Items as a real summary set brings them: one-sentence references, no key facts; the
    last ``same_reference`` items share one reference."""
    items = [{"id": f"s{i}", "text": f"Chest film of patient {name}: {reference} Lines and "
              "tubes unchanged. Bones and soft tissues as before.", "reference": reference}
             for i, (name, reference) in enumerate(zip("ABCDEFGH", SHORT_REFERENCES,
                                                       strict=True))][:n]
    for item in items[n - same_reference:]:
        item["reference"] = "No acute process."
    return items


def test_every_degradation_is_tried_for_every_item(model_and_tokenizer, monkeypatch):
    """Each item goes through its whole seeded order: where drop_key_facts and
    contradict_fact give nothing, every item reaches base_summary, whichever it starts with
    (it used to be tried only by items whose order started with it)."""
    tried = []

    def fails(name):
        def degrade(item, rng):
            tried.append((item["id"], name))
            raise ValueError(f"{name} cannot")
        return degrade
    monkeypatch.setattr(pairs_module, "drop_key_facts", fails("drop_key_facts"))
    monkeypatch.setattr(pairs_module, "contradict_fact", fails("contradict_fact"))
    monkeypatch.setattr(pairs_module, "generate_answers",
                        lambda model, tok, prompts, *a, **k: (["Pt admitted."] * len(prompts),
                                                              TokenTally()))
    ctx = context(model_and_tokenizer, "hospital_course_summary", n_items=9,
                  degradations=("drop_key_facts", "contradict_fact", "base_summary"))
    pairs = PAIR_STRATEGIES["degraded_summary"](ctx)
    assert [p["id"] for p in pairs] == [item["id"] for item in ctx.items]
    assert {p["strategy"] for p in pairs} == {"degraded_summary:base_summary"}
    orders = pairs_module.degradation_orders(ctx.degradations, 9, ctx.seed)
    assert {order[0] for order in orders} == {"drop_key_facts", "contradict_fact",
                                              "base_summary"}
    for item, order in zip(ctx.items, orders, strict=True):
        before_base = order[:order.index("base_summary")]
        assert [name for i, name in tried if i == item["id"]] == before_base


def test_short_references_without_key_facts_pair_with_another_items_reference(
        model_and_tokenizer, monkeypatch):
    """Nothing to drop or contradict in "Mild cardiomegaly.", and the base model's summary
    grades as well as the reference (here it is the reference): the item takes another
    item's reference."""
    items = short_summaries(8)
    reference_of = {item["text"]: item["reference"] for item in items}
    monkeypatch.setattr(pairs_module, "generate_answers", lambda model, tok, prompts, *a, **k: (
        [reference_of[p[1]["content"].split("\n\n")[0]] for p in prompts], TokenTally()))
    task = BUILTIN_TASKS["hospital_course_summary"]
    ctx = context(model_and_tokenizer, "hospital_course_summary", items=items)
    pairs = PAIR_STRATEGIES["degraded_summary"](ctx)
    assert len(pairs) == 8 and not ctx.dropped
    assert {p["strategy"] for p in pairs} == {"degraded_summary:other_reference"}
    references = {item["reference"] for item in items}
    for pair, item in zip(pairs, items, strict=True):
        assert pair["rejected"] in references - {item["reference"]}
        assert task.score(item, item["reference"])["score"] == 5 > pair["rejected_grade"]
    assert pairs == PAIR_STRATEGIES["degraded_summary"](
        context(model_and_tokenizer, "hospital_course_summary", items=items))  # seeded


def test_an_item_nothing_can_pair_is_dropped_and_counted(model_and_tokenizer):
    """One-clause references with no number, side or negation cannot be degraded by
    dropping or contradicting: those items are dropped, named with their rows and why; the
    job fails only below pairs.min_share. other_reference fails only where every other
    reference says the same."""
    items = short_summaries(4)
    items[0]["reference"] = "Mild cardiomegaly, 3 cm nodule."
    for row, item in enumerate(items, start=2):
        item["source_row"] = row
    ctx = context(model_and_tokenizer, "hospital_course_summary", items=items,
                  degradations=("drop_key_facts", "contradict_fact"))
    pairs = PAIR_STRATEGIES["degraded_summary"](ctx)
    assert [p["id"] for p in pairs] == ["s0"]
    counts = pairs_module.pair_counts(ctx, pairs, "degraded_summary")
    assert (counts["training_items"], counts["pairs"], counts["dropped"]) == (4, 1, 3)
    assert sum(counts["by"].values()) == 1
    dropped = counts["dropped_items"][0]
    assert dropped["where"] == "row 3 (id 's1')"
    assert sorted(r.split(":")[0] for r in dropped["reasons"]) == [
        "contradict_fact", "drop_key_facts"]
    pairs_module.check_enough_pairs(counts, 0.25, "notes", "notes.csv")
    with pytest.raises(DataError, match=r"notes.csv\): 1 of 4 training items .*min_share "
                       r"\(0.5\).*row 3 \(id 's1'\)"):
        pairs_module.check_enough_pairs(counts, 0.5, "notes", "notes.csv")

    same = short_summaries(3, same_reference=3)
    ctx = context(model_and_tokenizer, "hospital_course_summary", items=same,
                  degradations=("other_reference",))
    assert PAIR_STRATEGIES["degraded_summary"](ctx) == []
    assert [d["reasons"] for d in ctx.dropped] == [
        ["other_reference: no other reference grades below this one"]] * 3
