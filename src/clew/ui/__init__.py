"""clew's web UI (``clew ui``): the Applications, their resource trees, diffs, history and
Events, live, and the actions of the ``clew`` commands, in a browser (docs/ui.md).

Server-rendered (Starlette + Jinja2) with one small script; every asset is served by clew itself.
Users sign in with a bearer token the API server accepts; TokenReview and SubjectAccessReview
decide, and reads beyond the shared Application watch use the user's own token. A presenter:
it shows what the API server and the controller hold and computes no truth of its own.
"""

from clew.ui.app import UiServer, build, create_app, serve

__all__ = ["UiServer", "build", "create_app", "serve"]
