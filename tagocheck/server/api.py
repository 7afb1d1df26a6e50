"""The target's HTTP API as a plain ASGI application.

It is written against ASGI directly rather than a framework because POST /data is the path the
suite load-tests: a framework's request and routing layers cost more than the work itself. Every
response, including unknown routes (404), wrong methods (405), bad JSON, oversized bodies and
unexpected exceptions (500), is a JSON envelope. Where the facts file marks a conflict, this target
answers with the variant most sources document: failures carry `message` at top level, creates
answer 201, a new device's key is `device_id`, and a new token's expiry is `expire_time`.
"""

from __future__ import annotations

from tagocheck.server.accounts import Access, Account
from tagocheck.server.app import TargetApp
from tagocheck.server.data_api import (
    delete_data,
    delete_param,
    get_data,
    get_device_params,
    get_info,
    list_params,
    network_data,
    network_set_params,
    post_data,
    put_data,
    put_device_param,
    resolve_serial,
    set_params,
)
from tagocheck.server.device_api import (
    create_device,
    create_token,
    delete_device,
    delete_token,
    edit_device,
    get_device,
    list_devices,
    list_tokens,
)
from tagocheck.server.device_data_api import (
    backup_chunk,
    backup_data,
    convert_device,
    data_amount,
    delete_chunk,
    delete_device_data,
    empty_device,
    get_device_data,
    list_chunks,
    post_device_data,
    put_device_data,
    restore_data,
)
from tagocheck.server.faults import Faults
from tagocheck.server.http import Route
from tagocheck.server.plans import RateLimiter
from tagocheck.server.store import Store

__all__ = ["ROUTES", "Access", "Route", "TargetApp", "target_app"]

ROUTES = [
    Route("POST", "/data", Access.DEVICE_SEND, post_data),
    Route("GET", "/data", Access.DEVICE_READ, get_data),
    Route("PUT", "/data", Access.DEVICE_EDIT, put_data),
    Route("DELETE", "/data", Access.DEVICE_EDIT, delete_data),
    Route("GET", "/info", Access.ANY_TOKEN, get_info),
    Route("GET", "/device/params", Access.DEVICE_READ, get_device_params),
    Route("PUT", "/device/params/{id}", Access.DEVICE_EDIT, put_device_param),
    Route("POST", "/device", Access.PROFILE, create_device),
    Route("GET", "/device", Access.PROFILE, list_devices),
    Route("GET", "/device/{id}", Access.PROFILE, get_device),
    Route("PUT", "/device/{id}", Access.PROFILE, edit_device),
    Route("DELETE", "/device/{id}", Access.PROFILE, delete_device),
    Route("GET", "/device/{id}/params", Access.PROFILE, list_params),
    Route("POST", "/device/{id}/params", Access.PROFILE, set_params),
    Route("DELETE", "/device/{id}/params/{param_id}", Access.PROFILE, delete_param),
    Route("GET", "/device/{id}/data", Access.PROFILE, get_device_data),
    Route("POST", "/device/{id}/data", Access.PROFILE, post_device_data),
    Route("PUT", "/device/{id}/data", Access.PROFILE, put_device_data),
    Route("DELETE", "/device/{id}/data", Access.PROFILE, delete_device_data),
    Route("GET", "/device/{id}/data_amount", Access.PROFILE, data_amount),
    Route("POST", "/device/{id}/empty", Access.PROFILE, empty_device),
    Route("POST", "/device/{id}/convert", Access.PROFILE, convert_device),
    Route("POST", "/device/{id}/data/backup", Access.PROFILE, backup_data),
    Route("POST", "/device/{id}/data/restore", Access.PROFILE, restore_data),
    Route("GET", "/device/{id}/chunk", Access.PROFILE, list_chunks),
    Route("POST", "/device/{id}/chunk/backup", Access.PROFILE, backup_chunk),
    Route("DELETE", "/device/{id}/chunk/{chunk_id}", Access.PROFILE, delete_chunk),
    Route("POST", "/device/token", Access.PROFILE, create_token),
    Route("GET", "/device/token/{device_id}", Access.PROFILE, list_tokens),
    Route("DELETE", "/device/token/{token}", Access.PROFILE, delete_token),
    Route("GET", "/integration/network/resolve/{serial}", Access.NETWORK, resolve_serial),
    Route(
        "GET",
        "/integration/network/resolve/{serial}/{authorization}",
        Access.NETWORK,
        resolve_serial,
    ),
    Route("POST", "/integration/network/data", Access.NETWORK, network_data),
    Route("POST", "/integration/network/{id}/params", Access.NETWORK, network_set_params),
]


def target_app(
    store: Store, account: Account, limiter: RateLimiter, faults: Faults, **settings
) -> TargetApp:
    """The target's application serving every route above (settings: TargetApp's)."""
    return TargetApp(store, account, limiter, faults, routes=ROUTES, **settings)
