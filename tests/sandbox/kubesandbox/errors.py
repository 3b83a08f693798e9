"""API errors, rendered as Kubernetes `Status` objects."""
from __future__ import annotations


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status_object(self) -> dict:
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            status["details"] = self.details
        return status


def not_found(info_or_plural, name: str, group: str = "") -> ApiError:
    plural = getattr(info_or_plural, "plural", info_or_plural)
    group = getattr(info_or_plural, "group", group)
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found',
                    {"name": name, "group": group, "kind": plural})


def invalid(info, name: str, causes: list[tuple[str, str]]) -> ApiError:
    kind = info.kind
    text = "; ".join(f"{fld}: {msg}" for fld, msg in causes)
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {text}',
                    {"name": name, "group": info.group, "kind": kind,
                     "causes": [{"reason": "FieldValueInvalid", "message": msg, "field": fld} for fld, msg in causes]})
