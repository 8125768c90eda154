"""From configuration to policy: the effective rule settings, and a user's CU code to a profile.

The CU → profile mapping is inferred (access-policy.md §5), so it lives in ``[policy].cu_profiles``;
codes it does not list (CU01–CU16 by default, typos, a missing header) are denied unless
``[policy].unknown_cu`` names a profile explicitly. The profile returned is the user's own; the
cap at the mirror's feed profile is already built into every profile's views.
"""

from __future__ import annotations

from rorsync.config import Settings
from rorsync.policy.rules import PolicySettings


class AccessDeniedError(PermissionError):
    """A user whose CU code grants no profile; ``str()`` says which code and what to configure."""


def policy_settings(settings: Settings) -> PolicySettings:
    """The rule switches of ``[policy]``, with the feed profile resolved from the enabled source."""
    personal = settings.policy.personal_data_profiles
    return PolicySettings(
        feed_profile=settings.feed_profile,
        p0_installed_capacity=settings.policy.p0_installed_capacity,
        personal_data_profiles=None if personal is None else frozenset(personal),
    )


def resolve_profile(cu_code: str | None, settings: Settings) -> int:
    """The access profile (0–5) of an end user identified by a TRE_R78 code such as ``CU22``.

    Raises :class:`AccessDeniedError` for a missing or unmapped code unless ``unknown_cu`` is a
    profile number.
    """
    code = (cu_code or "").strip().upper()
    mapping = {key.strip().upper(): value for key, value in settings.policy.cu_profiles.items()}
    profile = mapping.get(code)
    if profile is not None:
        return profile
    fallback = settings.policy.unknown_cu
    if fallback != "deny":
        return fallback
    shown = repr(cu_code) if code else "no CU code"
    raise AccessDeniedError(
        f"access denied: {shown} is not mapped to a profile in [policy].cu_profiles "
        f"(mapped: {', '.join(sorted(mapping)) or 'none'})"
    )
