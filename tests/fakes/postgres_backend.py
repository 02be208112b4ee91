"""A stand-in for router.store.postgres in the opener's tests: its `Store.open(url)` fails
as libpq does with a connection string it cannot parse, repeating the URL whole, so the
tests can see that the opener keeps the password out of its message."""

from __future__ import annotations

from router.errors import StoreUnavailable


class Store:
    @classmethod
    async def open(cls, url: str) -> Store:
        if "127.0.0.1:1/" in url:  # a server that refuses: the backend's own error
            raise StoreUnavailable("connection refused\n\tIs the server running?")
        raise ValueError(f'missing "=" after "{url}" in connection info string\n{url}')
