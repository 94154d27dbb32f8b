"""Types shared by every module: configuration, errors, principals, commands and events."""
