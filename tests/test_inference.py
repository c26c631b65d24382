import pytest
import torch

from sftdpo.inference import answer_logprobs, generate_answers, render_completion, render_prompt
from sftdpo.modeling import load_base_model, load_tokenizer
from sftdpo.tasks import BUILTIN_TASKS

SPEC = {"dtype": "float32", "quantization": "none"}
TASK = BUILTIN_TASKS["urgency_triage"]


def test_completion_is_what_the_template_adds_after_the_prompt(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    messages = TASK.prompt_messages({"text": "Chest pain since this morning."})
    assert render_prompt(tokenizer, messages).endswith("<|im_start|>assistant\n")
    assert render_completion(tokenizer, messages, "urgent") == "urgent<|im_end|>\n"


def test_answer_logprobs_match_one_unpadded_forward_per_answer(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_base_model(tiny_model_dir, SPEC, "cpu")
    messages = TASK.prompt_messages({"text": "my BP is 182/110 and I have a bad HA"})
    answers = ["urgent", "non-urgent", "a much longer answer than the others"]
    batched = answer_logprobs(model, tokenizer, messages, answers)
    prompt_ids = tokenizer(render_prompt(tokenizer, messages), add_special_tokens=False)[
        "input_ids"]
    for answer, value in zip(answers, batched, strict=True):
        answer_ids = tokenizer(render_completion(tokenizer, messages, answer),
                               add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt_ids + answer_ids])
        with torch.no_grad():
            logprobs = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
        expected = sum(logprobs[len(prompt_ids) - 1 + k, token].item()
                       for k, token in enumerate(answer_ids))
        assert value == pytest.approx(expected, abs=1e-4)


def test_generation_answers_every_prompt_in_order(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_base_model(tiny_model_dir, SPEC, "cpu")
    texts = ["a", "a much longer message " * 5, "b"]
    prompts = [TASK.prompt_messages({"text": text}) for text in texts]
    answers, generated = generate_answers(model, tokenizer, prompts, max_new_tokens=3,
                                          batch_size=2)
    assert len(answers) == 3 and all(isinstance(a, str) for a in answers)
    assert 0 < generated <= 9
    alone, _ = generate_answers(model, tokenizer, prompts[1:2], max_new_tokens=3, batch_size=1)
    assert alone[0] == answers[1]  # left padding in a batch does not change the answer


