"""The value types of the Rules language: Bytes, Int, Bool, Ip, Array<T>, Map<T>."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Type:
    kind: str
    inner: Type | None = None

    def __str__(self) -> str:
        if self.inner is None:
            return self.kind
        return f"{self.kind}<{self.inner}>"

    @property
    def is_array(self) -> bool:
        return self.kind == "Array"

    @property
    def is_map(self) -> bool:
        return self.kind == "Map"

    @property
    def is_container(self) -> bool:
        return self.inner is not None

    def element(self) -> Type:
        if self.inner is None:
            raise TypeError(f"{self} has no elements")
        return self.inner


BYTES = Type("Bytes")
INT = Type("Int")
BOOL = Type("Bool")
IP = Type("Ip")


def array_of(t: Type) -> Type:
    return Type("Array", t)


def map_of(t: Type) -> Type:
    return Type("Map", t)


ARRAY_BYTES = array_of(BYTES)
ARRAY_INT = array_of(INT)
ARRAY_BOOL = array_of(BOOL)
MAP_ARRAY_BYTES = map_of(ARRAY_BYTES)
