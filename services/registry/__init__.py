"""The registry of reporting units, campaigns and credentials."""
