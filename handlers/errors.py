"""One typed error family for the API: an HTTP status and a stable code.

Routes raise these; `handlers.api` maps them to a JSON response in one place:
`{"error": {"code": ..., "message": ...}}`.
"""

from __future__ import annotations


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class InvalidRequest(ApiError):
    status, code = 400, "invalid_request"


class Unauthorized(ApiError):  # API Gateway's authorizer answers first; this is the handler's own check
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"


class TooLarge(ApiError):
    status, code = 413, "too_large"


class BodyTooLarge(ApiError):  # the request's own body, not the file it announces
    status, code = 413, "body_too_large"


class UnsupportedType(ApiError):
    status, code = 415, "unsupported_type"


class QuotaExceeded(ApiError):
    status, code = 429, "quota_exceeded"

    def __init__(self, message: str, resets_at: str | None):
        super().__init__(message)
        self.resets_at = resets_at

    def body(self) -> dict:
        body = super().body()
        body["error"]["resetsAt"] = self.resets_at  # when the daily count starts again; None for storage
        return body


class Unavailable(ApiError):  # a service the answer is read from (CloudWatch, DynamoDB, the user pool) did not answer
    status, code = 503, "unavailable"
