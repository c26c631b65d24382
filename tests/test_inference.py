import pytest
import torch

from sftdpo.inference import (
    answer_logprobs,
    generate_answers,
    render_completion,
    render_prompt,
    shared_prefix_length,
)
from sftdpo.modeling import load_base_model, load_tokenizer
from sftdpo.tasks import BUILTIN_TASKS

SPEC = {"dtype": "float32", "quantization": "none"}
TASK = BUILTIN_TASKS["urgency_triage"]


def test_completion_is_what_the_template_adds_after_the_prompt(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    messages = TASK.prompt_messages({"text": "Chest pain since this morning."})
    assert render_prompt(tokenizer, messages).endswith("<|im_start|>assistant\n")
    assert render_completion(tokenizer, messages, "urgent") == "urgent<|im_end|>\n"


def unpadded_logprob(model, tokenizer, messages, answer) -> float:
    """The summed log-probability of ``answer`` from one forward pass over prompt and answer,
    without padding or cache."""
    prompt_ids = tokenizer(render_prompt(tokenizer, messages), add_special_tokens=False)[
        "input_ids"]
    answer_ids = tokenizer(render_completion(tokenizer, messages, answer),
                           add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt_ids + answer_ids])).logits
    logprobs = torch.log_softmax(logits[0, :-1].float(), -1)
    return sum(logprobs[len(prompt_ids) - 1 + k, token].item()
               for k, token in enumerate(answer_ids))


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_batched_answer_logprobs_match_one_unpadded_forward_per_answer(tiny_model_dir,
                                                                       batch_size, attention):
    """Prompts of different lengths in one left-padded batch, answers of different lengths
    and counts run one after another after their prompt: every score is that of the answer
    run alone after its prompt, with either attention's form of the mask."""
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_base_model(tiny_model_dir, SPEC | {"attention": attention}, "cpu")
    assert model.config._attn_implementation == attention
    texts = ["my BP is 182/110 and I have a bad HA", "ok", "a much longer message " * 8,
             "rash on my arm for two days", "fever"]
    prompts = [TASK.prompt_messages({"text": text}) for text in texts]
    answers = [["urgent", "non-urgent", "a much longer answer than the others"],
               ["non-urgent", "urgent"], ["urgent", "x", "non-urgent", "call 911 now please"],
               ["urgent", "non-urgent"], ["non-urgent", "a longer answer", "urgent"]]
    batched, ran = answer_logprobs(model, tokenizer, prompts, answers, batch_size)
    assert ran.scored > 0 and ran.generated == 0
    assert [len(values) for values in batched] == [len(a) for a in answers]
    for messages, candidates, values in zip(prompts, answers, batched, strict=True):
        expected = [unpadded_logprob(model, tokenizer, messages, a) for a in candidates]
        assert values == pytest.approx(expected, abs=1e-4)
        assert values.index(max(values)) == expected.index(max(expected))


def test_generation_answers_every_prompt_in_order(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_base_model(tiny_model_dir, SPEC, "cpu")
    texts = ["a much longer message " * 5, "a", "a medium message", "b"]
    prompts = [TASK.prompt_messages({"text": text}) for text in texts]
    answers, ran = generate_answers(model, tokenizer, prompts, max_new_tokens=3, batch_size=2)
    assert 0 < ran.generated <= 12 and ran.prompt > 0 and ran.scored == 0
    alone = [generate_answers(model, tokenizer, [prompt], max_new_tokens=3, batch_size=1)[0][0]
             for prompt in prompts]
    assert answers == alone  # left padding in a batch does not change an answer


def test_generation_runs_prompts_by_length_and_answers_in_the_given_order(tiny_model_dir):
    """A stand-in for ``generate`` answers each row with a token numbered by the row's
    length: the batches hold prompts of neighbouring lengths, and each answer comes back at
    its prompt's place."""
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_base_model(tiny_model_dir, SPEC, "cpu")
    batch_lengths = []

    def answer_with_length(input_ids, attention_mask, **kwargs):
        lengths = attention_mask.sum(-1)
        batch_lengths.append(lengths.tolist())
        return torch.cat([input_ids, lengths[:, None]], dim=1)

    model.generate = answer_with_length
    texts = ["a much longer message " * 5, "a", "a medium message", "b b b"]
    prompts = [TASK.prompt_messages({"text": text}) for text in texts]
    answers, _ = generate_answers(model, tokenizer, prompts, max_new_tokens=1, batch_size=2)
    lengths = [len(tokenizer(render_prompt(tokenizer, p), add_special_tokens=False)["input_ids"])
               for p in prompts]
    assert len(set(lengths)) == 4
    assert answers == [tokenizer.decode([n], skip_special_tokens=True).strip() for n in lengths]
    assert batch_lengths == [sorted(lengths)[:2], sorted(lengths)[2:]]


def test_the_shared_start_leaves_every_prompt_a_token_of_its_own():
    assert shared_prefix_length([[1, 2, 3], [1, 2, 4, 5]]) == 2
    assert shared_prefix_length([[1, 2], [1, 2, 5]]) == 1
    assert shared_prefix_length([[7, 2], [1, 2]]) == 0
    assert shared_prefix_length([[1, 2, 3]]) == 2
