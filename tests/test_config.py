"""Configuration: the example file is valid, and every bad input gives one clear message and exit 2."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from rorsync.cli import main
from rorsync.config import ConfigError, load_settings
from tests.conftest import ROOT

EXAMPLE = ROOT / "config" / "rorsync.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rorsync.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_file_is_valid_and_documents_the_defaults(tmp_path: Path) -> None:
    settings = load_settings(EXAMPLE)
    assert settings == load_settings(write(tmp_path, ""))
    assert settings.fhir.page_size == 200
    assert settings.schedule.fhir_delta == dt.timedelta(minutes=5)
    assert settings.schedule.reconcile == "0 3 * * 0"
    assert settings.policy.cu_profiles["CU22"] == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[fhir]\nenabled = true\n", "fhir (or RORSYNC_FHIR): client_id is required when the FHIR source is enabled"),
        (
            "[fhir]\npage_size = 'many'\n",
            "fhir.page_size (or RORSYNC_FHIR__PAGE_SIZE): Input should be a valid integer",
        ),
        ("[fhir]\npage_size = 500\n", "less than or equal to 200 (got 500)"),
        (
            "[schedule]\nfhir_delta = 'often'\n",
            "schedule.fhir_delta (or RORSYNC_SCHEDULE__FHIR_DELTA): 'often' is not a duration",
        ),
        ("[schedule]\nreconcile = '61 * * * *'\n", "is not a crontab expression"),
        (
            "[fhir]\nbase_url = 'http://ror.example.org/fhir'\n",
            "uses plain http: only https is allowed outside loopback",
        ),
        ("[fhir]\nclient_secret = 'x'\n", "fhir.client_secret: secrets are not accepted in the file"),
        ("[nonsense]\nkey = 1\n", "nonsense (or RORSYNC_NONSENSE): unknown key"),
        ("[fhir\n", "not valid TOML"),
        ("[fhir.tls]\nclient_cert = '/a.pem'\n", "client_cert and client_key go together"),
    ],
)
def test_invalid_files_name_file_key_and_reason(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value).startswith(f"configuration file {path}")
    assert expected in str(caught.value)


def test_cli_prints_one_message_and_exits_2_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "[fhir]\npage_size = 500\n")
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.startswith(f"rorsync: configuration file {path}: fhir.page_size")


def test_an_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "absent.toml"), "status"])
    assert result.exit_code == 2
    assert "absent.toml: not found" in result.output


def test_unreadable_secret_file_names_the_key_and_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "secret"
    path = write(tmp_path, f"[fhir]\nenabled = true\nclient_id = 'c'\nprofile = 0\nclient_secret_file = '{missing}'\n")
    with pytest.raises(ConfigError, match=rf"fhir.client_secret_file: cannot read secret file {missing}"):
        load_settings(path)


def test_secret_from_file_is_never_shown(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-value\n")
    path = write(tmp_path, f"[fhir]\nenabled = true\nclient_id = 'c'\nprofile = 0\nclient_secret_file = '{secret}'\n")
    settings = load_settings(path)
    assert settings.fhir.client_secret is not None
    assert settings.fhir.client_secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t" not in repr(settings)
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check", "--json"])
    assert result.exit_code == 0, result.output
    assert "s3cr3t" not in result.output
    assert orjson.loads(result.output)["fhir"]["client_secret"] == "***"


def test_secret_path_may_use_the_credentials_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fhir-client-secret").write_text("abc")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    path = write(
        tmp_path,
        "[fhir]\nenabled = true\nclient_id = 'c'\nprofile = 0\n"
        "client_secret_file = '${CREDENTIALS_DIRECTORY}/fhir-client-secret'\n",
    )
    secret = load_settings(path).fhir.client_secret
    assert secret is not None and secret.get_secret_value() == "abc"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[fhir]\npage_size = 100\n[database]\nurl = 'sqlite:///from-file.sqlite'\n")
    monkeypatch.setenv("RORSYNC_FHIR__PAGE_SIZE", "50")
    monkeypatch.setenv("RORSYNC_DATABASE__URL", "sqlite:///from-env.sqlite")
    settings = load_settings(path)
    assert settings.fhir.page_size == 50
    assert settings.database_url == "sqlite:///from-env.sqlite"


def test_a_bad_environment_value_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RORSYNC_SCHEDULE__FHIR_CAPACITY", "-5m")
    with pytest.raises(ConfigError, match=r"schedule.fhir_capacity \(or RORSYNC_SCHEDULE__FHIR_CAPACITY\)"):
        load_settings(write(tmp_path, ""))


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("5m", 300), ("1h30m", 5400), ("7d", 604800), ("PT5M", 300), ("250ms", 0.25)]
)
def test_durations(tmp_path: Path, text: str, seconds: float) -> None:
    settings = load_settings(write(tmp_path, f"[schedule]\nfhir_delta = '{text}'\n"))
    assert settings.schedule.fhir_delta.total_seconds() == seconds


def test_default_database_is_sqlite_under_the_state_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    assert load_settings(write(tmp_path, "")).database_url == f"sqlite:///{tmp_path / 'state' / 'rorsync.sqlite'}"
