"""The config schema's lists and the Python registries they name are the same lists.

The schema (workflow/schemas/config.schema.yaml) checks a config before any Python runs, so it
spells out families, pair strategies, degradations and data fields; the Python registries are
what runs. (Built-in task names are not in the schema: sftdpo.config checks them against the
registry.) Each enum here must hold the same names as its registry, so
a name added to one and not the other fails here instead of in a run.
"""

from pathlib import Path

import pytest
import yaml

from sftdpo.config import STRATEGY_KINDS
from sftdpo.pairs import DEGRADATIONS, PAIR_STRATEGIES
from sftdpo.tasks import FAMILIES
from sftdpo.userfiles import FORMATS
from sftdpo.userspec import FIELDS

SCHEMA = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml").read_text())
TASK = SCHEMA["$defs"]["task"]["properties"]
USER_DATA = SCHEMA["$defs"]["user_data"]["properties"]
PAIRS = TASK["pairs"]["properties"]


@pytest.mark.parametrize(("schema_list", "registry"), [
    pytest.param(TASK["family"]["enum"], FAMILIES, id="families"),
    pytest.param([s for s in PAIRS["strategy"]["enum"] if s is not None], PAIR_STRATEGIES,
                 id="pair strategies"),
    pytest.param([s for s in PAIRS["strategy"]["enum"] if s is not None], STRATEGY_KINDS,
                 id="pair strategies' task kinds"),
    pytest.param(PAIRS["degradations"]["items"]["enum"], DEGRADATIONS, id="degradations"),
    pytest.param(PAIRS["degradations"]["default"], DEGRADATIONS, id="default degradations"),
    pytest.param(USER_DATA["columns"]["properties"], FIELDS, id="data columns"),
    pytest.param(USER_DATA["format"]["enum"], FORMATS, id="data formats"),
])
def test_schema_list_equals_registry(schema_list, registry):
    # The same names; the order may differ (the schema lists data columns text first).
    assert sorted(schema_list) == sorted(registry)
