import pytest

from sftdpo.tasks import BUILTIN_TASKS
from tiny_model import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random Llama whose tokenizer was trained on the built-in tasks' items and answers."""
    corpus = []
    for task in BUILTIN_TASKS.values():
        items = task.build_items(60, 0)
        corpus += [item["text"] for item in items]
        corpus += [task.completion(item) for item in items] * 3
        corpus += [task.instruction] * 5
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), corpus)
