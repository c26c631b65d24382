"""Rows of a training batch that start alike, run with their shared start once.

In a causal model the hidden states of a prefix do not depend on what follows, so rows that
start with the same tokens can share them. Two uses, both switched by ``share_prompt``:

- DPO: TRL runs a batch of B pairs as 2B rows, ``[prompt + chosen; prompt + rejected]``, so
  rows i and B + i share the pair's whole prompt (answers of 1-3 tokens after ~150), and the
  pairs of a batch share the task's system turn.
- SFT: every row of a batch starts with the task's system turn, about half of a triage or
  radiology prompt.

A group of rows becomes one packed sequence: its first row whole, then each other row's rest
after the longest prefix it shares with an earlier row of the group (its parent):

    packed:    first row        | row 2's rest    | row 3's rest ...
    positions: 0..n1-1          | p2..n2-1        | p3..n3-1
    attends:   causal           | its parent's tokens before p2 (and what the parent sees
                                  there), and its own rest, causally

so a DPO group ``[chosen 1, rejected 1, chosen 2, rejected 2 ...]`` holds the system turn once
and each pair's prompt once: a tree of shared prefixes. How rows are grouped is a choice
(:func:`cheapest_groups`): one long sequence holds the most once, but its attention grows with
its length squared.

and is unpacked into the rows the trainer expects: the shared prefix's hidden states are
copied into every row, so their gradients add up as they do when each row runs it. Loss and
gradients are those of the unpacked batch up to rounding (``tests/test_prefix_packing.py``).

:func:`share_prefixes` installs this on one model object's decoder backbone, the module TRL's
fused LM head calls (``trl/trainer/utils.py``, ``add_fused_lm_head``: it runs
``self.base_model(...)`` and reads ``last_hidden_state``; TRL 1.16, transformers 5.24, whose
``create_causal_mask`` passes a 4D mask through unchanged). A call it cannot pack (left
padding, embeddings instead of ids, position ids or a cache given, an attention implementation
without 4D masks) goes through unchanged. It returns the installed :class:`PrefixSharing`,
whose counts of the tokens that ran the code that installed it hands to the compute record
(:func:`sftdpo.flops.training_flops`): nothing detects the patch afterwards.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch

# Attention implementations that take an arbitrary 4D mask.
MASKABLE = ("sdpa", "eager")


def four_d_mask(allowed: torch.Tensor, attention: str) -> torch.Tensor:
    """A (B, 1, queries, keys) mask of which keys each query sees, in the form ``attention``
    takes: bool for sdpa, additive float for eager (transformers passes either through)."""
    if attention not in MASKABLE:
        raise ValueError(f"attention {attention!r} takes no 4D mask; allowed: "
                         f"{', '.join(MASKABLE)}")
    if attention == "eager":
        return torch.zeros(allowed.shape, device=allowed.device).masked_fill(
            ~allowed, torch.finfo(torch.float32).min)
    return allowed


@dataclass
class PackedRows:
    input_ids: torch.Tensor  # (G, Lp): one packed sequence per group
    attention_mask: torch.Tensor  # (G, 1, Lp, Lp): bool for sdpa, additive float for eager
    position_ids: torch.Tensor  # (G, Lp)
    gather_index: torch.Tensor  # (B, L): each unpacked position's index in the flat packing
    real_tokens: int  # non-padding tokens of the packed sequences


def right_padded_lengths(attention_mask: torch.Tensor) -> torch.Tensor | None:
    """Each row's length when every row is real tokens then padding; None otherwise."""
    lengths = attention_mask.sum(dim=1)
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    if not torch.equal(attention_mask.bool(), positions < lengths[:, None]):
        return None
    return lengths


def common_prefix(a: list[int], b: list[int]) -> int:
    shared = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        shared += 1
    return shared


def longest_shared(row: list[int], earlier: list[list[int]]) -> tuple[int, int]:
    """The earlier row ``row`` shares the longest start with (the first of equals), and how
    many tokens."""
    shares = [common_prefix(row, other) for other in earlier]
    parent = max(range(len(earlier)), key=shares.__getitem__)
    return parent, shares[parent]


def ancestor_limits(parents: list[int | None], branches: list[int]) -> list[list[int]]:
    """``limits[s][t]``: the positions of segment t that segment s sees are those below it;
    its own segment all (a large number), an ancestor's those below the lowest branch point
    between them, any other segment none (0)."""
    everything = 1 << 30
    limits = [[0] * len(parents) for _ in parents]
    for segment in range(len(parents)):
        limits[segment][segment] = everything
        current, limit = segment, everything
        while parents[current] is not None:
            limit = min(limit, branches[current])
            current = parents[current]
            limits[segment][current] = limit
    return limits


