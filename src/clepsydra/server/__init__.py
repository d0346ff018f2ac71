"""Process assembly: configuration, the server object, the command line."""
