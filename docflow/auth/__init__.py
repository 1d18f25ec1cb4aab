"""Who may do what: API tokens, users with passwords, scopes, and the audit log.

The API declares one dependency, `authorize` (docflow.auth.dependency), on every protected
route; the scope each route needs is one table (docflow.auth.scopes).
"""

from docflow.auth.scopes import Scope

__all__ = ["Scope"]
