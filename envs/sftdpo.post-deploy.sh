#!/bin/sh
# Run by `snakemake --use-conda` in the environment of sftdpo.yaml, once, after creating it:
# the workflow's own package, editable as `make install` has it, so jobs import the checkout's
# code (sftdpo.yaml pins its dependencies). Snakemake runs a copy of this file from its conda
# folder, in its working directory: the checkout, unless --directory names another folder.
set -eu
if ! grep -q '^name = "sftdpo"' pyproject.toml 2>/dev/null; then
    echo "envs/sftdpo.post-deploy.sh: $(pwd) is not the sftdpo checkout; run snakemake" \
         "--use-conda from the checkout (without --directory)" >&2
    exit 1
fi
python -m pip install --no-deps --no-build-isolation -e .
