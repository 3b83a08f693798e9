"""Decoding of the protobuf request bodies kubectl's typed clients send.

Since Kubernetes 1.31 the built-in clientsets encode writes as `application/vnd.kubernetes.protobuf`
and, unlike CBOR, never fall back to JSON. kubectl uses them for its generator commands
(`kubectl create namespace|configmap|secret|serviceaccount|service|deployment`), so the emulator
understands those kinds; other protobuf bodies get 415 as on a server without that kind.
Field numbers follow the `generated.proto` files of k8s.io/api.
"""
from __future__ import annotations

import base64

from .errors import ApiError

MAGIC = b"k8s\x00"

# Schemas: field number -> (json name, type, sub-schema). Types: str, int, bool, msg, rep_str,
# rep_msg, map (string->string), bmap (string->bytes, base64 in JSON), ios (IntOrString), qmap
# (string->Quantity), time (dropped: the server stamps its own).
OWNER_REF = {1: ("kind", "str"), 3: ("name", "str"), 4: ("uid", "str"), 5: ("apiVersion", "str"),
             6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")}
OBJECT_META = {
    1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"), 5: ("uid", "str"),
    6: ("resourceVersion", "str"), 8: ("creationTimestamp", "time"), 11: ("labels", "map"),
    12: ("annotations", "map"), 13: ("ownerReferences", "rep_msg", OWNER_REF), 14: ("finalizers", "rep_str"),
}
LABEL_SELECTOR = {1: ("matchLabels", "map"),
                  2: ("matchExpressions", "rep_msg", {1: ("key", "str"), 2: ("operator", "str"),
                                                      3: ("values", "rep_str")})}
CONTAINER_PORT = {1: ("name", "str"), 2: ("hostPort", "int"), 3: ("containerPort", "int"), 4: ("protocol", "str"),
                  5: ("hostIP", "str")}
ENV_VAR = {1: ("name", "str"), 2: ("value", "str")}
RESOURCES = {1: ("limits", "qmap"), 2: ("requests", "qmap")}
CONTAINER = {
    1: ("name", "str"), 2: ("image", "str"), 3: ("command", "rep_str"), 4: ("args", "rep_str"),
    5: ("workingDir", "str"), 6: ("ports", "rep_msg", CONTAINER_PORT), 7: ("env", "rep_msg", ENV_VAR),
    8: ("resources", "msg", RESOURCES), 13: ("terminationMessagePath", "str"), 14: ("imagePullPolicy", "str"),
    20: ("terminationMessagePolicy", "str"),
}
POD_SPEC = {2: ("containers", "rep_msg", CONTAINER), 3: ("restartPolicy", "str"),
            4: ("terminationGracePeriodSeconds", "int"), 6: ("dnsPolicy", "str"), 7: ("nodeSelector", "map"),
            8: ("serviceAccountName", "str"), 20: ("initContainers", "rep_msg", CONTAINER)}
POD_TEMPLATE = {1: ("metadata", "msg", OBJECT_META), 2: ("spec", "msg", POD_SPEC)}
STRATEGY = {1: ("type", "str"), 2: ("rollingUpdate", "msg", {1: ("maxUnavailable", "ios"), 2: ("maxSurge", "ios")})}
DEPLOYMENT_SPEC = {1: ("replicas", "int"), 2: ("selector", "msg", LABEL_SELECTOR), 3: ("template", "msg", POD_TEMPLATE),
                   4: ("strategy", "msg", STRATEGY), 5: ("minReadySeconds", "int"),
                   6: ("revisionHistoryLimit", "int"), 7: ("paused", "bool"), 9: ("progressDeadlineSeconds", "int")}
SERVICE_PORT = {1: ("name", "str"), 2: ("protocol", "str"), 3: ("port", "int"), 4: ("targetPort", "ios"),
                5: ("nodePort", "int"), 6: ("appProtocol", "str")}
SERVICE_SPEC = {1: ("ports", "rep_msg", SERVICE_PORT), 2: ("selector", "map"), 3: ("clusterIP", "str"),
                4: ("type", "str"), 10: ("externalName", "str")}

KINDS = {
    "Namespace": {1: ("metadata", "msg", OBJECT_META), 2: ("spec", "msg", {1: ("finalizers", "rep_str")})},
    "ConfigMap": {1: ("metadata", "msg", OBJECT_META), 2: ("data", "map"), 3: ("binaryData", "bmap"),
                  4: ("immutable", "bool")},
    "Secret": {1: ("metadata", "msg", OBJECT_META), 2: ("data", "bmap"), 3: ("type", "str"), 4: ("stringData", "map"),
               5: ("immutable", "bool")},
    "ServiceAccount": {1: ("metadata", "msg", OBJECT_META),
                       3: ("imagePullSecrets", "rep_msg", {1: ("name", "str")}),
                       4: ("automountServiceAccountToken", "bool")},
    "Service": {1: ("metadata", "msg", OBJECT_META), 2: ("spec", "msg", SERVICE_SPEC)},
    "Deployment": {1: ("metadata", "msg", OBJECT_META), 2: ("spec", "msg", DEPLOYMENT_SPEC)},
}
# Scalars that are pointers in Go: a zero that was sent is meaningful.
_KEEP_ZERO = {"replicas", "port", "containerPort", "intVal"}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes):
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, value


