"""`python -m canary.hooks.loadtester --port P --kubeconfig K --namespace NS`."""

from __future__ import annotations

import sys

from canary.hooks.loadtester.main import main

sys.exit(main())
