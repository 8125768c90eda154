"""Where the service gets its sync engines: one factory per source, looked up in a registry.

**Engine authors**: provide ``build_engine(settings: Settings, db: Database) -> SourceEngine`` in
the module named for your source in :data:`ENGINE_FACTORIES` (``rorsync.sync.fhir``,
``rorsync.sync.csd``). The module is imported only when the source is enabled, so ``rorsync
--help`` stays fast and a FHIR-only installation never loads zeep. Your factory should only build
objects; I/O belongs in ``SourceEngine.prepare``. Raise :class:`rorsync.config.ConfigError` for a
configuration that cannot work (the daemon exits with status 2 and systemd does not restart it).

The service also relies on ``Job.kind`` to merge work (see :func:`rorsync.service.lanes.lane_key`):
the source's ordinary change poll has kind ``delta``, a complete reload ``full`` or ``reconcile``;
any other kind (e.g. ``capacity``) runs on its own.

Tests and embedders may call :func:`register_engine` to plug in another factory.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from rorsync.config import ConfigError, Settings
from rorsync.model import Source
from rorsync.store.engine import Database
from rorsync.sync.engine import SourceEngine

EngineFactory = Callable[[Settings, Database], SourceEngine]

ENGINE_FACTORIES: dict[Source, str | EngineFactory] = {
    Source.FHIR: "rorsync.sync.fhir:build_engine",
    Source.CSD: "rorsync.sync.csd:build_engine",
}

# The configuration section of each source: enabling it enables the engine; changing it on reload
# rebuilds that engine only.
SOURCE_SECTIONS: dict[Source, str] = {Source.FHIR: "fhir", Source.CSD: "csd"}


class EngineUnavailableError(ConfigError):
    """A source is enabled but this installation has no engine for it."""


def register_engine(source: Source, factory: str | EngineFactory) -> None:
    """Use ``factory`` (a callable, or ``"module:function"``) to build the engine of ``source``."""
    ENGINE_FACTORIES[source] = factory
    SOURCE_SECTIONS.setdefault(source, source.value)


def enabled_sources(settings: Settings) -> list[Source]:
    return [
        source
        for source, section in SOURCE_SECTIONS.items()
        if getattr(getattr(settings, section, None), "enabled", False)
    ]


def _factory(source: Source) -> EngineFactory:
    factory = ENGINE_FACTORIES.get(source)
    if factory is None:
        raise EngineUnavailableError(f"no sync engine is registered for the {source.value} source")
    if callable(factory):
        return factory
    module_name, _, function = factory.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is None or not module_name.startswith(error.name):
            raise
        raise EngineUnavailableError(
            f"the {source.value} source is enabled but this rorsync has no {source.value} engine ({module_name})"
        ) from error
    built: EngineFactory = getattr(module, function)
    return built


def build_engines(settings: Settings, db: Database, sources: Iterable[Source] | None = None) -> list[SourceEngine]:
    """The engines of ``sources`` (default: every enabled source), built but not yet prepared."""
    chosen = list(enabled_sources(settings) if sources is None else sources)
    disabled = [source.value for source in chosen if source not in enabled_sources(settings)]
    if disabled:
        raise ConfigError(f"source {', '.join(disabled)} is not enabled in the configuration")
    return [_factory(source)(settings, db) for source in chosen]


def engine_settings_changed(old: Settings, new: Settings, source: Source) -> bool:
    """Whether ``source``'s engine must be rebuilt to apply ``new``.

    Everything except the service's own sections and the other sources' sections may reach an
    engine (schedule, database batch size, policy profile...), so all of it counts.
    """
    ignored = {"service", "logging"} | {section for s, section in SOURCE_SECTIONS.items() if s != source}
    names = [name for name in type(new).model_fields if name not in ignored]
    return any(getattr(old, name) != getattr(new, name) for name in names)