def _map_entry(raw: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for number, v in _fields(raw):
        if number == 1:
            key = v.decode()
        elif number == 2:
            value = v
    return key, value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def decode_message(buf: bytes, schema: dict) -> dict:
    out: dict = {}
    for number, value in _fields(buf):
        spec = schema.get(number)
        if spec is None:
            continue
        name, kind = spec[0], spec[1]
        if kind == "str":
            out[name] = value.decode()
        elif kind == "int":
            out[name] = _signed(value)
        elif kind == "bool":
            out[name] = bool(value)
        elif kind == "msg":
            out[name] = decode_message(value, spec[2])
        elif kind == "rep_str":
            out.setdefault(name, []).append(value.decode())
        elif kind == "rep_msg":
            out.setdefault(name, []).append(decode_message(value, spec[2]))
        elif kind == "map":
            k, v = _map_entry(value)
            out.setdefault(name, {})[k] = v.decode()
        elif kind == "bmap":
            k, v = _map_entry(value)
            out.setdefault(name, {})[k] = base64.b64encode(v).decode()
        elif kind == "qmap":
            k, v = _map_entry(value)
            out.setdefault(name, {})[k] = decode_message(v, {1: ("string", "str")}).get("string", "")
        elif kind == "ios":
            ios = decode_message(value, {1: ("type", "int"), 2: ("intVal", "int"), 3: ("strVal", "str")})
            out[name] = ios.get("strVal", "") if ios.get("type") == 1 else ios.get("intVal", 0)
    return _omit_empty(out)


def _omit_empty(obj: dict) -> dict:
    # Go's JSON encoding leaves out zero values of non-pointer fields (omitempty).
    def empty(key, value):
        if isinstance(value, bool):
            return not value
        if isinstance(value, int):
            return value == 0 and key not in _KEEP_ZERO
        return value in ("", {}, [], None)
    return {k: v for k, v in obj.items() if not empty(k, v)}


def decode(body: bytes) -> dict:
    if not body.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "protobuf body without the Kubernetes envelope")
    try:
        type_schema = {1: ("apiVersion", "str"), 2: ("kind", "str")}
        envelope = decode_message(body[len(MAGIC):], {1: ("typeMeta", "msg", type_schema)})
        raw = next((v for n, v in _fields(body[len(MAGIC):]) if n == 2), b"")
        type_meta = envelope.get("typeMeta") or {}
        schema = KINDS.get(type_meta.get("kind"))
        if schema is None:
            raise ApiError(415, "UnsupportedMediaType", f"protobuf bodies of kind {type_meta.get('kind')!r} are not "
                                                        f"supported here; send application/json")
        obj = decode_message(raw, schema)
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise ApiError(400, "BadRequest", f"the body of the request could not be decoded: {exc}") from None
    obj["apiVersion"] = type_meta.get("apiVersion", "v1")
    obj["kind"] = type_meta["kind"]
    obj.setdefault("metadata", {})
    return obj
