"""Listeners: HTTP/1.1 on h11 and the local unix socket."""
