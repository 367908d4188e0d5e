"""The kstatus judge: Flux's reading of a Canary by the real kstatus library, and Argo CD's by
the health script the project ships."""
