"""Configuration: one TOML file, environment overrides, validated into one typed model.

Precedence: ``RORSYNC_…`` environment variables (nested keys joined by ``__``, e.g.
``RORSYNC_FHIR__CLIENT_ID``) over the file over the defaults below. Any problem becomes a
:class:`ConfigError` whose message names the file, the key and the reason; the CLI prints it and
exits with status 2, never a traceback.

Secrets (the FHIR client secret) come from a file — typically a systemd credential,
``${CREDENTIALS_DIRECTORY}/fhir-client-secret`` — or from the environment, are held as
``SecretStr`` and are shown as ``***`` everywhere.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_CONFIG_PATH = Path("/etc/rorsync/rorsync.toml")
ENV_PREFIX = "RORSYNC_"


class ConfigError(Exception):
    """An unusable configuration; ``str()`` is the complete message for the operator."""


# --- value types ----------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _parse_duration(value: Any) -> Any:
    """Accept ``90``, ``"90s"``, ``"5m"``, ``"1h30m"``, ``"7d"`` as well as ISO 8601 (``"PT5M"``)."""
    if isinstance(value, str) and value and not value.upper().startswith("P"):
        text = value.strip().lower()
        parts = list(_DURATION.finditer(text))
        if not parts or "".join(p.group(0) for p in parts) != text.replace(" ", ""):
            raise ValueError(f"{value!r} is not a duration: use e.g. 90s, 5m, 1h30m, 7d")
        return timedelta(seconds=sum(float(p.group(1)) * _UNIT_SECONDS[p.group(2)] for p in parts))
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be a positive duration")
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration), AfterValidator(_positive)]


def _expand_path(value: Any) -> Any:
    """Paths may reference the environment, e.g. ``${CREDENTIALS_DIRECTORY}/fhir-client-secret``."""
    if isinstance(value, str):
        expanded = os.path.expandvars(os.path.expanduser(value))
        if "$" in expanded:
            raise ValueError(f"{value!r} references an environment variable that is not set")
        return Path(expanded)
    return value


ConfigPath = Annotated[Path, BeforeValidator(_expand_path)]


def _check_cron(value: str) -> str:
    try:
        CronTrigger.from_crontab(value)
    except ValueError as error:
        raise ValueError(f"{value!r} is not a crontab expression ({error})") from error
    return value


Crontab = Annotated[str, AfterValidator(_check_cron)]


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _https_or_loopback(value: str) -> str:
    """Plain http would expose tokens and health data: allowed only on loopback (the simulator)."""
    scheme = urlsplit(value).scheme
    if scheme == "https" or (scheme == "http" and is_loopback_url(value)):
        return value.rstrip("/")
    if scheme == "http":
        raise ValueError(f"{value!r} uses plain http: only https is allowed outside loopback")
    raise ValueError(f"{value!r} is not an http(s) URL")


ServiceUrl = Annotated[str, AfterValidator(_https_or_loopback)]
Secret = Annotated[SecretStr, PlainSerializer(lambda _: "***", return_type=str, when_used="always")]


def _default_state_dir() -> Path:
    if systemd := os.environ.get("STATE_DIRECTORY"):
        return Path(systemd.split(":")[0])
    if os.geteuid() == 0:
        return Path("/var/lib/rorsync")
    return Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "rorsync"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- sections -------------------------------------------------------------------------------------


class HttpSettings(_Section):
    connect_timeout: Duration = timedelta(seconds=10)
    read_timeout: Duration = timedelta(seconds=120)
    max_attempts: int = Field(5, ge=1, le=20)
    backoff_initial: Duration = timedelta(seconds=1)
    backoff_max: Duration = timedelta(seconds=60)
    max_concurrency: int = Field(4, ge=1, le=64)


class TlsSettings(_Section):
    client_cert: ConfigPath | None = None  # PEM certificate (IGC-Santé ORG / AUTH_CLI in production)
    client_key: ConfigPath | None = None
    ca_bundle: ConfigPath | None = None  # the IGC-Santé chain; the system store when unset

    @model_validator(mode="after")
    def _pair(self) -> TlsSettings:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key go together: set both or neither")
        return self


class RorHeaders(_Section):
    """The four ``Ror-*`` header values handed out by the ROR team at onboarding."""

    user_profile_code: str = "CU22"
    user_profile_system: str = "1.2.250.1.213.1.6.1.66"
    role_code: str = "AUTOMATE"
    role_system: str = "1.2.250.1.213.1.1.4.6"


class FhirSettings(_Section):
    enabled: bool = False
    base_url: ServiceUrl = "https://api-fhir.ror.esante.gouv.fr/ws-diffusion-fhir"
    token_url: ServiceUrl = "https://auth-api.ror.esante.gouv.fr/auth/realms/ror/protocol/openid-connect/token"
    client_id: str = ""
    client_secret: Secret | None = None  # only from the environment: RORSYNC_FHIR__CLIENT_SECRET
    client_secret_file: ConfigPath | None = None
    profile: int = Field(1, ge=0, le=5)
    tls: TlsSettings = TlsSettings()
    headers: RorHeaders = RorHeaders()
    http: HttpSettings = HttpSettings()
    regions: list[str] = Field(default_factory=list)  # TRE_R30 codes; empty means national
    initial_load: Literal["export", "search"] = "export"
    page_size: int = Field(200, ge=1, le=200)
    overlap: Duration = timedelta(minutes=5)
    export_wait_max: Duration = timedelta(hours=6)
    tombstone_grace: Duration = timedelta(days=14)

    @model_validator(mode="after")
    def _credentials(self) -> FhirSettings:
        if not self.enabled:
            return self
        if not self.client_id:
            raise ValueError("client_id is required when the FHIR source is enabled")
        if self.profile == 0 and self.client_secret is None and self.client_secret_file is None:
            raise ValueError("profile 0 authenticates with a client secret: set client_secret_file")
        if self.profile > 0 and self.tls.client_cert is None and not is_loopback_url(self.token_url):
            raise ValueError(f"profile {self.profile} authenticates with a client certificate: set tls.client_cert")
        return self


class VihfSettings(_Section):
    """Optional unsigned SAML 2.0 assertion in a WS-Security header (CSD only)."""

    enabled: bool = False
    subject_id: str = ""  # Subject/NameID: the structure's identifier, e.g. "18751275100020/26"
    issuer: str | None = None  # default: the subject name of tls.client_cert
    user_profile_code: str | None = None  # default: the CU code of the CSD profile (0 CU23, 1 CU22, 2 CU20, 3 CU19)
    role_code: str = "AUTOMATE"

    @model_validator(mode="after")
    def _subject(self) -> VihfSettings:
        if self.enabled and not self.subject_id:
            raise ValueError("subject_id is required when the VIHF header is enabled")
        return self


class CsdSettings(_Section):
    enabled: bool = False
    endpoint: ServiceUrl | None = None
    extraction_url: ServiceUrl | None = None  # without it, the initial load reads every establishment
    profile: int = Field(1, ge=0, le=3)
    tls: TlsSettings = TlsSettings()
    vihf: VihfSettings = VihfSettings()
    http: HttpSettings = HttpSettings(read_timeout=timedelta(minutes=10))
    overlap: Duration = timedelta(hours=1)
    full_read_every: Duration = timedelta(days=1)  # TR-Lecture without dateRef, to detect removed OIs
    max_part_bytes: int = Field(103_000_000, ge=1)
    extraction_readers: int | None = Field(None, ge=1, le=16)  # processes parsing parts; default: cores, ≤ 4
    tombstone_grace: Duration = timedelta(days=14)

    @model_validator(mode="after")
    def _endpoints(self) -> CsdSettings:
        if self.enabled and not self.endpoint:
            raise ValueError("endpoint is required when the CSD source is enabled")
        if self.vihf.enabled and self.vihf.issuer is None and self.tls.client_cert is None:
            raise ValueError("vihf.issuer is required when no tls.client_cert gives the issuer's subject name")
        return self


class PublicXmlSettings(_Section):
    source: str | None = None  # a file path or an https URL of the weekly public extraction
    max_part_bytes: int = Field(103_000_000, ge=1)
    extraction_readers: int | None = Field(None, ge=1, le=16)  # processes parsing parts; default: cores, ≤ 4
    tombstone_grace: Duration = timedelta(days=14)


class ScheduleSettings(_Section):
    fhir_delta: Duration = timedelta(minutes=5)
    fhir_capacity: Duration = timedelta(minutes=1)
    csd_notif: Duration = timedelta(minutes=15)
    csd_recheck: Duration = timedelta(hours=1)  # re-reads a share of the establishments (csd.full_read_every)
    reconcile: Crontab = "0 3 * * 0"  # weekly complete load (Sunday 03:00, local time)
    run_timeout: Duration = timedelta(minutes=30)  # deltas and capacity polls
    full_load_timeout: Duration = timedelta(hours=12)


# access-policy.md §5: inferred, hence configuration. CU01–CU16 are absent: denied by default.
DEFAULT_CU_PROFILES: dict[str, int] = {
    "CU17": 2,
    "CU18": 2,
    "CU19": 3,
    "CU20": 2,
    "CU21": 3,
    "CU22": 1,
    "CU23": 0,
    "CU24": 2,
    "CU25": 1,
    "CU26": 4,
    "CU27": 4,
    "CU28": 4,
    "CU29": 4,
    "CU30": 5,
}


class PolicyConfig(_Section):
    feed_profile: int | None = Field(None, ge=0, le=5)  # default: the enabled source's profile
    p0_installed_capacity: bool = False
    personal_data_profiles: list[int] | None = None
    cu_profiles: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_CU_PROFILES))
    unknown_cu: Literal["deny"] | int = "deny"

    @field_validator("cu_profiles")
    @classmethod
    def _profiles_in_range(cls, value: dict[str, int]) -> dict[str, int]:
        wrong = {code: p for code, p in value.items() if not 0 <= p <= 5}
        if wrong:
            raise ValueError(f"profiles must be 0 to 5, got {wrong}")
        return value

    @field_validator("unknown_cu")
    @classmethod
    def _unknown_cu_profile(cls, value: Literal["deny"] | int) -> Literal["deny"] | int:
        if isinstance(value, int) and not 0 <= value <= 5:
            raise ValueError(f'must be "deny" or a profile 0 to 5, got {value}')
        return value

    @field_validator("personal_data_profiles")
    @classmethod
    def _personal_data_in_range(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and not all(0 <= profile <= 5 for profile in value):
            raise ValueError(f"profiles must be 0 to 5, got {value}")
        return value


class ServiceSettings(_Section):
    listen: str = "127.0.0.1:9464"  # health and metrics; keep it on loopback
    stale_after: Duration = timedelta(minutes=30)
    resync_debounce: Duration = timedelta(seconds=10)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r} is not HOST:PORT")
        return value


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "text", "journal", "json"] = "auto"


class DatabaseSettings(_Section):
    url: str | None = None  # default: SQLite under the state directory
    busy_timeout: Duration = timedelta(seconds=10)
    batch_size: int = Field(2000, ge=1, le=50_000)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True)

    state_dir: ConfigPath = Field(default_factory=_default_state_dir)
    database: DatabaseSettings = DatabaseSettings()
    fhir: FhirSettings = FhirSettings()
    csd: CsdSettings = CsdSettings()
    public_xml: PublicXmlSettings = PublicXmlSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    policy: PolicyConfig = PolicyConfig()
    service: ServiceSettings = ServiceSettings()
    logging: LoggingSettings = LoggingSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)  # the environment overrides the file

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.state_dir / 'rorsync.sqlite'}"

    @property
    def feed_profile(self) -> int:
        if self.policy.feed_profile is not None:
            return self.policy.feed_profile
        if self.csd.enabled and not self.fhir.enabled:
            return self.csd.profile
        return self.fhir.profile


def _read_secret(path: Path, key: str, origin: str) -> SecretStr:
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"{origin}: {key}: cannot read secret file {path}: {error.strerror}") from error
    if not secret:
        raise ConfigError(f"{origin}: {key}: secret file {path} is empty")
    return SecretStr(secret)


def _format_errors(error: ValidationError, origin: str) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        env = ENV_PREFIX + "__".join(str(part) for part in item["loc"]).upper()
        reason = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            reason = "unknown key"
        elif "input" in item and item["type"] not in ("missing",) and not isinstance(item["input"], dict):
            reason += f" (got {item['input']!r})"
        lines.append(f"{origin}: {key} (or {env}): {reason}")
    return "\n".join(lines)


def load_settings(path: Path | None = None) -> Settings:
    """Load ``path`` (default file if it exists, else defaults) plus the environment.

    An explicitly given file must exist; the default file may be absent (a fresh machine runs
    on defaults). Raises :class:`ConfigError` with the complete operator-facing message.
    """
    explicit = path is not None
    path = path or DEFAULT_CONFIG_PATH
    data: dict[str, Any] = {}
    origin = f"configuration file {path}"
    if path.exists() or explicit:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise ConfigError(f"{origin}: not found") from error
        except OSError as error:
            raise ConfigError(f"{origin}: cannot be read: {error.strerror}") from error
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{origin}: not valid TOML: {error}") from error
    else:
        origin = "default configuration"
    if "client_secret" in data.get("fhir", {}):
        raise ConfigError(
            f"{origin}: fhir.client_secret: secrets are not accepted in the file, "
            "use fhir.client_secret_file or the RORSYNC_FHIR__CLIENT_SECRET environment variable"
        )
    try:
        settings = Settings(**data)
    except ValidationError as error:
        raise ConfigError(_format_errors(error, origin)) from None
    secret_file = settings.fhir.client_secret_file
    if secret_file is not None and settings.fhir.client_secret is None:
        secret = _read_secret(secret_file, "fhir.client_secret_file", origin)
        settings = settings.model_copy(update={"fhir": settings.fhir.model_copy(update={"client_secret": secret})})
    return settings


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, secrets replaced by ``***`` (for ``config check``)."""
    return settings.model_dump(mode="json")
