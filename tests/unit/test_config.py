"""Settings from the environment: each setting declared once (handlers.config.SETTINGS), read the
same way by the functions and passed through by deploy."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from handlers.config import GIB, SETTINGS, Settings
from handlers.formats import MIB, Limits, RenditionSpec
from handlers.quotas import Quota

ROOT = Path(__file__).resolve().parents[2]


def test_an_empty_environment_gives_the_declared_defaults():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.region == "us-east-1"
    assert settings.endpoint_url is None and settings.public_s3_endpoint is None and settings.fault_injection is None
    assert settings.allowed_origins == ("*",)
    assert (settings.upload_expiry_seconds, settings.rendition_url_seconds) == (300, 900)
    assert (settings.pending_ttl_seconds, settings.stuck_after_seconds) == (24 * 3600, 15 * 60)
    assert settings.limits == Limits(max_pixels=120_000_000, max_bytes=25 * MIB, max_decode_bytes=1024 * MIB)
    assert settings.renditions == RenditionSpec()
    assert settings.quota == Quota(uploads_per_day=200, bytes=2 * GIB)


def test_each_variable_reaches_its_attribute():
    settings = Settings.from_env(
        {
            "UPLOAD_BUCKET": "up",
            "PROCESSED_BUCKET": "done",
            "TABLE_NAME": "images",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "ap-south-1",  # AWS_REGION wins
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
            "PUBLIC_S3_ENDPOINT": "http://localhost:4566",
            "ALLOWED_ORIGINS": " https://a.example , ,https://b.example",
            "UPLOAD_EXPIRY_SECONDS": "60",
            "RENDITION_URL_SECONDS": "120",
            "PENDING_TTL_SECONDS": "7",
            "STUCK_AFTER_SECONDS": "8",
            "FAULT_INJECTION": "rendition_put_once",
            "USER_POOL_ID": "pool",
            "USER_POOL_CLIENT_ID": "client",
            "AWS_LAMBDA_FUNCTION_NAME": "imagepipe-processor",
            "QUOTA_UPLOADS_PER_DAY": "0",
            "QUOTA_BYTES": "1000",
            "MAX_PIXELS": "1000000",
            "MAX_UPLOAD_BYTES": "2048",
            "MAX_DECODE_MB": "64",
            "RENDITION_SIZES": "small=640,large=1920",
            "AVIF_QUALITY": "50",
            "AVIF_SPEED": "0",
            "JPEG_QUALITY": "95",
            "WEBP_QUALITY": "70",
        }
    )
    assert settings == Settings(
        upload_bucket="up",
        processed_bucket="done",
        table_name="images",
        region="eu-west-1",
        endpoint_url="http://127.0.0.1:4566",
        public_s3_endpoint="http://localhost:4566",
        allowed_origins=("https://a.example", "https://b.example"),
        upload_expiry_seconds=60,
        rendition_url_seconds=120,
        pending_ttl_seconds=7,
        stuck_after_seconds=8,
        fault_injection="rendition_put_once",
        user_pool_id="pool",
        user_pool_client_id="client",
        function_name="imagepipe-processor",
        quota=Quota(uploads_per_day=0, bytes=1000),
        limits=Limits(max_pixels=1_000_000, max_bytes=2048, max_decode_bytes=64 * MIB),
        renditions=RenditionSpec(
            sizes=(("large", 1920), ("small", 640)), avif_quality=50, avif_speed=0, jpeg_quality=95, webp_quality=70
        ),
    )


def test_the_region_falls_back_to_aws_default_region():
    assert Settings.from_env({"AWS_DEFAULT_REGION": "ap-south-1"}).region == "ap-south-1"
    assert Settings.from_env({"AWS_REGION": "", "AWS_DEFAULT_REGION": "ap-south-1"}).region == "ap-south-1"


def test_an_empty_variable_is_an_unset_one():
    every_variable_empty = {setting.variable: "" for setting in SETTINGS}
    assert Settings.from_env(every_variable_empty) == Settings()
    assert Settings.from_env({"ALLOWED_ORIGINS": " , "}).allowed_origins == ("*",)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("UPLOAD_EXPIRY_SECONDS", "901"),  # a presigned POST lives at most 15 minutes
        ("UPLOAD_EXPIRY_SECONDS", "0"),
        ("RENDITION_URL_SECONDS", str(7 * 24 * 3600 + 1)),  # SigV4's longest
        ("PENDING_TTL_SECONDS", "0"),
        ("STUCK_AFTER_SECONDS", "0"),
        ("QUOTA_UPLOADS_PER_DAY", "-1"),
        ("QUOTA_BYTES", "-1"),
        ("MAX_PIXELS", "0"),
        ("MAX_UPLOAD_BYTES", "0"),
        ("MAX_DECODE_MB", "0"),
        ("AVIF_QUALITY", "101"),
        ("AVIF_SPEED", "11"),
        ("JPEG_QUALITY", "96"),
        ("WEBP_QUALITY", "0"),
    ],
)
def test_a_number_out_of_its_bounds_is_refused_by_name(variable, value):
    with pytest.raises(ValueError, match=f"{variable}={value} is outside"):
        Settings.from_env({variable: value})


def test_numbers_at_their_bounds_are_taken():
    settings = Settings.from_env(
        {"UPLOAD_EXPIRY_SECONDS": "900", "AVIF_SPEED": "10", "JPEG_QUALITY": "1", "QUOTA_BYTES": "0"}
    )
    assert (settings.upload_expiry_seconds, settings.renditions.avif_speed) == (900, 10)
    assert (settings.renditions.jpeg_quality, settings.quota.bytes) == (1, 0)


def test_text_that_is_not_a_setting_is_refused():
    with pytest.raises(ValueError):
        Settings.from_env({"MAX_PIXELS": "many"})
    with pytest.raises(ValueError, match="RENDITION_SIZES"):
        Settings.from_env({"RENDITION_SIZES": "huge=99999"})


def imported_at_load(module: str, seen: set[str] | None = None) -> set[str]:
    """Every module `module` imports as it loads: its top-level imports, and theirs within this
    repository (an import inside a function is made when it is called, and is not counted)."""
    seen = set() if seen is None else seen
    if module in seen:
        return seen
    seen.add(module)
    base = ROOT / module.replace(".", "/")
    path = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
    for node in ast.parse(path.read_text()).body if path.exists() else []:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        else:
            continue
        for name in names:
            if name.split(".")[0] in ("handlers", "bootstrap"):
                imported_at_load(name, seen)
            else:
                seen.add(name)
    return seen


def test_importing_the_settings_loads_neither_boto3_nor_powertools():
    """Bootstrap and the docs' test read the declarations; the API reads them before its clients."""
    loaded = {name.split(".")[0] for name in imported_at_load("handlers.config")}
    assert "handlers" in loaded and "dataclasses" in loaded
    assert loaded.isdisjoint({"boto3", "botocore", "aws_lambda_powertools", "PIL", "pillow_heif"})


