"""TLS for both ROR sources: verification always on, optional client certificate, TLS 1.2 at least.

There is deliberately no way to turn verification off: a mirror of health-offer data fed through an
unauthenticated channel would be worse than no mirror. Without ``ca_bundle`` the system store is used;
with it, only that bundle (the IGC-Santé chain), so a certificate from any public CA is refused.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from urllib.parse import urlsplit

from rorsync.config import TlsSettings, is_loopback_url
from rorsync.transport.errors import InsecureUrlError, TlsError


def require_secure_url(url: str) -> None:
    """Refuse anything but https, except plain http to loopback (the local simulator and tests)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and is_loopback_url(url)):
        return
    raise InsecureUrlError(url)


def build_ssl_context(settings: TlsSettings) -> ssl.SSLContext:
    """A client context verifying the server (and its host name), presenting a certificate if configured."""
    context = _verifying_context(settings.ca_bundle)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.client_cert is not None and settings.client_key is not None:
        _load_client_certificate(context, settings.client_cert, settings.client_key)
    return context


def _verifying_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """With a bundle, ``create_default_context`` trusts only it and skips the system store."""
    try:
        return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_bundle)
    except FileNotFoundError as error:
        raise TlsError(f"tls.ca_bundle {ca_bundle}: file not found") from error
    except ssl.SSLError as error:
        raise TlsError(f"tls.ca_bundle {ca_bundle}: no usable PEM certificate in it ({error.reason})") from error
    except OSError as error:
        raise TlsError(f"tls.ca_bundle {ca_bundle}: cannot be read: {error.strerror}") from error


def _refuse_encrypted_key() -> bytes:
    # Without a callback OpenSSL would prompt on the terminal, which hangs a daemon.
    raise TlsError("the client key is encrypted: rorsync needs an unencrypted key protected by file permissions")


def _load_client_certificate(context: ssl.SSLContext, cert: Path, key: Path) -> None:
    for label, path in (("tls.client_cert", cert), ("tls.client_key", key)):
        if not path.is_file():
            raise TlsError(f"{label} {path}: file not found")
    try:
        context.load_cert_chain(certfile=cert, keyfile=key, password=_refuse_encrypted_key)
    except TlsError as error:
        raise TlsError(f"tls.client_key {key}: {error}") from error
    except OSError as error:  # ssl.SSLError is an OSError
        reason = getattr(error, "reason", None) or error.strerror or str(error)
        raise TlsError(
            f"tls.client_cert {cert} / tls.client_key {key}: cannot be loaded ({reason}); "
            "both must be PEM and the key must match the certificate"
        ) from error
