"""Which certificate and key the daemon serves HTTPS with (room: daemon; imports
everything): `settings.tls`, or `router run --tls-cert/--tls-key` over it, loaded at start and
again at every reload, since the files may have been renewed in place.

A pair that does not load is a config problem (ConfigInvalid naming the file): at start it
stops the daemon, on reload it rejects the reload and the certificate in use stays.
Turning TLS on or off takes a restart, as the listener is bound once.
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Callable
from pathlib import Path

from router.config import ConfigInvalid
from router.config.model import Config, Tls
from router.daemon.options import Options
from router.server.tls import Certificates, TlsFiles, TlsFilesInvalid, load_context

logger = logging.getLogger(__name__)


def tls_files(tls: Tls | None, options: Options) -> TlsFiles | None:
    """What HTTPS is served with: settings.tls, with its certificate and key replaced by
    `router run --tls-cert/--tls-key`; None for plain HTTP."""
    if options.tls_certificate is None or options.tls_key is None:
        if tls is None:
            return None
        certificate, key = Path(tls.certificate), Path(tls.key)
    else:
        certificate, key = options.tls_certificate, options.tls_key
    if tls is None:
        return TlsFiles(certificate=certificate, key=key)
    return TlsFiles(certificate=certificate, key=key, client_certificates=tls.client_certificates,
                    client_ca=None if tls.client_ca is None else Path(tls.client_ca))


async def _load_tls(files: TlsFiles) -> ssl.SSLContext:
    try:
        return await load_context(files)
    except TlsFilesInvalid as invalid:
        raise ConfigInvalid([invalid.problem]) from None


async def start_tls(config: Config, options: Options) -> Certificates | None:
    """The certificates served from the start; None for plain HTTP.

    Raises:
        ConfigInvalid: the certificate or key cannot be read or do not go together.
    """
    files = tls_files(config.settings.tls, options)
    return None if files is None else Certificates(await _load_tls(files), files)


async def reload_tls(certificates: Certificates | None, options: Options, config: Config
                     ) -> Callable[[], None]:
    """The reload hook: load the certificate and key again (the files may have been
    renewed in place); turning TLS on or off takes a restart, as the listener is bound."""
    files = tls_files(config.settings.tls, options)
    if certificates is None:
        if files is not None:
            logger.warning("the reloaded config turns TLS on: that takes a restart; serving "
                           "plain HTTP until then")
        return _keep
    if files is None:
        logger.warning("the reloaded config has no settings.tls: turning TLS off takes a "
                       "restart; serving HTTPS with the files loaded at start until then")
        files = certificates.files
    context = await _load_tls(files)
    return functools.partial(certificates.use, context, files)


def _keep() -> None:
    pass
