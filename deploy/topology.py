"""What the system is made of: its services, ports and the environment each one gets.

The local launcher, the test rig and the docker-compose generator all read this one
table, so the compose file describes the processes the tests really start.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    needs_admin_token: bool = False

    @property
    def prefix(self) -> str:
        return self.name.upper()

    @property
    def module(self) -> str:
        return f"services.{self.name}"


SERVICES = (
    Service("registry", 8001, needs_admin_token=True),
    Service("reporting", 8002),
    Service("aggregator", 8003),
    Service("notifier", 8004, needs_admin_token=True),
)


def service_env(service: Service, *, port: int, database_url: str, bootstrap: str,
                idempotence: bool, admin_token: str | None = None) -> dict[str, str]:
    """The environment variables a service process starts with."""
    env = {
        f"{service.prefix}_HOST": "127.0.0.1",
        f"{service.prefix}_PORT": str(port),
        f"{service.prefix}_DATABASE_URL": database_url,
        f"{service.prefix}_KAFKA_BOOTSTRAP": bootstrap,
        f"{service.prefix}_KAFKA_IDEMPOTENCE": str(idempotence).lower(),
        f"{service.prefix}_LOG_JSON": "true",
    }
    if service.needs_admin_token and admin_token is not None:
        env[f"{service.prefix}_ADMIN_TOKEN"] = admin_token
    return env
