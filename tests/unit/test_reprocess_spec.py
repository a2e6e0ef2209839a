"""bootstrap/reprocess.py: the spec version the deployed processor renders with is read from its
own environment, and a processor whose settings cannot be read starts no run."""

from __future__ import annotations

import pytest

from bootstrap.reprocess import ProcessorMisconfigured, current_spec_version
from handlers.config import Settings


class DeployedFunction:
    def __init__(self, variables: dict[str, str]):
        self.variables = variables

    def get_function_configuration(self, FunctionName: str) -> dict:  # noqa: N803 (boto3's name)
        return {"FunctionName": FunctionName, "Environment": {"Variables": self.variables}}


def test_the_version_is_the_one_the_processor_reads_from_its_environment():
    assert current_spec_version(DeployedFunction({}), "p") == Settings.from_env({}).renditions.version


def test_a_processor_whose_settings_cannot_be_read_is_named_with_the_setting():
    with pytest.raises(ProcessorMisconfigured, match="p's settings cannot be read.*a typo.*deploy again"):
        current_spec_version(DeployedFunction({"MAX_DECODE_MB": "a typo"}), "p")
