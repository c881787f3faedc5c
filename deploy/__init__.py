"""Running the system: brokers, databases, the local launcher and the compose file."""
