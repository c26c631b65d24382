import pytest

from sftdpo.tasks import TASKS
from tiny_model import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random Llama whose tokenizer was trained on triage messages and their labels."""
    corpus = [item["text"] for item in TASKS["provider_triage"].build_items(200, 0)]
    corpus += [label for task in TASKS.values() for label in task.labels] * 20
    corpus += [task.instruction for task in TASKS.values()] * 5
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), corpus)
