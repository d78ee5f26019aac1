"""The BinderHub stand-in's values and schemas are the real ones, regenerated from ../shared/schemas."""
import json

import jsonschema
import pytest
import yaml

from coursehub_local.charts import build_schemas


@pytest.mark.skipif(not build_schemas.SCHEMAS_DIR.is_dir(), reason="../shared/schemas is not beside this checkout")
def test_generated_values_and_schemas_are_up_to_date():
    stale = build_schemas.stale()
    assert not stale, f"run python -m coursehub_local.charts.build_schemas; stale: {stale}"


def test_descriptions_are_dropped_but_a_property_named_description_is_kept():
    schema = {"description": "doc", "properties": {"description": {"type": "string", "description": "doc"}}}
    assert build_schemas.strip_descriptions(schema) == {"properties": {"description": {"type": "string"}}}


def test_the_real_defaults_validate_against_the_generated_schemas():
    bh_schema = json.loads((build_schemas.BINDERHUB / "values.schema.json").read_text())
    jh_schema = json.loads((build_schemas.JUPYTERHUB / "values.schema.json").read_text())
    bh_values = yaml.safe_load((build_schemas.BINDERHUB / "values.yaml").read_text())
    jh_values = yaml.safe_load((build_schemas.JUPYTERHUB / "values.yaml").read_text())
    jsonschema.validate(bh_values, bh_schema)
    jsonschema.validate(jh_values, jh_schema)


def test_values_files_carry_their_provenance():
    text = (build_schemas.BINDERHUB / "values.yaml").read_text()
    assert "b9fad995" in text and "BSD-3-Clause" in text
    text = (build_schemas.JUPYTERHUB / "values.yaml").read_text()
    assert "48ea50e3" in text and "BSD-3-Clause" in text
