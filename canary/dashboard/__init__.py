"""The web dashboard (`canary dashboard`): every Canary as it happens, acted on with the person's
own rights.

Pages are server-rendered (`pages.py`, templates in `templates/`), the same paths answer JSON to
`Accept: application/json`, live updates are server-sent events fed by watches (`live.py`), and
actions write the same annotations as `canary promote|abort|...` (`actions.py`). Who the person
is and which API client acts for them is `access.py`; headers, host and CSRF checks are
`security.py`. Nothing here has rights of its own: every read and write goes to the API server
as the person (their kubeconfig, or their bearer token in a cluster), which decides.
"""
