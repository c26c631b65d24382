"""Running a model on prompts: greedy answers, and log-probabilities of given answers.

Both render chat messages with the model's own chat template, exactly as TRL does when it
trains on conversational data, so the model sees the same text at training and at test time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch


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


@dataclass
class TokenTally:
    """Non-padding tokens this process ran through models: prompts, generated tokens, and
    scored answer tokens. A job's compute record reads them here because the pair strategies
    and the judge call these functions several layers down."""

    prompt: int = 0
    generated: int = 0
    scored: int = 0

    @property
    def processed(self) -> int:
        return self.prompt + self.generated + self.scored


TALLY = TokenTally()


def batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@torch.inference_mode()
def generate_answers(
    model, tokenizer, prompts: list[list[dict]], max_new_tokens: int, batch_size: int
) -> tuple[list[str], int]:
    """Greedy answers for each prompt, and how many tokens were generated in all."""
    model.eval()
    tokenizer.padding_side = "left"
    answers: list[str] = []
    generated_tokens = 0
    for batch in batches(prompts, batch_size):
        texts = [render_prompt(tokenizer, messages) for messages in batch]
        encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        encoded = encoded.to(model.device)
        TALLY.prompt += int(encoded["attention_mask"].sum())
        output = model.generate(
            **encoded,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        batch_generated = int((new_tokens != tokenizer.pad_token_id).sum())
        generated_tokens += batch_generated
        TALLY.generated += batch_generated
        answers.extend(tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
    return [answer.strip() for answer in answers], generated_tokens


@torch.inference_mode()
def answer_logprobs(
    model,
    tokenizer,
    prompts: Sequence[list[dict]],
    answers: Sequence[Sequence[str]],
    batch_size: int,
) -> list[list[float]]:
    """Summed log-probability of each candidate answer (end-of-turn included) after its prompt:
    ``answers[i]`` are prompt ``i``'s candidates, any number of them.

    ``batch_size`` prompts run at once, once each; a prompt's key/value cache is repeated for
    its candidates, which then cost only their own few tokens.
    """
    if len(prompts) != len(answers):
        raise ValueError(f"{len(prompts)} prompts but {len(answers)} lists of answers")
    model.eval()
    totals: list[list[float]] = []
    for batch in batches(list(zip(prompts, answers, strict=True)), batch_size):
        totals += _batch_logprobs(model, tokenizer, batch)
    return totals


def _batch_logprobs(model, tokenizer, batch: Sequence[tuple[list[dict], Sequence[str]]]):
    device = model.device
    encoded = tokenizer([render_prompt(tokenizer, messages) for messages, _ in batch],
                        return_tensors="pt", padding=True, padding_side="left",
                        add_special_tokens=False).to(device)
    prompt_mask = encoded["attention_mask"]
    prompt_lengths = prompt_mask.sum(-1)
    answer_ids = [
        tokenizer(render_completion(tokenizer, messages, a), add_special_tokens=False)["input_ids"]
        for messages, candidates in batch for a in candidates
    ]
    TALLY.prompt += int(prompt_lengths.sum())
    TALLY.scored += sum(len(ids) for ids in answer_ids)
    # HF Llama numbers positions from the cache, not the mask: without these, left padding
    # would put a prompt's tokens at other positions than an unpadded run does.
    # Only the last prompt position's logits are needed: the vocabulary projection of every
    # other position would cost about a fifth of the pass for a model of SmolLM2's shape.
    prompt = model(**encoded, position_ids=(prompt_mask.cumsum(-1) - 1).clamp(min=0),
                   use_cache=True, logits_to_keep=1)
    # The prompt of each answer row: candidate counts may differ between items (options).
    counts = torch.tensor([len(candidates) for _, candidates in batch], device=device)
    rows = torch.repeat_interleave(torch.arange(len(batch), device=device), counts)
    first_token_logprobs = torch.log_softmax(prompt.logits[:, -1].float(), dim=-1)[rows]
    cache = prompt.past_key_values
    cache.batch_select_indices(rows)
    # Answers are right-padded: padding comes after every real token, so it changes none of them.
    width = max(len(ids) for ids in answer_ids)
    ids = torch.full((len(answer_ids), width), tokenizer.pad_token_id, device=device)
    for row, answer in enumerate(answer_ids):
        ids[row, : len(answer)] = torch.tensor(answer)
    real = torch.arange(width, device=device) < torch.tensor(
        [len(answer) for answer in answer_ids], device=device)[:, None]
    rest = model(
        input_ids=ids,
        past_key_values=cache,
        attention_mask=torch.cat([prompt_mask[rows], torch.ones_like(ids)], dim=1),
        position_ids=prompt_lengths[rows, None] + torch.arange(width, device=device),
    )
    later_logprobs = torch.log_softmax(rest.logits[:, :-1].float(), dim=-1).gather(
        -1, ids[:, 1:, None])[..., 0].masked_fill(~real[:, 1:], 0.0)
    totals = (first_token_logprobs.gather(-1, ids[:, :1])[:, 0] + later_logprobs.sum(-1)).tolist()
    by_prompt = iter(totals)
    return [[next(by_prompt) for _ in candidates] for _, candidates in batch]
