"""The operator console (Textual). Talks to the master only through sloth_daemon.client."""
