"""tagocheck: load-testing and compliance-checking for the TagoIO REST API.

The contract lives as data in schemas/; this package is the one place that reads it.
"""

from tagocheck.spec.permissions import Cell, PermissionMatrix, permission_matrix
from tagocheck.spec.ratelimits import RateLimits, rate_limits
from tagocheck.spec.routes import Route, RouteMatch, RouteTable, route_table
from tagocheck.spec.schemas import (
    ContractDataError,
    errors,
    is_valid,
    registry,
    schema_names,
    validator,
    variants,
)

__version__ = "0.1.0"

__all__ = [
    "Cell",
    "ContractDataError",
    "PermissionMatrix",
    "RateLimits",
    "Route",
    "RouteMatch",
    "RouteTable",
    "errors",
    "is_valid",
    "permission_matrix",
    "rate_limits",
    "registry",
    "route_table",
    "schema_names",
    "validator",
    "variants",
]
