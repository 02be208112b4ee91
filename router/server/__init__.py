"""Listeners: HTTP/1.1 on httptools (llhttp) and the local unix socket."""
