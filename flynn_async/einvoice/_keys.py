"""E-invoice verification keys: the portal's public keys and certificates, loaded once.

:class:`KeyRing` holds one key, or keys by ``kid``; :func:`load_keys` checks what the client
was given (``einvoice_keys=``) before anything is sent. ``cryptography`` is imported when a key
is loaded, not before. This module is apart from the models so that the client (which loads
its keys) does not import the e-invoice models with the package: they load on first use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeAlias

import attrs

from flynn_async._core._errors import InvalidInput, SignatureError

if TYPE_CHECKING:  # cryptography is imported when a key is loaded, not before
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

__all__ = ["EInvoiceKeys", "KeyMaterial", "KeyRing", "load_keys"]

#: One verification key: a PEM (or DER) public key or X.509 certificate as text or bytes, or
#: an already loaded ``cryptography`` RSA public key or certificate.
KeyMaterial: TypeAlias = "str | bytes | RSAPublicKey | x509.Certificate"
#: Keys to verify signed documents with: one key, a mapping from ``kid`` to keys (the portal
#: has rotated its signing key several times), or a list of certificates (each matched to the
#: tokens whose ``kid`` is its SHA-1 thumbprint).
EInvoiceKeys: TypeAlias = (
    "KeyMaterial | Mapping[str, KeyMaterial] | Sequence[x509.Certificate | str | bytes]"
)


@attrs.frozen
class _Key:
    public_key: RSAPublicKey
    thumbprint: str | None  # the certificate's SHA-1 thumbprint, upper-case hex


def _load_key(material: object, what: str) -> _Key:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    cert: x509.Certificate | None = None
    key: object
    if isinstance(material, x509.Certificate):
        cert = material
        key = cert.public_key()
    elif isinstance(material, RSAPublicKey):
        key = material
    elif isinstance(material, str | bytes):
        data = material.encode("ascii", "replace") if isinstance(material, str) else material
        try:
            if b"-----BEGIN CERTIFICATE-----" in data:
                cert = x509.load_pem_x509_certificate(data)
                key = cert.public_key()
            elif b"-----BEGIN" in data:
                key = serialization.load_pem_public_key(data)
            else:
                try:
                    cert = x509.load_der_x509_certificate(data)
                    key = cert.public_key()
                except ValueError:
                    key = serialization.load_der_public_key(data)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise InvalidInput(f"{what} is not a PEM public key or PEM X.509 certificate") from None
    else:
        raise InvalidInput(
            f"{what} must be a PEM public key or certificate (str or bytes), "
            f"not {type(material).__name__}"
        )
    if not isinstance(key, RSAPublicKey):
        raise InvalidInput(f"{what} is not an RSA key (the portal signs with RS256)")
    thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper() if cert is not None else None
    return _Key(key, thumbprint)


class KeyRing:
    """Verification keys, loaded once: one key, or keys by ``kid``."""

    __slots__ = ("_by_kid", "_single")

    def __init__(self, keys: EInvoiceKeys | KeyRing) -> None:
        self._single: _Key | None = None
        self._by_kid: dict[str, _Key] = {}
        if isinstance(keys, KeyRing):
            self._single, self._by_kid = keys._single, dict(keys._by_kid)
        elif isinstance(keys, Mapping):
            if not keys:
                raise InvalidInput("einvoice keys: the mapping from kid to keys is empty")
            for kid, material in keys.items():
                if not isinstance(kid, str) or not kid:
                    raise InvalidInput("einvoice keys: every kid must be a non-empty str")
                self._by_kid[kid.upper()] = _load_key(material, f"the key for kid {kid!r}")
        elif isinstance(keys, list | tuple):
            if not keys:
                raise InvalidInput("einvoice keys: the list of certificates is empty")
            for i, material in enumerate(keys):
                loaded = _load_key(material, f"einvoice key #{i}")
                if loaded.thumbprint is None:
                    raise InvalidInput(
                        f"einvoice key #{i} is a bare public key: in a list, give certificates "
                        "(matched by thumbprint), or give a mapping from kid to keys"
                    )
                self._by_kid[loaded.thumbprint] = loaded
        else:
            self._single = _load_key(keys, "the einvoice key")

    def __repr__(self) -> str:
        if self._single is not None:
            return "KeyRing(1 key)"
        return f"KeyRing(kids={sorted(self._by_kid)})"

    def key_for(self, kid: str | None) -> _Key:
        """The key for a token's ``kid``; :class:`SignatureError` if none is known."""
        if self._single is not None:
            return self._single
        found = self._by_kid.get(kid.upper()) if kid else None
        if found is None:
            known = ", ".join(sorted(self._by_kid))
            raise SignatureError(
                f"no verification key for kid {kid!r} (keys are known for: {known}); the "
                "portal may have rotated its signing key: add its current certificate",
                kid=kid,
            )
        return found


def load_keys(keys: EInvoiceKeys | KeyRing) -> KeyRing:
    """Load and check verification keys once (``InvalidInput`` if they are unusable)."""
    return keys if isinstance(keys, KeyRing) else KeyRing(keys)
