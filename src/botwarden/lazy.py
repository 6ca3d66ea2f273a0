"""`lazy`: a cached property without the lock.

Python 3.11's `functools.cached_property` takes an RLock on every first access, which
costs about as much as the computation for the small facts RequestContext derives. The
context is used by one task at a time, so a plain non-data descriptor that stores the
value in the instance `__dict__` is enough: later reads never reach the descriptor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class lazy(Generic[T]):
    __slots__ = ("__doc__", "func", "name")

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, cls: type | None = None) -> lazy[T]: ...
    @overload
    def __get__(self, obj: object, cls: type | None = None) -> T: ...
    def __get__(self, obj: object | None, cls: type | None = None) -> T | lazy[T]:
        if obj is None:
            return self
        value = self.func(obj)
        obj.__dict__[self.name] = value
        return value
