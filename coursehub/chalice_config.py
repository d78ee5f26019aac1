"""A stage of ``.chalice/config.json`` as Chalice reads it: what packaging and the local stack both build from."""
from __future__ import annotations

import json
from pathlib import Path


def chalice_stage_config(project_dir: Path, stage: str) -> dict:
    """Environment, memory, timeout and per-function settings of a stage, merged as Chalice merges them."""
    config = json.loads((project_dir / ".chalice" / "config.json").read_text())
    stage_config = config["stages"][stage]
    functions: dict[str, dict] = {}
    for source in (config.get("lambda_functions", {}), stage_config.get("lambda_functions", {})):
        for name, values in source.items():
            functions.setdefault(name, {}).update(values)
    return {
        "app_name": config["app_name"],
        "environment": {**config.get("environment_variables", {}), **stage_config.get("environment_variables", {})},
        "lambda_timeout": stage_config.get("lambda_timeout", config.get("lambda_timeout", 60)),
        "lambda_memory_size": stage_config.get("lambda_memory_size", config.get("lambda_memory_size", 128)),
        "functions": functions,
    }
