"""Preference pairs (prompt, chosen, rejected) for DPO, built on the training split.

Every pair records the strategy that made it. ``hardest_wrong_label``: chosen is the gold
label; rejected is the wrong label that the SFT model itself finds most likely, so DPO pushes
exactly against the SFT model's strongest confusion for that prompt.
"""

from __future__ import annotations

from .inference import answer_logprobs
from .tasks.base import LabelTask


def hardest_wrong_label_pairs(model, tokenizer, task: LabelTask, items: list[dict]) -> list[dict]:
    pairs = []
    answers = [task.completion(label) for label in task.labels]
    for item in items:
        messages = task.prompt_messages(item["text"])
        logprobs = dict(zip(task.labels, answer_logprobs(model, tokenizer, messages, answers),
                            strict=True))
        gold = task.gold(item)
        rejected = max((label for label in task.labels if label != gold), key=logprobs.get)
        pairs.append(
            {
                "id": item["id"],
                "strategy": "hardest_wrong_label",
                "prompt": messages,
                "chosen": task.completion(gold),
                "rejected": task.completion(rejected),
                "chosen_logprob": logprobs[gold],
                "rejected_logprob": logprobs[rejected],
                "sft_prefers_rejected": logprobs[rejected] > logprobs[gold],
            }
        )
    return pairs


# The config's pairs.strategy names one of these.
PAIR_STRATEGIES = {"hardest_wrong_label": hardest_wrong_label_pairs}
