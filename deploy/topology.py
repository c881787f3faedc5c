"""What the system is made of: its services, ports and the environment each one gets.

The local launcher, the test rig and the docker-compose generator all read this one
table, so the compose file describes the processes the tests really start.
"""

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    needs_admin_token: bool = False
    keeps_data: bool = True  # a database and the broker; the portal has neither
    calls: tuple[str, ...] = ()  # the services whose HTTP APIs it calls, as any client

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
    Service("portal", 8005, keeps_data=False, calls=("registry", "reporting", "aggregator")),
)
DATA_SERVICES = tuple(s for s in SERVICES if s.keeps_data)


def service_env(service: Service, *, port: int, database_url: str, bootstrap: str,
                idempotence: bool, admin_token: str | None = None,
                urls: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment variables a service process starts with (`urls`: the base URL of
    each service it calls)."""
    env = {f"{service.prefix}_HOST": "127.0.0.1", f"{service.prefix}_PORT": str(port)}
    if service.keeps_data:
        env |= {
            f"{service.prefix}_DATABASE_URL": database_url,
            f"{service.prefix}_KAFKA_BOOTSTRAP": bootstrap,
            f"{service.prefix}_KAFKA_IDEMPOTENCE": str(idempotence).lower(),
        }
    env[f"{service.prefix}_LOG_JSON"] = "true"
    if urls is not None:
        env |= {f"{service.prefix}_{name.upper()}_URL": urls[name] for name in service.calls}
    if service.needs_admin_token and admin_token is not None:
        env[f"{service.prefix}_ADMIN_TOKEN"] = admin_token
    return env


def local_urls() -> dict[str, str]:
    """Each service's base URL on this machine, at its usual port."""
    return {s.name: f"http://127.0.0.1:{s.port}" for s in SERVICES}
