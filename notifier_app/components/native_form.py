"""A plain HTML form that the browser itself submits (a full page navigation).

`rx.el.form` always attaches a submit handler that calls preventDefault. Login, signup and
logout must instead reach the server as real navigations: only the server can set or
clear the HttpOnly session cookie, and the websocket must reconnect with the new cookie.
"""

from __future__ import annotations

from reflex_base.components.component import field
from reflex_base.vars.base import Var
from reflex_components_core.el.elements.base import BaseHTML


class NativeForm(BaseHTML):
    tag = "form"

    action: Var[str] = field(doc="URL the browser posts the form to")
    method: Var[str] = field(doc="HTTP method (post)")


native_form = NativeForm.create
