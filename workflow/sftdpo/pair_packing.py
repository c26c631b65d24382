"""DPO's two answers of a pair in one sequence that holds their shared prompt once.

TRL's DPOTrainer runs a batch of B pairs as 2B rows, ``[prompt + chosen; prompt + rejected]``,
so every prompt goes through the model twice (policy, and reference where it is not
precomputed), for answers of a few tokens. In a causal model the hidden states of a shared
prefix do not depend on what follows, so both rows can be computed from one packed row:

    packed:    prefix | chosen's rest | rejected's rest
    positions: 0..p-1 | p..           | p..
    attends:   causal | prefix + its own rest, causally (never the other answer's tokens)

and unpacked into the 2B rows TRL expects: the prefix's hidden states are copied into both
(so their gradients add up, as they do when the prompt runs twice). The loss and gradients are
those of the unpacked batch up to rounding (``tests/test_pair_packing.py``); a pair of answers
of 1-3 tokens after a prompt of ~150 costs about half.

:func:`share_pair_prefixes` installs this on one model object's decoder backbone, the module
TRL's fused LM head calls (``trl/trainer/utils.py``, ``add_fused_lm_head``: it runs
``self.base_model(...)`` and reads ``last_hidden_state``; TRL 1.16, transformers 5.24, whose
``create_causal_mask`` passes a 4D mask through unchanged). A call it cannot pack (an odd
batch, left padding, embeddings instead of ids, an attention implementation without 4D masks)
goes through unchanged.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

# Attention implementations that take an arbitrary 4D mask.
MASKABLE = ("sdpa", "eager")


@dataclass
class PackedPairs:
    input_ids: torch.Tensor  # (B, Lp)
    attention_mask: torch.Tensor  # (B, 1, Lp, Lp): bool for sdpa, additive float for eager
    position_ids: torch.Tensor  # (B, Lp)
    gather_index: torch.Tensor  # (2B, L): each unpacked position's index in the flat packing
    real_tokens: int  # non-padding tokens of the packed rows


def right_padded_lengths(attention_mask: torch.Tensor) -> torch.Tensor | None:
    """Each row's length when every row is real tokens then padding; None otherwise."""
    lengths = attention_mask.sum(dim=1)
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    if not torch.equal(attention_mask.bool(), positions < lengths[:, None]):
        return None
    return lengths


def pack_pairs(input_ids: torch.Tensor, attention_mask: torch.Tensor,
               attention: str) -> PackedPairs | None:
    """Rows i and B + i of a right-padded (2B, L) batch as one packed row each; None where the
    batch is not of that form."""
    rows, width = input_ids.shape
    if rows % 2 or rows == 0 or attention not in MASKABLE:
        return None
    lengths = right_padded_lengths(attention_mask)
    if lengths is None:
        return None
    pairs, device = rows // 2, input_ids.device
    first, second = input_ids[:pairs], input_ids[pairs:]
    first_len, second_len = lengths[:pairs], lengths[pairs:]
    columns = torch.arange(width, device=device)
    # The shared prefix: up to the first position where the rows differ or either ends.
    same = (first == second) & (columns < first_len[:, None]) & (columns < second_len[:, None])
    prefix = same.long().cumprod(dim=1).sum(dim=1)
    packed_len = first_len + second_len - prefix
    packed_width = int(packed_len.max())
    slots = torch.arange(packed_width, device=device)[None, :]
    # 0: the first row (prefix included), 1: the second row's rest, 2: padding.
    segment = torch.where(slots < first_len[:, None], 0,
                          torch.where(slots < packed_len[:, None], 1, 2))
    in_first, in_second = segment == 0, segment == 1
    # Token at each packed slot: the first row as it is, then the second row from `prefix` on.
    second_source = (slots - first_len[:, None] + prefix[:, None]).clamp(0, width - 1)
    first_source = slots.clamp(max=width - 1).expand(pairs, -1)
    packed_ids = torch.where(in_first, first.gather(1, first_source),
                             second.gather(1, second_source))
    packed_ids = torch.where(segment == 2, input_ids[0, 0], packed_ids)
    positions = torch.where(in_second, second_source, slots.expand(pairs, -1))
    positions = torch.where(segment == 2, 0, positions)
    query, key = slots[:, :, None], slots[:, None, :]  # (1, Lp, 1), (1, 1, Lp)
    seg_q, seg_k = segment[:, :, None], segment[:, None, :]
    causal = key <= query
    allowed = ((seg_q == 0) & (seg_k == 0) & causal) \
        | ((seg_q == 1) & (key < prefix[:, None, None])) \
        | ((seg_q == 1) & (seg_k == 1) & causal) \
        | (query == key)  # padding attends to itself only, so no row of the mask is empty
    mask = allowed[:, None]
    if attention == "eager":
        mask = torch.zeros(mask.shape, device=device).masked_fill(
            ~mask, torch.finfo(torch.float32).min)
    # Where each unpacked position is read from in the flat (B * Lp) packing; padding reads
    # slot 0 of its pair (never scored: its label is -100).
    base = (torch.arange(pairs, device=device) * packed_width)[:, None]
    cols = columns[None, :]
    first_index = torch.where(cols < first_len[:, None], cols, 0)
    second_index = torch.where(cols < prefix[:, None], cols,
                               cols - prefix[:, None] + first_len[:, None])
    second_index = torch.where(cols < second_len[:, None], second_index, 0)
    gather_index = torch.cat([base + first_index, base + second_index])
    return PackedPairs(packed_ids, mask, positions, gather_index, int(packed_len.sum()))


class PairPrefixSharing:
    """The backbone's forward, packing each call's pairs (module docstring). Counts the tokens
    the backbone really ran, with and without gradient (training steps; reference passes)."""

    def __init__(self, backbone):
        self.backbone_forward = backbone.forward
        self.attention = backbone.config._attn_implementation
        self.trained_tokens = 0
        self.reference_tokens = 0

    def _count(self, tokens: int) -> None:
        if torch.is_grad_enabled():
            self.trained_tokens += tokens
        else:
            self.reference_tokens += tokens

    def __call__(self, input_ids=None, attention_mask=None, **kwargs):
        untouched = any(kwargs.get(k) is not None
                        for k in ("position_ids", "inputs_embeds", "past_key_values"))
        packed = None
        if not untouched and input_ids is not None and attention_mask is not None \
                and attention_mask.dim() == 2:
            packed = pack_pairs(input_ids, attention_mask, self.attention)
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


def share_pair_prefixes(model) -> PairPrefixSharing | None:
    """Install the packing on ``model``'s backbone (this object only); None, with a warning,
    where its attention implementation takes no 4D mask (DPO then runs unpacked)."""
    backbone = decoder_backbone(model)
    if backbone.config._attn_implementation not in MASKABLE:
        warnings.warn(f"attention {backbone.config._attn_implementation!r} takes no 4D mask: "
                      "DPO runs every prompt twice (dpo.share_prompt has no effect)",
                      RuntimeWarning, stacklevel=2)
        return None
    sharing = PairPrefixSharing(backbone)
    backbone.forward = sharing
    return sharing
