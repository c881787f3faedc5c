"""Messages about the pipeline itself (version 1)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.events.registry import UtcDatetime


class DeadLetter(BaseModel):
    """A message a consumer could not process, kept with the reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = Field(1, description="Version of this message's schema.")
    consumer: str = Field(description="The consumer group that gave up on the message.")
    topic: str = Field(description="Where the message came from.")
    partition: int = Field(description="Its partition.")
    offset: int = Field(description="Its offset.")
    key: str | None = Field(None, description="Its key, as text.")
    value: str | None = Field(None, description="Its value, as text (undecodable bytes "
                              "replaced).")
    error: str = Field(description="Why it could not be processed.")
    failed_at: UtcDatetime = Field(description="When (UTC).")
