"""Running a model on prompts: greedy answers, and log-probabilities of given answers.

Both render chat messages with the model's own chat template, exactly as TRL does when it
trains on conversational data, so the model sees the same text at training and at test time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from .prefix_packing import four_d_mask


def render_prompt(tokenizer, messages: list[dict]) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def render_completion(tokenizer, messages: list[dict], answer: str) -> str:
    """The text the chat template puts after the prompt for an assistant ``answer``."""
    prompt = render_prompt(tokenizer, messages)
    full = tokenizer.apply_chat_template(
        [*messages, {"role": "assistant", "content": answer}], tokenize=False
    )
    if not full.startswith(prompt):
        raise ValueError("the chat template does not render the prompt as a prefix of the answer")
    return full[len(prompt) :]


@dataclass(frozen=True)
class TokenTally:
    """Non-padding tokens a call ran through a model: prompt tokens, generated tokens and
    scored answer tokens. :func:`generate_answers` and :func:`answer_logprobs` return theirs;
    callers add them up (``a + b``) and hand the sum to the job's compute record
    (:func:`sftdpo.flops.inference_flops`)."""

    prompt: int = 0
    generated: int = 0
    scored: int = 0

    @property
    def processed(self) -> int:
        return self.prompt + self.generated + self.scored

    def __add__(self, other: TokenTally) -> TokenTally:
        if not isinstance(other, TokenTally):
            return NotImplemented
        return TokenTally(self.prompt + other.prompt, self.generated + other.generated,
                          self.scored + other.scored)


def batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def batches_by_length(lengths: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    """Indices of items in batches of ``size``, shortest first: a batch pads less."""
    return batches(sorted(range(len(lengths)), key=lengths.__getitem__), size)


@torch.inference_mode()
def generate_answers(
    model, tokenizer, prompts: list[list[dict]], max_new_tokens: int, batch_size: int
) -> tuple[list[str], TokenTally]:
    """Greedy answers for each prompt, and the tokens this call ran: the prompts' (padding
    left out) and the generated ones.

    Prompts run in order of length, ``batch_size`` at a time, so a batch pads its prompts to
    a similar length (32 summaries of 191-441 tokens: 25.9 s in the given order, 22.1 s by
    length); the answers come back in the given order."""
    model.eval()
    prompt_ids = tokenizer([render_prompt(tokenizer, messages) for messages in prompts],
                           add_special_tokens=False)["input_ids"]
    answer_of: dict[int, str] = {}
    prompt_tokens = generated_tokens = 0
    for batch in batches_by_length([len(ids) for ids in prompt_ids], batch_size):
        ids, mask = _left_padded([prompt_ids[i] for i in batch], tokenizer.pad_token_id,
                                 model.device)
        prompt_tokens += int(mask.sum())
        output = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
        new_tokens = output[:, ids.shape[1] :]
        generated_tokens += int((new_tokens != tokenizer.pad_token_id).sum())
        answer_of.update(zip(batch, tokenizer.batch_decode(new_tokens, skip_special_tokens=True),
                             strict=True))
    return ([answer_of[i].strip() for i in range(len(prompts))],
            TokenTally(prompt=prompt_tokens, generated=generated_tokens))


@torch.inference_mode()
def answer_logprobs(
    model,
    tokenizer,
    prompts: Sequence[list[dict]],
    answers: Sequence[Sequence[str]],
    batch_size: int,
) -> tuple[list[list[float]], TokenTally]:
    """Summed log-probability of each candidate answer (end-of-turn included) after its prompt:
    ``answers[i]`` are prompt ``i``'s candidates, any number of them; and the tokens this call
    ran (prompt tokens, the shared start of a batch once; scored answer tokens).

    ``batch_size`` prompts run at once, once each, in order of length (less padding); the
    tokens every prompt of a batch starts with (the system turn of a task's prompts) run
    once for the batch; a prompt's key/value cache is repeated for its candidates, which then
    cost only their own few tokens.
    """
    if len(prompts) != len(answers):
        raise ValueError(f"{len(prompts)} prompts but {len(answers)} lists of answers")
    model.eval()
    prompt_ids = [tokenizer(render_prompt(tokenizer, messages), add_special_tokens=False)
                  ["input_ids"] for messages in prompts]
    totals: dict[int, list[float]] = {}
    tally = TokenTally()
    for batch in batches_by_length([len(ids) for ids in prompt_ids], batch_size):
        scored, ran = _batch_logprobs(
            model, tokenizer, [prompt_ids[i] for i in batch],
            [[render_completion(tokenizer, prompts[i], a) for a in answers[i]] for i in batch])
        totals.update(zip(batch, scored, strict=True))
        tally += ran
    return [totals[i] for i in range(len(prompts))], tally


def shared_prefix_length(token_lists: Sequence[Sequence[int]]) -> int:
    """How many leading tokens every list shares, leaving each at least one token of its own
    (the prompt's last position gives the first answer token's log-probability)."""
    limit = min(len(tokens) for tokens in token_lists) - 1
    shared = 0
    while shared < limit and len({tokens[shared] for tokens in token_lists}) == 1:
        shared += 1
    return shared


def _left_padded(token_lists: Sequence[Sequence[int]], pad_id: int, device):
    """Token ids left-padded to the longest list, and the mask of the real tokens."""
    width = max(len(tokens) for tokens in token_lists)
    ids = torch.full((len(token_lists), width), pad_id, device=device)
    mask = torch.zeros((len(token_lists), width), dtype=torch.long, device=device)
    for row, tokens in enumerate(token_lists):
        if tokens:
            ids[row, width - len(tokens):] = torch.tensor(tokens)
            mask[row, width - len(tokens):] = 1
    return ids, mask


def _batch_logprobs(model, tokenizer, prompt_ids: Sequence[Sequence[int]],
                    completions: Sequence[Sequence[str]]
                    ) -> tuple[list[list[float]], TokenTally]:
    device = model.device
    shared = shared_prefix_length(prompt_ids)
    # The shared start runs once and its cache is repeated for every prompt of the batch.
    cache = None
    if shared:
        cache = model(input_ids=torch.tensor([prompt_ids[0][:shared]], device=device),
                      use_cache=True, logits_to_keep=1).past_key_values
        cache.batch_repeat_interleave(len(prompt_ids))
    ids, rest_mask = _left_padded([tokens[shared:] for tokens in prompt_ids],
                                  tokenizer.pad_token_id, device)
    prompt_mask = torch.cat([torch.ones((len(prompt_ids), shared), dtype=torch.long,
                                        device=device), rest_mask], dim=1)
    prompt_lengths = prompt_mask.sum(-1)
    per_prompt = [[tokenizer(completion, add_special_tokens=False)["input_ids"]
                   for completion in candidates] for candidates in completions]
    tally = TokenTally(prompt=shared + int(rest_mask.sum()),
                       scored=sum(len(tokens) for answers in per_prompt for tokens in answers))
    # HF Llama numbers positions from the cache, not the mask: without these, left padding
    # (here between the shared start and each prompt's own tokens) would put a prompt's tokens
    # at other positions than an unpadded run does.
    # Only the last prompt position's logits are needed: the vocabulary projection of every
    # other position would cost about a fifth of the pass for a model of SmolLM2's shape.
    prompt = model(input_ids=ids, attention_mask=prompt_mask, past_key_values=cache,
                   position_ids=shared + (rest_mask.cumsum(-1) - 1).clamp(min=0),
                   use_cache=True, logits_to_keep=1)
    first_token_logprobs = torch.log_softmax(prompt.logits[:, -1].float(), dim=-1)
    # A prompt's answers run in one row after it, one after another, each at the positions it
    # has after the prompt and attending to the prompt and to itself only (a 4D mask over
    # the cache and the row): the prompt's cache is not copied once per answer, which cost
    # more than the answers themselves where an item has many (clinical reasoning's
    # free-response synonyms).
    width = max(sum(len(tokens) for tokens in answers) for answers in per_prompt)
    ids = torch.full((len(per_prompt), width), tokenizer.pad_token_id, device=device)
    answer_of = torch.full((len(per_prompt), width), -1, device=device)  # -1: padding
    offset = torch.zeros((len(per_prompt), width), dtype=torch.long, device=device)
    for row, answers in enumerate(per_prompt):
        column = 0
        for index, tokens in enumerate(answers):
            span = slice(column, column + len(tokens))
            ids[row, span] = torch.tensor(tokens)
            answer_of[row, span] = index
            offset[row, span] = torch.arange(len(tokens))
            column += len(tokens)
    own = ((answer_of[:, :, None] == answer_of[:, None, :]) & (answer_of[:, None, :] >= 0)
           & (offset[:, None, :] <= offset[:, :, None]))
    own |= torch.eye(width, dtype=torch.bool, device=device)  # padding sees itself
    seen = torch.cat([prompt_mask.bool()[:, None, :].expand(-1, width, -1), own], dim=2)
    rest = model(input_ids=ids, past_key_values=prompt.past_key_values,
                 attention_mask=four_d_mask(seen[:, None], model.config._attn_implementation),
                 position_ids=prompt_lengths[:, None] + offset)
    # Each answer's first token from the prompt's last position, every other token from the
    # position before it in the same answer; summed per answer.
    next_logprobs = torch.log_softmax(rest.logits[:, :-1].float(), dim=-1).gather(
        -1, ids[:, 1:, None])[..., 0]
    inside = (answer_of[:, 1:] == answer_of[:, :-1]) & (answer_of[:, 1:] >= 0)
    sums = torch.zeros((len(per_prompt), max(len(a) for a in per_prompt)), device=device)
    sums.scatter_add_(1, answer_of[:, 1:].clamp(min=0), next_logprobs.masked_fill(~inside, 0.0))
    return [[first_token_logprobs[row, tokens[0]].item() + sums[row, index].item()
             for index, tokens in enumerate(answers)]
            for row, answers in enumerate(per_prompt)], tally
