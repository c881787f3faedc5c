"""The AsyncAPI document of the Kafka contract, generated from services.events.

`python -m services.asyncapi > docs/asyncapi.json` writes it; a test fails when the
committed document differs from what the code generates.
"""

import json
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from services.events import TOPICS


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every topic in the contract."""
    broker = KafkaBroker("kafka:9092", logger=None)
    for topic in TOPICS:
        compacted = " Compacted." if topic.compacted else ""
        broker.publisher(topic.name, schema=topic.model, title=topic.name,
                         description=f"{topic.description} Key: {topic.key}.{compacted}")
    spec = AsyncAPI(broker, title="Hai Phong campaign reporting: Kafka contract", version="1",
                    description="Events exchanged by registry, reporting, aggregator and "
                    "notifier.")
    return json.loads(spec.to_specification().to_json())


if __name__ == "__main__":
    print(json.dumps(document(), indent=2, ensure_ascii=False, sort_keys=True))
