"""A NotificationPolicy's status: whether its spec was accepted and how each target's last
delivery went, so a failing receiver shows in ``kubectl get notificationpolicy``.

Outcomes are recorded in memory and written coalesced — at most one status patch per policy per
``debounce`` seconds, whatever the number of notifications — by a task that runs only while there
is something to write. Errors recorded here have already had secrets removed.

    status:
      observedGeneration: 2
      conditions:                    # Ready: True, or False with DeliveryFailed / InvalidSpec
      targets:
        - name: slack
          type: slack
          lastSuccessTime: "2026-11-26T10:00:00Z"
          lastFailureTime: "2026-11-26T09:00:00Z"
          lastError: "HTTP 404: no_service"
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from clew.cluster import Cluster, ClusterError, NotFound
from clew.model import Reason
from clew.notify.policy import API_VERSION, KIND, Policy
from clew.report import conditions

__all__ = ["StatusBook", "TargetState"]

log = logging.getLogger("clew.notify")

PolicyKey = tuple[str, str]  # namespace, name
_ERROR_MAX = 1024


@dataclass(slots=True)
class TargetState:
    name: str
    type: str
    last_success: str = ""
    last_failure: str = ""
    last_error: str = ""
    failing: bool = False

    def to_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.last_success:
            out["lastSuccessTime"] = self.last_success
        if self.last_failure:
            out["lastFailureTime"] = self.last_failure
        if self.last_error:
            out["lastError"] = self.last_error
        return out

    @classmethod
    def from_status(cls, entry: dict[str, Any]) -> TargetState:
        success, failure = entry.get("lastSuccessTime") or "", entry.get("lastFailureTime") or ""
        return cls(
            name=str(entry.get("name") or ""),
            type=str(entry.get("type") or ""),
            last_success=str(success),
            last_failure=str(failure),
            last_error=str(entry.get("lastError") or ""),
            failing=bool(failure) and str(failure) > str(success),
        )


class StatusBook:
    def __init__(self, cluster: Cluster, *, debounce: float = 1.0) -> None:
        self._cluster = cluster
        self._debounce = debounce
        self._policies: dict[PolicyKey, Policy] = {}
        self._invalid: dict[PolicyKey, tuple[int, str]] = {}
        self._states: dict[PolicyKey, dict[str, TargetState]] = {}
        self._stored: dict[PolicyKey, dict[str, Any]] = {}  # the status as last seen
        self._dirty: set[PolicyKey] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- what happened ----------------------------------------------------------------------------

    def observe(self, policy: Policy, stored_status: dict[str, Any]) -> None:
        """The policy as it is now (an informer event); write status if its generation is new."""
        key = (policy.namespace, policy.name)
        self._policies[key] = policy
        self._invalid.pop(key, None)
        self._stored[key] = stored_status
        if stored_status.get("observedGeneration") != policy.generation or _says_invalid(
            stored_status
        ):
            self._mark(key)

    def invalid(
        self, namespace: str, name: str, generation: int, message: str, stored: dict[str, Any]
    ) -> None:
        key = (namespace, name)
        self._policies.pop(key, None)
        self._stored[key] = stored
        if self._invalid.get(key) != (generation, message):
            self._invalid[key] = (generation, message)
            if stored.get("observedGeneration") != generation or not _says_invalid(stored):
                self._mark(key)

    def record(
        self, policy: Policy, target: str, target_type: str, *, ok: bool, error: str, when: str
    ) -> None:
        key = (policy.namespace, policy.name)
        state = self._state(key, target, target_type)
        if ok:
            state.last_success, state.failing = when, False
        else:
            state.last_failure, state.last_error, state.failing = when, error[:_ERROR_MAX], True
        self._mark(key)

    def forget(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        self._policies.pop(key, None)
        self._invalid.pop(key, None)
        self._states.pop(key, None)
        self._stored.pop(key, None)
        self._dirty.discard(key)

    def failing(self, namespace: str, name: str) -> dict[str, str]:
        """Target name -> its last error, for targets whose last delivery failed."""
        states = self._states.get((namespace, name), {})
        return {n: s.last_error for n, s in states.items() if s.failing}

    # -- writing ----------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write every policy with news now."""
        dirty, self._dirty = self._dirty, set()
        for key in sorted(dirty):
            document = self.document(key)
            if document is None:
                continue
            try:
                updated = await self._cluster.patch(
                    API_VERSION,
                    KIND,
                    key[1],
                    {"status": document},
                    namespace=key[0],
                    subresource="status",
                )
            except NotFound:
                self.forget(*key)
            except ClusterError as exc:
                log.warning("status of %s %s/%s not written: %s", KIND, *key, exc)
                self._dirty.add(key)  # the next flush tries again
            else:
                self._stored[key] = updated.get("status") or {}

    def document(self, key: PolicyKey) -> dict[str, Any] | None:
        """The status to write for ``key``, or None when the policy is unknown."""
        stored = self._stored.get(key, {})
        previous = list(stored.get("conditions") or [])
        if key in self._invalid:
            generation, message = self._invalid[key]
            return {
                "observedGeneration": generation,
                "conditions": conditions.set_condition(
                    conditions.set_condition(
                        previous, conditions.READY, False, Reason.INVALID_SPEC, message, generation
                    ),
                    conditions.STALLED,
                    True,
                    Reason.INVALID_SPEC,
                    message,
                    generation,
                ),
            }
        policy = self._policies.get(key)
        if policy is None:
            return None
        states = [self._state(key, t.name, t.type.value) for t in policy.targets]
        failing = [s for s in states if s.failing]
        if failing:
            ready, reason = False, Reason.DELIVERY_FAILED
            message = "; ".join(f"target {s.name}: {s.last_error}" for s in failing)
        elif any(s.last_success for s in states):
            ready, reason = True, Reason.SUCCEEDED
            message = "every target accepted its last notification"
        else:
            ready, reason = True, Reason.ACCEPTED
            message = f"{len(states)} target(s); nothing sent yet"
        if policy.suspend:
            reason, message = Reason.SUSPENDED, "notifications are suspended"
        generation = policy.generation
        updated = conditions.set_condition(
            previous, conditions.READY, ready, reason, message, generation
        )
        return {
            "observedGeneration": generation,
            "conditions": conditions.remove_condition(updated, conditions.STALLED),
            "targets": [s.to_status() for s in states],
        }

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- internals --------------------------------------------------------------------------------

    def _state(self, key: PolicyKey, target: str, target_type: str) -> TargetState:
        states = self._states.setdefault(key, {})
        if target not in states:
            entries = self._stored.get(key, {}).get("targets") or []
            stored = next((e for e in entries if e.get("name") == target), None)
            state = TargetState.from_status(stored) if stored else None
            states[target] = (
                state if state and state.type == target_type else TargetState(target, target_type)
            )
        return states[target]

    def _mark(self, key: PolicyKey) -> None:
        self._dirty.add(key)
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="notification status")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self._debounce)  # gather a burst of outcomes into one write
            await self.flush()
            if self._dirty:  # a write failed: try again, later
                await asyncio.sleep(self._debounce * 4)
                self._wake.set()
            elif not self._wake.is_set():
                return


def _says_invalid(stored: dict[str, Any]) -> bool:
    """Whether the stored status says InvalidSpec."""
    return any(
        c.get("type") == conditions.READY and c.get("reason") == Reason.INVALID_SPEC
        for c in stored.get("conditions") or []
    )