def pack_rows(input_ids: torch.Tensor, attention_mask: torch.Tensor,
              groups: list[list[int]], attention: str) -> PackedRows | None:
    """The rows of a right-padded (B, L) batch packed group by group (module docstring); each
    row in exactly one group. None where the batch is not right-padded or the attention
    implementation takes no 4D mask."""
    if attention not in MASKABLE:
        return None
    lengths = right_padded_lengths(attention_mask)
    if lengths is None:
        return None
    device, width = input_ids.device, input_ids.shape[1]
    rows, lengths = input_ids.tolist(), lengths.tolist()
    local = [[0] * width for _ in rows]  # slot in its group's sequence, per unpacked position
    packed = []  # per group: tokens, positions, segments, and each segment's parent and branch
    for group in groups:
        first = group[0]
        tokens, positions = rows[first][:lengths[first]], list(range(lengths[first]))
        segments, parents, branches = [0] * lengths[first], [None], [lengths[first]]
        local[first][:lengths[first]] = positions
        for segment, row in enumerate(group[1:], start=1):
            length = lengths[row]
            parent, shared = longest_shared(rows[row][:length], [rows[r][:lengths[r]]
                                                                 for r in group[:segment]])
            start = len(tokens)
            tokens += rows[row][shared:length]
            positions += range(shared, length)
            segments += [segment] * (length - shared)
            parents.append(parent)
            branches.append(shared)
            local[row][:length] = (local[group[parent]][:shared]
                                   + list(range(start, start + length - shared)))
        packed.append((tokens, positions, segments, ancestor_limits(parents, branches)))
    packed_width = max(len(tokens) for tokens, *_ in packed)

    def padded(values, fill):
        return torch.tensor([v + [fill] * (packed_width - len(v)) for v in values], device=device)

    ids = padded([p[0] for p in packed], rows[0][0])
    positions = padded([p[1] for p in packed], 0)
    segments = padded([p[2] for p in packed], -1)  # -1: padding
    most = max(len(p[3]) for p in packed)
    limits = torch.zeros((len(packed), most, most), dtype=torch.long, device=device)
    for g, p in enumerate(packed):
        limits[g, :len(p[3]), :len(p[3])] = torch.tensor(p[3], device=device)
    # A query sees keys at earlier positions of its own segment and of its ancestors' below
    # the limit; padding sees itself only, so no row of the mask is empty.
    seg_q, seg_k = segments.clamp(min=0)[:, :, None], segments.clamp(min=0)[:, None, :]
    pos_q, pos_k = positions[:, :, None], positions[:, None, :]
    real = (segments[:, :, None] >= 0) & (segments[:, None, :] >= 0)
    limit = limits[torch.arange(len(packed), device=device)[:, None, None], seg_q, seg_k]
    allowed = real & (pos_k <= pos_q) & (pos_k < limit)
    allowed |= torch.eye(packed_width, dtype=torch.bool, device=device)
    mask = four_d_mask(allowed[:, None], attention)
    # Where each unpacked position is read from in the flat (G * Lp) packing; padding reads
    # slot 0 of its group (never scored: its label is -100).
    group_of = {row: g for g, group in enumerate(groups) for row in group}
    gather = torch.tensor([[group_of[r] * packed_width + slot for slot in local[r]]
                           for r in range(len(rows))], device=device)
    return PackedRows(ids, mask, positions, gather, sum(len(p[0]) for p in packed))


def packed_length(rows: list[list[int]], lengths: list[int], group: list[int]) -> int:
    """Tokens of ``group`` packed as :func:`pack_rows` packs it."""
    heads = [rows[r][:lengths[r]] for r in group]
    return lengths[group[0]] + sum(len(head) - longest_shared(head, heads[:k])[1]
                                   for k, head in enumerate(heads[1:], start=1))


def cheapest_groups(input_ids: torch.Tensor, lengths: list[int],
                    cost: Callable[[int, int], float],
                    units: list[list[int]] | None = None) -> list[list[int]] | None:
    """SFT's batch: consecutive rows (or ``units``, rows kept together in their order) in 1,
    2, 4 ... groups, or one unit a group, whichever the cost model finds cheapest: one long
    sequence holds the most once, but its attention grows with its length squared. None
    where no grouping beats the rows run apart."""
    rows, count = input_ids.tolist(), len(lengths)
    units = units or [[row] for row in range(count)]
    # Unpacked, every row runs padded to the longest.
    best, best_cost = None, cost(count * max(lengths), count * max(lengths) ** 2)
    splits = sorted({2 ** k for k in range(len(units).bit_length())} | {len(units)})
    for size in sorted({math.ceil(len(units) / split) for split in splits}, reverse=True):
        groups = [[row for unit in units[start:start + size] for row in unit]
                  for start in range(0, len(units), size)]
        packed = [packed_length(rows, lengths, group) for group in groups]
        # The packed sequences, padded to the longest of them.
        candidate = cost(len(groups) * max(packed), len(groups) * max(packed) ** 2)
        if candidate < best_cost:
            best, best_cost = groups, candidate
    return best


