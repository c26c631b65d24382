"""Items longer than the model's context: fail with the item named, or truncate and count."""

import pytest

from sftdpo.context import TRUNCATION_MARK, context_limit, fit_to_context
from sftdpo.inference import render_prompt
from sftdpo.modeling import load_tokenizer
from sftdpo.tasks import BUILTIN_TASKS
from sftdpo.userdata import DataError

TASK = BUILTIN_TASKS["provider_triage"]
ITEMS = [
    {"id": "short", "text": "Need a refill of my lisinopril please."},
    {"id": "long", "text": "My chest hurts when I climb stairs. " * 80, "source_row": 7},
]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return load_tokenizer(tiny_model_dir)


def prompt_length(tokenizer, item):
    return len(tokenizer(render_prompt(tokenizer, TASK.prompt_messages(item)),
                         add_special_tokens=False)["input_ids"])


def test_items_that_fit_pass_unchanged(tokenizer):
    fitted, cut = fit_to_context(TASK, ITEMS[:1], tokenizer, 512, 8, "fail", "train.jsonl")
    assert fitted == ITEMS[:1] and cut == 0


def test_fail_names_the_file_row_field_and_the_fix(tokenizer):
    with pytest.raises(DataError) as raised:
        fit_to_context(TASK, ITEMS, tokenizer, 256, 8, "fail", "results/data/t/train.jsonl")
    message = str(raised.value)
    assert "results/data/t/train.jsonl, line 2, row 7 (id 'long') of the user's file" in message
    assert "field text" in message and "too_long: truncate" in message
    with pytest.raises(DataError, match=r"^notes.csv, row 7 \(id 'long'\) \(results/data/t/"
                       r"train.jsonl, line 2\), field text"):
        fit_to_context(TASK, ITEMS, tokenizer, 256, 8, "fail", "results/data/t/train.jsonl",
                       "notes.csv")
    # A CSV row is named as every message names it: its data row and its line.
    from_csv = {**ITEMS[1], "id": "row-7", "source_where": "data row 7 (line 8)"}
    with pytest.raises(DataError, match=r"^notes.csv, data row 7 \(line 8\) \(results/data/t/"
                       r"train.jsonl, line 2\), field text"):
        fit_to_context(TASK, [ITEMS[0], from_csv], tokenizer, 256, 8, "fail",
                       "results/data/t/train.jsonl", "notes.csv")
    with pytest.raises(DataError, match=r"^results/data/t/train.jsonl, line 1, item 'long', "
                       r"field text"):
        fit_to_context(TASK, [{k: v for k, v in ITEMS[1].items() if k != "source_row"}],
                       tokenizer, 256, 8, "fail", "results/data/t/train.jsonl")


def test_truncate_cuts_to_fit_and_counts(tokenizer, capsys):
    fitted, cut = fit_to_context(TASK, ITEMS, tokenizer, 256, 8, "truncate", "train.jsonl")
    assert cut == 1 and fitted[0] == ITEMS[0]
    assert fitted[1]["text"].endswith(TRUNCATION_MARK)
    assert prompt_length(tokenizer, fitted[1]) <= 256 - 8
    assert prompt_length(tokenizer, fitted[1]) > 256 - 8 - 20  # cut no more than needed
    assert "1 of 2 items were longer than the context" in capsys.readouterr().out


def test_limit_is_the_smaller_of_context_length_and_the_model(tiny_model_dir):
    assert context_limit(tiny_model_dir, 512) == 512
    assert context_limit(tiny_model_dir, 4096) == 1024  # the tiny model's positions
