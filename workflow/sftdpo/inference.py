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
    model, tokenizer, messages: list[dict], answers: Sequence[str]
) -> list[float]:
    """Summed log-probability of each candidate ``answer`` (end-of-turn included) after a prompt.

    The prompt runs once; its key/value cache is repeated for the answers, which then cost only
    their own few tokens.
    """
    model.eval()
    prompt_ids = tokenizer(render_prompt(tokenizer, messages), add_special_tokens=False)[
        "input_ids"
    ]
    answer_ids = [
        tokenizer(render_completion(tokenizer, messages, a), add_special_tokens=False)["input_ids"]
        for a in answers
    ]
    TALLY.prompt += len(prompt_ids)
    TALLY.scored += sum(len(ids) for ids in answer_ids)
    # Only the last prompt position's logits are needed: the vocabulary projection of every
    # other position would cost about a fifth of the pass for a model of SmolLM2's shape.
    prompt = model(input_ids=torch.tensor([prompt_ids], device=model.device), use_cache=True,
                   logits_to_keep=1)
    first_token_logprobs = torch.log_softmax(prompt.logits[0, -1].float(), dim=-1)
    cache = prompt.past_key_values
    cache.batch_repeat_interleave(len(answers))
    # Answers are right-padded: padding comes after every real token, so it changes none of them.
    width = max(len(ids) for ids in answer_ids)
    batch = torch.full((len(answers), width), tokenizer.pad_token_id, device=model.device)
    for row, ids in enumerate(answer_ids):
        batch[row, : len(ids)] = torch.tensor(ids)
    rest = model(
        input_ids=batch,
        past_key_values=cache,
        attention_mask=torch.ones((len(answers), len(prompt_ids) + width), device=model.device,
                                  dtype=torch.long),
        position_ids=torch.arange(len(prompt_ids), len(prompt_ids) + width,
                                  device=model.device).expand(len(answers), -1),
    )
    later_logprobs = torch.log_softmax(rest.logits[:, :-1].float(), dim=-1)
    totals = []
    for row, ids in enumerate(answer_ids):
        total = first_token_logprobs[ids[0]]
        for position, token in enumerate(ids[1:]):
            total = total + later_logprobs[row, position, token]
        totals.append(float(total))
    return totals