def pair_groups(input_ids: torch.Tensor, lengths: list[int],
                cost: Callable[[int, int], float]) -> list[list[int]] | None:
    """DPO's batch of B pairs as 2B rows, ``[chosen; rejected]``: the pairs (rows i and B + i)
    in groups by :func:`cheapest_groups`; each pair's rejected row after its chosen one."""
    rows = input_ids.shape[0]
    if rows % 2 or rows == 0:
        return None
    return cheapest_groups(input_ids, lengths, cost,
                           units=[[i, rows // 2 + i] for i in range(rows // 2)])


class PrefixSharing:
    """The backbone's forward, packing each call's rows by ``grouping`` (module docstring):
    ``grouping(input_ids, lengths, cost)`` returns the groups of rows to pack, or None to run
    the call as it is. Counts the tokens the backbone really ran, with and without gradient
    (training steps; reference or validation passes)."""

    def __init__(self, backbone, grouping):
        self.backbone_forward = backbone.forward
        self.attention = backbone.config._attn_implementation
        self.grouping = grouping
        # What a token and an attended (query, key) pair cost in one block, in multiply-adds:
        # a token its weights; a pair a query-key product and a weighted value (2 x hidden),
        # weighed 4x for the masking and softmax around them, which run at memory speed: so
        # weighed, packing SmolLM2's SFT batches won on triage (27.3 -> 21.0 s an epoch) and
        # stayed off on ~500-token summaries, where weighed 1x it cost 13% (76.7 -> 86.6 s).
        block_weights = sum(p.numel() for p in backbone.layers[0].parameters())
        hidden = backbone.config.hidden_size
        self.cost = lambda tokens, pairs: tokens * block_weights + pairs * 8 * hidden
        self.trained_tokens = 0
        self.forward_only_tokens = 0

    def _count(self, tokens: int) -> None:
        if torch.is_grad_enabled():
            self.trained_tokens += tokens
        else:
            self.forward_only_tokens += tokens

    def __call__(self, input_ids=None, attention_mask=None, **kwargs):
        untouched = any(kwargs.get(k) is not None
                        for k in ("position_ids", "inputs_embeds", "past_key_values"))
        packed = None
        if not untouched and input_ids is not None and attention_mask is not None \
                and attention_mask.dim() == 2:
            lengths = right_padded_lengths(attention_mask)
            groups = None if lengths is None else self.grouping(input_ids, lengths.tolist(),
                                                                self.cost)
            if groups is not None:
                packed = pack_rows(input_ids, attention_mask, groups, self.attention)
        if packed is None:
            self._count(int(attention_mask.sum()) if attention_mask is not None
                        else input_ids.numel())
            return self.backbone_forward(input_ids=input_ids, attention_mask=attention_mask,
                                         **kwargs)
        self._count(packed.real_tokens)
        kwargs = {k: v for k, v in kwargs.items() if k not in ("position_ids", "inputs_embeds")}
        outputs = self.backbone_forward(input_ids=packed.input_ids,
                                        attention_mask=packed.attention_mask,
                                        position_ids=packed.position_ids, **kwargs)
        hidden = outputs.last_hidden_state
        flat = hidden.reshape(-1, hidden.shape[-1])
        outputs.last_hidden_state = flat[packed.gather_index]
        return outputs


def decoder_backbone(model):
    """The module TRL's fused LM head runs: the causal LM's ``base_model`` (under PEFT, the
    wrapped model's)."""
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    return causal_lm.base_model


def share_prefixes(model, grouping=cheapest_groups) -> PrefixSharing | None:
    """Install the packing on ``model``'s backbone (this object only), grouping each call's
    rows by ``grouping`` (:func:`pair_groups` for DPO, :func:`cheapest_groups` for SFT); None,
    with a warning, where its attention implementation takes no 4D mask (rows then run
    unpacked). Keep what it returns: its token counts are the compute record's."""
    backbone = decoder_backbone(model)
    if backbone.config._attn_implementation not in MASKABLE:
        warnings.warn(f"attention {backbone.config._attn_implementation!r} takes no 4D mask: "
                      "every row runs its prompt itself (share_prompt has no effect)",
                      RuntimeWarning, stacklevel=2)
        return None
    sharing = PrefixSharing(backbone, grouping)
    backbone.forward = sharing
    return sharing
