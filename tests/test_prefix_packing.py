"""Rows' shared start run once (sftdpo.prefix_packing) gives what running it in every row gives:
a DPO pair's prompt, and the system turn of an SFT batch."""

import pytest
import torch

from sftdpo.flops import training_flops
from sftdpo.prefix_packing import (
    PrefixSharing,
    cheapest_groups,
    decoder_backbone,
    pack_rows,
    pair_groups,
    share_prefixes,
)
from sftdpo.tasks import BUILTIN_TASKS
from sftdpo.training import build_dpo_trainer, build_sft_trainer
from test_training import SETTINGS, SPEC, sft_adapter  # noqa: F401  (the module's fixture)

TASK = BUILTIN_TASKS["provider_triage"]
PAD = 0


def _pair_batch():
    """Three pairs, right-padded as TRL's collator pads them: [first rows; second rows].
    Pair 0: answers of different lengths; pair 1: the first answer a prefix of the second;
    pair 2: identical rows."""
    firsts = [[5, 6, 7, 8, 9, 10, 11], [5, 6, 7, 30], [12, 13, 14]]
    seconds = [[5, 6, 7, 8, 20], [5, 6, 7, 30, 31, 32], [12, 13, 14]]
    rows = firsts + seconds
    width = max(map(len, rows))
    ids = torch.tensor([r + [PAD] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    return ids, mask


def _tiny_backbone(attention: str):
    from transformers import LlamaConfig, LlamaModel

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=40, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=64, pad_token_id=PAD)
    config._attn_implementation = attention
    return LlamaModel(config).eval()


def assert_packing_changes_no_hidden_state(ids, mask, attention, groups, ran):
    """The rows packed by ``groups`` give the unpacked rows' hidden states at every real token,
    and the backbone ran ``ran`` real tokens."""
    backbone = _tiny_backbone(attention)
    with torch.no_grad():
        expected = backbone(input_ids=ids, attention_mask=mask).last_hidden_state
        share_prefixes(backbone, lambda *args: groups)
        packed = backbone(input_ids=ids, attention_mask=mask).last_hidden_state
    real = mask.bool()
    assert packed.shape == expected.shape
    torch.testing.assert_close(packed[real], expected[real], atol=1e-5, rtol=1e-5)
    assert backbone.forward.forward_only_tokens == ran


# Each pair in a group of its own: pair 0's second row after its first, and so on.
PAIRS = [[0, 3], [1, 4], [2, 5]]


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize(("groups", "ran"), [
    # Each pair its prompt once: 7+5-4, 4+6-4, 3+3-3 real tokens instead of 28.
    (PAIRS, 8 + 6 + 3),
    # All pairs in one sequence, a tree: pair 1's first row after the 3 tokens it shares with
    # pair 0's, its second after the 4 it shares with its first (3 of them pair 0's), pair 2
    # whole: 7 + 1 + 1 + 2 + 3 + 0.
    ([[0, 3, 1, 4, 2, 5]], 14),
])
def test_packed_hidden_states_equal_the_unpacked_ones_at_every_real_token(attention, groups,
                                                                          ran):
    assert_packing_changes_no_hidden_state(*_pair_batch(), attention, groups, ran)


def test_dpo_pairs_are_grouped_by_the_cost_model():
    ids, mask = _pair_batch()
    lengths = mask.sum(1).tolist()
    assert pair_groups(ids, lengths, lambda tokens, pairs: tokens) == [[0, 3, 1, 4, 2, 5]]
    # Where attention dominates, a pair a sequence: its prompt still runs once.
    assert pair_groups(ids, lengths, lambda tokens, pairs: pairs) == PAIRS
    assert pair_groups(ids[:5], lengths[:5], lambda tokens, pairs: tokens) is None  # odd rows


def _rows_sharing_a_start():
    """Four right-padded rows that start with the same 6 tokens (a system turn), then differ;
    the last is the first row's start alone plus one token."""
    start = [5, 6, 7, 8, 9, 10]
    rows = [start + [11, 12, 13], start + [20, 21], start + [11, 30, 31, 32, 33], start + [3]]
    width = max(map(len, rows))
    ids = torch.tensor([r + [PAD] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    return ids, mask


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize(("groups", "ran"), [
    # Rows of 9, 8, 11 and 7 tokens; row 2 shares 7 with row 0, the others 6 with any row.
    ([[0, 1, 2, 3]], 9 + 2 + 4 + 1),
    ([[0, 1], [2, 3]], 9 + 2 + 11 + 1),
    ([[2, 0, 3], [1]], 11 + 2 + 1 + 8),
])
def test_rows_packed_after_their_shared_start_give_the_unpacked_hidden_states(attention, groups,
                                                                              ran):
    assert_packing_changes_no_hidden_state(*_rows_sharing_a_start(), attention, groups, ran)


def test_the_cost_model_packs_a_long_shared_start_and_leaves_rows_that_share_nothing():
    ids, mask = _rows_sharing_a_start()
    lengths = mask.sum(1).tolist()
    cheap_attention = PrefixSharing(_tiny_backbone("sdpa"), cheapest_groups).cost
    assert cheapest_groups(ids, lengths, cheap_attention) == [[0, 1, 2, 3]]
    # Rows of one length that share no start gain nothing by packing: they run as they are.
    apart = torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert cheapest_groups(apart, [3, 3, 3], cheap_attention) is None
    # Where attention dominates the cost, eight rows of ten that share two tokens run apart:
    # packed, a sequence attends over more pairs than the rows do.
    long_rows = torch.tensor([[1, 2] + [10 * r + j for j in range(3, 11)] for r in range(8)])
    assert cheapest_groups(long_rows, [10] * 8, lambda tokens, pairs: tokens + 100 * pairs) \
        is None
    assert cheapest_groups(long_rows, [10] * 8, lambda tokens, pairs: tokens) == [
        list(range(8))]


def test_packing_shares_exactly_the_common_prefix():
    ids, mask = _pair_batch()
    packed = pack_rows(ids, mask, PAIRS, "sdpa")
    # Pair 0: 7 tokens of the first row, then the second row's rest after its 4 shared ones.
    assert packed.input_ids[0, :8].tolist() == [5, 6, 7, 8, 9, 10, 11, 20]
    assert packed.position_ids[0, :8].tolist() == [0, 1, 2, 3, 4, 5, 6, 4]
    allowed = packed.attention_mask[0, 0]
    # The second answer's token sees the prefix and itself, never the first answer's rest.
    assert allowed[7, :8].tolist() == [True] * 4 + [False] * 3 + [True]


def test_a_batch_it_cannot_pack_goes_through_unchanged():
    ids, mask = _pair_batch()
    assert pack_rows(ids, mask.flip(1), PAIRS, "sdpa") is None  # left padding
    assert pack_rows(ids, mask, PAIRS, "flash_attention_2") is None


def _pairs(n, seed):
    items = TASK.build_items(n, seed)
    return [{"prompt": TASK.prompt_messages(i), "chosen": TASK.gold(i),
             "rejected": next(x for x in TASK.labels if x != TASK.gold(i))} for i in items]


def _loss_and_gradients(trainer, rows: int):
    """One training step's loss and the trainable parameters' gradients, on the first
    ``rows`` rows of the trainer's dataset as one batch (and that batch)."""
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(rows)])
    trainer.model.train()
    loss = trainer.compute_loss(trainer.model, dict(batch))
    loss.backward()
    grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    return loss.item(), grads, batch


@pytest.mark.parametrize("precompute", [False, True])
def test_dpo_loss_and_gradients_are_those_of_the_unpacked_batch(tiny_model_dir, sft_adapter,  # noqa: F811
                                                               tmp_path, precompute):
    pairs = _pairs(6, 3)
    losses, grads = {}, {}
    for share in (False, True):
        dpo = {**SETTINGS["dpo"], "share_prompt": share, "precompute_reference": precompute,
               "precompute_batch_size": 4}
        trainer, sharing = build_dpo_trainer(tiny_model_dir, SPEC, sft_adapter, pairs,
                                             {**SETTINGS, "dpo": dpo}, seed=0, device="cpu",
                                             out_dir=tmp_path / f"dpo{share}")
        losses[share], grads[share], _ = _loss_and_gradients(trainer, len(pairs))
        # The builder returns the sharing it installed on the model the trainer runs.
        assert isinstance(sharing, PrefixSharing) is share
        assert (decoder_backbone(trainer.model).forward is sharing) is share
    assert losses[True] == pytest.approx(losses[False], abs=1e-5)
    # Trained from the SFT adapter against itself, the first loss is ln 2 exactly either way;
    # the gradients carry the difference.
    assert any(grad.abs().max() > 1e-4 for grad in grads[False].values())
    for name, grad in grads[False].items():
        torch.testing.assert_close(grads[True][name], grad, atol=1e-5, rtol=1e-4)


def test_the_compute_record_counts_the_tokens_the_packed_model_ran(tiny_model_dir, sft_adapter,  # noqa: F811
                                                                  tmp_path):
    pairs = _pairs(4, 4)
    dpo = {**SETTINGS["dpo"], "share_prompt": True, "precompute_reference": True}
    trainer, sharing = build_dpo_trainer(tiny_model_dir, SPEC, sft_adapter, pairs,
                                         {**SETTINGS, "dpo": dpo}, seed=0, device="cpu",
                                         out_dir=tmp_path / "dpo")
    trainer.train()
    record = training_flops(trainer, sharing)
    prompt = sum(len(r["prompt_ids"]) for r in trainer.train_dataset)
    answers = sum(len(r["chosen_ids"]) + len(r["rejected_ids"]) for r in trainer.train_dataset)
    # Every prompt once per pass (plus any answer prefix the two answers share).
    assert record["tokens"] == sharing.trained_tokens <= prompt + answers
    assert record["reference_tokens"] == sharing.forward_only_tokens <= prompt + answers
    assert record["input_tokens"] == 2 * prompt + answers
    # The LM head on the answer positions: 6 N_h each in training (TRL's fused head projects
    # again in its backward pass), 2 N_h in the reference pass.
    assert record["head_positions"] == record["reference_head_positions"] == answers
    assert record["flops"] == pytest.approx(
        record["tokens"] * record["flops_per_token"]
        + record["reference_tokens"] * 2 * (record["block_parameters"]
                                            + record["trainable_parameters"])
        + answers * (6 + 2) * record["head_parameters"])


def test_sft_loss_and_gradients_with_the_system_turn_run_once_are_the_unpacked_ones(
        tiny_model_dir, tmp_path):
    items = TASK.build_items(6, 5)
    losses, grads = {}, {}
    for share in (False, True):
        sft = {**SETTINGS["sft"], "share_prompt": share, "batch_size": 6}
        trainer, sharing = build_sft_trainer(tiny_model_dir, SPEC, TASK, items, items[:2],
                                             {**SETTINGS, "sft": sft}, seed=0, device="cpu",
                                             out_dir=tmp_path / f"sft{share}")
        assert isinstance(sharing, PrefixSharing) is share
        assert (decoder_backbone(trainer.model).forward is sharing) is share
        losses[share], grads[share], batch = _loss_and_gradients(trainer, len(items))
    # The six rows ran packed, their shared system turn fewer times than six.
    assert sharing.trained_tokens < int(batch["attention_mask"].sum())
    assert losses[True] == pytest.approx(losses[False], abs=1e-5)
    for name, grad in grads[False].items():
        torch.testing.assert_close(grads[True][name], grad, atol=1e-5, rtol=1e-4)


def test_the_record_counts_what_the_sharing_it_is_handed_ran(tiny_model_dir, tmp_path):
    """The compute record is handed the prefix sharing by the code that installed it; it does
    not recognise the patch on the backbone: with the forward wrapped again (as a profiler or
    another patch might), the packed sequences' tokens are still the ones counted."""
    items = TASK.build_items(6, 5)
    sft = {**SETTINGS["sft"], "share_prompt": True, "batch_size": 6}
    trainer, sharing = build_sft_trainer(tiny_model_dir, SPEC, TASK, items, items[:2],
                                         {**SETTINGS, "sft": sft}, seed=0, device="cpu",
                                         out_dir=tmp_path / "sft")
    backbone = decoder_backbone(trainer.model)
    backbone.forward = lambda *args, **kwargs: sharing(*args, **kwargs)
    trainer.train()
    record = training_flops(trainer, sharing)
    # The six rows ran packed: fewer tokens than the trainer fed the model.
    assert 0 < record["tokens"] == sharing.trained_tokens < record["input_tokens"]
    assert record["input_tokens"] == trainer.state.num_input_tokens_seen
    assert record["evaluation_tokens"] == sharing.forward_only_tokens > 0
