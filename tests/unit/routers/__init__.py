"""Unit tests of the traffic routers' pure builders."""