def a_value_of(setting) -> str:
    """Text that `setting` takes, other than its default."""
    if setting.bounds:
        return str(setting.bounds[0] + 1)
    return {"RENDITION_SIZES": "small=640", "ALLOWED_ORIGINS": "https://a.example"}.get(setting.variable, "x")


def test_every_field_of_settings_is_declared_once():
    declared = [setting.attribute.partition(".")[0] for setting in SETTINGS]
    assert set(declared) == {field.name for field in dataclasses.fields(Settings)}
    assert len({setting.attribute for setting in SETTINGS}) == len(SETTINGS)
    assert len({setting.variable for setting in SETTINGS}) == len(SETTINGS)
    assert all(setting.meaning.strip() for setting in SETTINGS)


def test_deploy_passes_the_settings_chosen_at_deploy_and_takes_no_other_from_its_environment(monkeypatch, tmp_path):
    """A setting chosen at deploy reaches both functions as it was written; the ones deploy or Lambda
    sets (the buckets, the table, the pool) are never taken from the deploying environment."""
    from bootstrap.__main__ import config_for

    monkeypatch.setenv("IMAGEPIPE_STATE_DIR", str(tmp_path))
    for setting in SETTINGS:
        monkeypatch.setenv(setting.variable, a_value_of(setting))
    cfg = config_for("embedded")
    chosen = {setting.variable: a_value_of(setting) for setting in SETTINGS if setting.chosen_at_deploy}
    assert cfg.function_env == chosen
    assert cfg.settings.limits.max_pixels == 2 and cfg.settings.renditions.sizes == (("small", 640),)
    assert cfg.site_origins == ("https://a.example",)  # deploy's own ALLOWED_ORIGINS, read as the functions do
