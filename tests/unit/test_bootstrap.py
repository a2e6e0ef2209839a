"""bootstrap/: least-privilege policies and reproducible, self-contained Lambda zips."""
from __future__ import annotations

import hashlib
import zipfile

from bootstrap.package import Platform, build_zip
from bootstrap.stack import StackConfig, function_policies

CFG = StackConfig(target="aws", region="eu-west-1", endpoint_url=None)


def statements(role: str):
    return function_policies(CFG, "123456789012")[role]["Statement"]


def test_policies_name_actions_and_resources_exactly():
    for role in ("api", "processor"):
        for statement in statements(role):
            actions = statement["Action"]
            resources = statement["Resource"]
            assert all("*" not in action for action in actions), (role, actions)
            assert "*" not in resources, (role, resources)
            assert all(r.startswith("arn:aws:") for r in resources)


def test_each_function_gets_only_what_it_uses():
    def actions(role):
        return {a for s in statements(role) for a in s["Action"] if not a.startswith("logs:")}

    assert actions("api") == {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:DeleteItem",
                              "s3:PutObject", "s3:DeleteObject", "s3:GetObject"}
    assert actions("processor") == {"dynamodb:UpdateItem", "dynamodb:Query", "s3:GetObject", "s3:PutObject",
                                    "sqs:SendMessage"}
    # The processor cannot write to the bucket it reads from (no event loops), nor delete anything.
    writes = [s for s in statements("processor") if "s3:PutObject" in s["Action"]]
    assert writes[0]["Resource"] == [f"arn:aws:s3:::{CFG.processed_bucket}/*"]
    # The API signs uploads only under uploads/.
    api_puts = [s for s in statements("api") if "s3:PutObject" in s["Action"]]
    assert api_puts[0]["Resource"] == [f"arn:aws:s3:::{CFG.upload_bucket}/uploads/*"]


def test_zip_is_reproducible_and_self_contained(tmp_path):
    platform = Platform("3.11", "x86_64")
    first = build_zip(platform, tmp_path / "a", log=lambda _: None)
    second = build_zip(platform, tmp_path / "b", log=lambda _: None)
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        assert "handlers/api.py" in names and "handlers/processor.py" in names
        assert any(n.startswith("PIL/") for n in names)
        assert any(n.startswith("aws_lambda_powertools/") for n in names)
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
        assert not any(n.startswith(("boto3/", "botocore/")) for n in names)  # the runtime provides boto3
        native = [n for n in names if n.endswith(".so") and "cpython" in n]
        assert native and all("cpython-311-x86_64-linux-gnu" in n for n in native)
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
