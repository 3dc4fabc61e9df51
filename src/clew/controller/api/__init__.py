"""The Application API: its types and parsing, the CRDs, tenancy rules, install manifests."""

from clew.controller.api.crd import APPLICATION_CRD, CRD_NAME
from clew.controller.api.install import manifests
from clew.controller.api.notification_crd import NOTIFICATION_POLICY_CRD
from clew.controller.api.spec import (
    API_VERSION,
    FINALIZER,
    GROUP,
    KIND,
    RECONCILE_ANNOTATION,
    AppKey,
    AppSpec,
    InvalidSpec,
    parse,
)
from clew.controller.api.tenancy import Tenancy

__all__ = [
    "API_VERSION",
    "APPLICATION_CRD",
    "CRD_NAME",
    "FINALIZER",
    "GROUP",
    "KIND",
    "NOTIFICATION_POLICY_CRD",
    "RECONCILE_ANNOTATION",
    "AppKey",
    "AppSpec",
    "InvalidSpec",
    "Tenancy",
    "manifests",
    "parse",
]
