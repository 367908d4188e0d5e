"""Unit tests of the Deployment target's pure builders and readiness."""
