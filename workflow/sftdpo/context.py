"""Items that must fit the model's context: one rule for every stage.

An item fits when its rendered prompt plus the task's answer budget (``max_new_tokens``) fits
in ``min(context_length, the model's max_position_embeddings)`` tokens. Training, pair
building and generation all apply this same rule, so an item is cut the same way in each.
A task's ``too_long`` setting says what happens to an item that does not fit: ``fail`` stops
the job with the item named (its file and row); ``truncate`` cuts the end of the item's text
and counts it. The ``context`` rule applies it to every split of a task for every model as
soon as the data exists (the tokenizer is all it needs), so ``fail`` fires before any model
job runs.
"""

from __future__ import annotations

from .inference import render_prompt
from .io import read_jsonl
from .model_files import trusts_remote_code
from .tasks import answer_tokens
from .tasks.base import Task
from .userdata import DataError, item_where
from .userspec import source_name

TRUNCATION_MARK = " [...]"


def context_limit(model_dir, context_length: int) -> int:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir, trust_remote_code=trusts_remote_code(model_dir))
    return min(context_length, getattr(config, "max_position_embeddings", context_length))


def _prompt_tokens(task: Task, tokenizer, item: dict) -> int:
    return len(tokenizer(render_prompt(tokenizer, task.prompt_messages(item)),
                         add_special_tokens=False)["input_ids"])


def fit_to_context(task: Task, items: list[dict], tokenizer, limit: int, answer_tokens: int,
                   policy: str, source: str,
                   data_source: str | None = None) -> tuple[list[dict], int]:
    """``items`` (of the split file ``source``) with every text cut to fit (policy
    ``truncate``), and how many were cut; or DataError naming the first item that does not
    fit (policy ``fail``), with its row of the user's file ``data_source`` where it has one."""
    budget = limit - answer_tokens
    fitted, n_truncated = [], 0
    for row, item in enumerate(items, start=1):
        length = _prompt_tokens(task, tokenizer, item)
        if length <= budget:
            fitted.append(item)
            continue
        # The split file holds one item a line (JSONL): its rows are named by line, as a
        # user's JSONL file's are, and the user's own row as every message names it.
        split_where = f"{source}, line {row}"
        if data_source and "source_row" in item:
            where = f"{data_source}, {item_where(item)} ({split_where})"
        else:
            where = f"{split_where}, {item_where(item)}" + (
                " of the user's file" if "source_row" in item else "")
        if policy == "fail":
            raise DataError(
                f"{where}, field text: the prompt takes {length} tokens, and with the "
                f"{answer_tokens} tokens kept for the answer that exceeds the model's context "
                f"of {limit} tokens (min of context_length and the model's maximum). Shorten "
                f"the text, raise context_length, or set tasks.{task.name}.too_long: truncate")
        text_ids = tokenizer(item["text"], add_special_tokens=False)["input_ids"]
        overhead = length - len(text_ids) + len(tokenizer(TRUNCATION_MARK,
                                                          add_special_tokens=False)["input_ids"])
        keep = budget - overhead
        if keep < 1:
            raise DataError(f"{where}: the prompt without its text already takes {overhead} "
                            f"tokens of the {budget} available; raise context_length")
        # Decoding a cut can re-tokenise a little longer: shorten until the prompt fits.
        while True:
            cut = {**item, "text": tokenizer.decode(text_ids[:keep]) + TRUNCATION_MARK}
            if _prompt_tokens(task, tokenizer, cut) <= budget or keep <= 1:
                break
            keep -= 1
        fitted.append(cut)
        n_truncated += 1
    if n_truncated:
        print(f"WARNING: {source}: {n_truncated} of {len(items)} items were longer than the "
              f"context ({limit} tokens with {answer_tokens} kept for the answer) and were "
              "truncated (too_long: truncate)")
    return fitted, n_truncated


def read_fitted(task: Task, task_spec: dict, path, model_dir, tokenizer,
                context_length: int) -> list[dict]:
    """The items of the split file ``path``, fitted to the context of the model in
    ``model_dir`` by the task's ``too_long`` policy."""
    data_source = source_name(task_spec["data"]) if "data" in task_spec else None
    items, _ = fit_to_context(task, read_jsonl(path), tokenizer,
                              context_limit(model_dir, context_length),
                              answer_tokens(task, task_spec), task_spec["too_long"], str(path),
                              data_source)
    return items
