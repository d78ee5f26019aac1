"""The API's error shape: Chalice's own errors take it, a 5xx says nothing of its cause."""
from chalice import Response

from chalicelib.api_errors import ApiError, reshape


def test_chalices_own_errors_take_the_apis_shape():
    unsupported = reshape(Response({"Code": "UnsupportedMediaType", "Message": "no"}, status_code=415))
    assert unsupported.body == {"code": "UnsupportedMediaType", "message": "no"}
    internal = reshape(Response({"Code": "InternalServerError", "Message": "trace"}, status_code=500))
    assert internal.body == {"code": "InternalError", "message": "an internal error occurred"}
    fine = Response({"Code": "kept"}, status_code=200)
    assert reshape(fine).body == {"Code": "kept"}


def test_an_error_names_its_field_and_extras_only_when_it_has_them():
    assert ApiError(404, "HubNotFound", "no hub hub-x").body() == {"code": "HubNotFound", "message": "no hub hub-x"}
    busy = ApiError(409, "HubBusy", "busy", "hub_id", hub_status="RETIRING")
    assert busy.body() == {"code": "HubBusy", "message": "busy", "field": "hub_id", "hub_status": "RETIRING"}
