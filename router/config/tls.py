"""The `settings.tls` section (room: config; imports config.model, config.load, errors; the
standard library's ssl).

Paths are resolved against the YAML file that names them, as every file setting is, and the
files are loaded now, so that `router validate`, the start and every reload refuse a
certificate that would not serve, with the line that names it. server/tls.py builds the
context the daemon serves with from the same files; the config may not import the server,
so this module only checks them.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from router.config.load import Source
from router.config.model import Tls
from router.errors import Problem


def build_tls(data: Mapping[str, Any], source: Source, *, load_files: bool = True
              ) -> tuple[Tls, list[Problem]]:
    """The Tls settings, and every problem with them and (with `load_files`) their files.
    `router validate --no-secrets` does not load them: the key is a secret, and a CI runner
    has neither it nor, often, the certificate."""
    base = Path(source.file).parent
    paths = {key: str(base / data[key]) for key in ("cert", "key", "client_ca") if key in data}
    mode = {"client_certificates": data["client_certificates"]} \
        if "client_certificates" in data else {}
    tls = Tls(certificate=paths["cert"], key=paths["key"], client_ca=paths.get("client_ca"),
              where=source.where, **mode)
    if not load_files:
        return tls, _mode_problems(tls, source)
    problems = _certificate_problems(tls.certificate, source.at("cert"))
    if not problems:
        problems = _key_problems(tls, source.at("key"))
    if tls.client_ca is not None:
        problems += _certificate_problems(tls.client_ca, source.at("client_ca"))
    return tls, problems + _mode_problems(tls, source)


def _certificate_problems(path: str, source: Source) -> list[Problem]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_verify_locations(cafile=path)
    except OSError as error:
        if isinstance(error, ssl.SSLError):
            return [Problem(source.where, source.path,
                            f"{path!r} does not load: no valid PEM certificate in it")]
        if isinstance(error, FileNotFoundError):
            return [Problem(source.where, source.path, f"no such file: {path!r}")]
        return [Problem(source.where, source.path, f"cannot read {path!r}: {_reason(error)}")]
    return []


def _key_problems(tls: Tls, source: Source) -> list[Problem]:
    """The key must load and be the certificate's own."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(tls.certificate, tls.key, password=_refuse_passphrase)
    except _Encrypted:
        message = (f"{tls.key!r} is encrypted with a passphrase, which router cannot ask "
                   "for: write it unencrypted (openssl pkey -in KEY -out PLAIN) and readable "
                   "by router's user only")
    except FileNotFoundError:
        message = f"no such file: {tls.key!r}"
    except ssl.SSLError as error:
        message = (f"{tls.key!r} is not the private key of the certificate in "
                   f"{tls.certificate!r}") if error.reason == "KEY_VALUES_MISMATCH" else \
            f"{tls.key!r} does not load: no PEM private key in it"
    except OSError as error:
        message = f"cannot read {tls.key!r}: {_reason(error)}"
    else:
        return []
    return [Problem(source.where, source.path, message)]


def _mode_problems(tls: Tls, source: Source) -> list[Problem]:
    where = source.at("client_certificates")
    if tls.client_certificates != "none" and tls.client_ca is None:
        return [Problem(where.where, where.path, f"{tls.client_certificates!r} needs "
                        "client_ca: the CA certificates that sign the senders' certificates")]
    if tls.client_certificates == "none" and tls.client_ca is not None:
        where = source.at("client_ca")
        return [Problem(where.where, where.path, "not used while client_certificates is "
                        "'none': set that to 'optional' or 'required'", severity="warning")]
    return []


class _Encrypted(Exception):
    pass


def _refuse_passphrase() -> bytes:
    raise _Encrypted


def _reason(error: OSError) -> str:
    if isinstance(error, ssl.SSLError) and error.reason:
        return error.reason.replace("_", " ").lower()
    return str(error.strerror or error)
