#!/usr/bin/env bash
# The GPU check, on a machine with a CUDA GPU, in under 8 minutes: the workflow's end-to-end
# test and its QLoRA tests on CUDA, then tests/gpu/check.py (8B-shaped SFT and DPO steps under
# bf16 LoRA and 4-bit QLoRA: tokens/s, MFU, peak memory; the GPU lease). Figures go to
# ${OUT:-.}/gpu_check.json and the pytest summary to ${OUT:-.}/gpu_tests.txt.
#   tests/gpu/check.sh            (after make install, or with the wheels the device carries)
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-.}"
python=".venv/bin/python"
[ -x "$python" ] || python=python3
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
# The tiny workflow end to end (its jobs see the GPU: compute.csv's device), QLoRA on CUDA, and
# where there are 2 GPUs one training job on both (DDP over NCCL) against one GPU.
"$python" -m pytest -q -x tests/test_workflow.py::test_predictions_follow_the_results_contract \
    tests/test_qlora.py tests/test_gpu_lease.py \
    tests/test_launch.py::test_two_gpus_train_the_adapter_of_one 2>&1 | tail -20 \
    | tee "$out/gpu_tests.txt"
"$python" tests/gpu/check.py --out "$out/gpu_check.json" --steps 4
