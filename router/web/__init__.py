"""The web interface for responders (room: web): server-rendered pages over the engine."""
