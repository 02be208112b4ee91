"""Who is logged in to the web interface, and what they may do (room: web; pure but for
keys.py's one file): signed session cookies, CSRF tokens, login throttling and the
principal a page acts as."""
