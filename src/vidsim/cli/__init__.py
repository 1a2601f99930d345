"""The command line: parses, calls one library function per command, prints."""
