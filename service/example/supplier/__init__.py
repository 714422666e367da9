"""The third-party availability vendor: its client, its error classes and the dummy vendor."""
