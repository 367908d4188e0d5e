"""The kstatus judge: Flux's and Argo CD's reading of a Canary, computed by the real library."""
