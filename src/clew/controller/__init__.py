"""The operator: the Application custom resource and the controller that reconciles it.

- :mod:`clew.controller.api.spec`: the typed spec of an Application (:func:`parse`,
  :class:`AppSpec`);
- :mod:`clew.controller.api.crd`: the ``applications.clew.dev`` CustomResourceDefinition;
- :mod:`clew.controller.api.install`: the manifests that install the controller (``clew install``).
"""

from clew.controller.api.crd import APPLICATION_CRD, CRD_NAME
from clew.controller.api.install import manifests
from clew.controller.api.spec import (
    API_VERSION,
    KIND,
    AppKey,
    AppSpec,
    DependencyRef,
    HelmSpec,
    InvalidSpec,
    RenderKind,
    RenderSpec,
    RetrySpec,
    SourceSpec,
    parse,
    parse_duration,
)

__all__ = [
    "API_VERSION",
    "APPLICATION_CRD",
    "CRD_NAME",
    "KIND",
    "AppKey",
    "AppSpec",
    "DependencyRef",
    "HelmSpec",
    "InvalidSpec",
    "RenderKind",
    "RenderSpec",
    "RetrySpec",
    "SourceSpec",
    "manifests",
    "parse",
    "parse_duration",
]
