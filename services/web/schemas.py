"""Response shapes shared by every service's API."""

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

T = TypeVar("T")
MAX_OFFSET = 1_000_000  # far past any list; a larger integer overflows SQLite's
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]


class Page(BaseModel, Generic[T]):
    """One page of a list, with the number of items in the whole list."""

    items: list[T]
    total: int = Field(description="Items in the whole list, not only this page.")
