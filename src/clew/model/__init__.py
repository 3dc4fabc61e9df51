"""Value types shared by every stage: object references and, later, change sets and health."""

from clew.model.refs import ObjectRef

__all__ = ["ObjectRef"]
