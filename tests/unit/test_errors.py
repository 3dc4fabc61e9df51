"""Server Status answers map onto clew's error tree: retryable vs permanent, named objects, and no
request body in any message."""

from __future__ import annotations

import pytest

from clew.cluster import errors
from clew.model import ObjectRef

REF = ObjectRef("apps", "Deployment", "shop", "web")


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (400, "BadRequest", errors.BadRequest),
        (401, "Unauthorized", errors.Unauthorized),
        (403, "Forbidden", errors.Forbidden),
        (404, "NotFound", errors.NotFound),
        (409, "Conflict", errors.Conflict),
        (409, "AlreadyExists", errors.AlreadyExists),
        (410, "Expired", errors.Gone),
        (422, "Invalid", errors.Invalid),
        (429, "TooManyRequests", errors.TooManyRequests),
        (500, "InternalError", errors.ServerError),
        (503, "ServiceUnavailable", errors.ServerError),
        (418, "", errors.PermanentError),
    ],
)
def test_status_codes_map_to_classes(code: int, reason: str, expected: type) -> None:
    error = errors.from_status(
        code, {"reason": reason, "message": "nope"}, ref=REF, retry_after=None
    )
    assert type(error) is expected
    assert error.code == code
    assert str(error) == "Deployment/shop/web: nope"


def test_retryable_split() -> None:
    assert issubclass(errors.TooManyRequests, errors.RetryableError)
    assert issubclass(errors.ServerError, errors.RetryableError)
    assert issubclass(errors.ConnectionFailed, errors.RetryableError)
    for permanent in (errors.Invalid, errors.Forbidden, errors.Gone, errors.UnknownKind):
        assert issubclass(permanent, errors.PermanentError)
        assert not issubclass(permanent, errors.RetryableError)


def test_retry_after_is_kept() -> None:
    error = errors.from_status(429, None, ref=None, retry_after=3.0)
    assert isinstance(error, errors.TooManyRequests)
    assert error.delay == 3.0
    assert str(error) == "HTTP 429"


def test_invalid_carries_causes() -> None:
    status = {
        "reason": "Invalid",
        "message": 'Deployment.apps "web" is invalid',
        "details": {"causes": [{"field": "spec.replicas", "message": "must be >= 0"}]},
    }
    error = errors.from_status(422, status, ref=REF, retry_after=None)
    assert isinstance(error, errors.Invalid)
    assert error.causes == [{"field": "spec.replicas", "message": "must be >= 0"}]


def test_cluster_scoped_ref_prints_without_namespace() -> None:
    assert str(ObjectRef("", "Namespace", "", "shop")) == "Namespace/shop"
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "w", "namespace": "n"},
    }
    assert ObjectRef.from_object(obj) == ObjectRef("apps", "Deployment", "n", "w")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (413, "Request entity too large: limit is 3145728"),
        (500, "etcdserver: request is too large"),
        (500, "rpc error: code = ResourceExhausted desc = trying to send message larger than max"),
    ],
)
def test_too_large_is_permanent_and_says_so(code: int, message: str) -> None:
    error = errors.from_status(code, {"message": message}, ref=REF, retry_after=None)
    assert type(error) is errors.RequestTooLarge
    assert isinstance(error, errors.PermanentError)
    assert (
        str(error) == f"Deployment/shop/web: the object is too large for the API server: {message}"
    )
