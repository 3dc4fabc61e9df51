"""ApplicationSets: Applications generated from templates (docs/applicationsets.md).

``spec`` (types, :func:`parse`; the CRD is in ``api.appset_crd``), ``templating``,
``generators`` and ``clusters`` (the clusters generator's selection and parameters), ``plan``
(what the policy allows) and ``status``, all pure; ``reconciler`` (one set, and what ``clew
diff appset`` shows), ``loop`` (the leader-only controller the runner starts).
"""

from clew.controller.api.appset_crd import APPLICATION_SET_CRD, APPLICATION_SET_CRD_NAME
from clew.controller.appsets.loop import AppSetController
from clew.controller.appsets.reconciler import AppSetReconciler, Generated, generate
from clew.controller.appsets.spec import (
    API_VERSION,
    FIELD_MANAGER,
    KIND,
    PLURAL,
    SET_LABEL,
    AppSetSpec,
    Policy,
    parse,
)

__all__ = [
    "API_VERSION",
    "APPLICATION_SET_CRD",
    "APPLICATION_SET_CRD_NAME",
    "FIELD_MANAGER",
    "KIND",
    "PLURAL",
    "SET_LABEL",
    "AppSetController",
    "AppSetReconciler",
    "AppSetSpec",
    "Generated",
    "Policy",
    "generate",
    "parse",
]
