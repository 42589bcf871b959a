from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StoreOp(_message.Message):
    __slots__ = ("id", "method", "args_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    id: int
    method: str
    args_json: bytes
    def __init__(self, id: _Optional[int] = ..., method: _Optional[str] = ..., args_json: _Optional[bytes] = ...) -> None: ...

class StoreOps(_message.Message):
    __slots__ = ("ops",)
    OPS_FIELD_NUMBER: _ClassVar[int]
    ops: _containers.RepeatedCompositeFieldContainer[StoreOp]
    def __init__(self, ops: _Optional[_Iterable[_Union[StoreOp, _Mapping]]] = ...) -> None: ...

class StoreResult(_message.Message):
    __slots__ = ("id", "result_json", "error_kind", "error", "error_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_KIND_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_JSON_FIELD_NUMBER: _ClassVar[int]
    id: int
    result_json: bytes
    error_kind: str
    error: str
    error_json: bytes
    def __init__(self, id: _Optional[int] = ..., result_json: _Optional[bytes] = ..., error_kind: _Optional[str] = ..., error: _Optional[str] = ..., error_json: _Optional[bytes] = ...) -> None: ...

class StoreResults(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[StoreResult]
    def __init__(self, results: _Optional[_Iterable[_Union[StoreResult, _Mapping]]] = ...) -> None: ...
