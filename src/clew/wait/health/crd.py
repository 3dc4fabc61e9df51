"""CustomResourceDefinition health: Established and NamesAccepted, as kstatus ``crdConditions``.

``NamesAccepted=False`` (another CRD already claims the plural or kind) is FAILED: the API server
will not serve the kind until the manifest changes. ``Established=False`` is FAILED unless the
reason is ``Installing``, the normal first second of a CRD's life.
"""

from __future__ import annotations

from typing import Any

from clew.model import HealthResult
from clew.wait.health.conditions import condition, current, explain, failed, in_progress


def crd(obj: dict[str, Any]) -> HealthResult:
    names = condition(obj, "NamesAccepted")
    if names and names.get("status") == "False":
        return failed(f"names not accepted: {explain(names) or 'no reason given'}")
    established = condition(obj, "Established")
    if established and established.get("status") == "False":
        if established.get("reason") != "Installing":
            return failed(f"not established: {explain(established) or 'no reason given'}")
        return in_progress("installing")
    if established and established.get("status") == "True":
        if names and names.get("status") == "True":
            return current("established")
        return in_progress("established, waiting for its names to be accepted")
    return in_progress("waiting for the API server to establish it")
