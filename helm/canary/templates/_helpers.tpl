{{/*
Names, labels and the image: shared by every template of the chart.
*/}}

{{- define "canary.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's base name: the release name, unless it already contains the chart's name.
Truncated to 52 characters so that "-loadtester" and "-leader-election" still fit in 63.
*/}}
{{- define "canary.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "canary.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object of the release carries. */}}
{{- define "canary.labels" -}}
helm.sh/chart: {{ include "canary.chart" . }}
app.kubernetes.io/name: {{ include "canary.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: canary
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The controller's selector labels (never change them: a Deployment's selector is fixed). */}}
{{- define "canary.selectorLabels" -}}
app.kubernetes.io/name: {{ include "canary.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "canary.loadtester.fullname" -}}
{{- printf "%s-loadtester" (include "canary.fullname" .) }}
{{- end }}

{{- define "canary.loadtester.selectorLabels" -}}
app.kubernetes.io/name: {{ include "canary.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: loadtester
{{- end }}

{{- define "canary.dashboard.fullname" -}}
{{- printf "%s-dashboard" (include "canary.fullname" .) }}
{{- end }}

{{- define "canary.dashboard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "canary.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: dashboard
{{- end }}

{{/* The controller's ServiceAccount. */}}
{{- define "canary.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "canary.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Where the leader-election Lease lives. */}}
{{- define "canary.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace }}
{{- end }}

{{/*
An image reference from {repository, tag, digest}: the digest wins when set; the tag defaults
to the chart's appVersion (the controller's version).
*/}}
{{- define "canary.image" -}}
{{- $image := .image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .root.Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end }}

{{/* The load tester's image: its own when a repository is set, else the controller's. */}}
{{- define "canary.loadtester.image" -}}
{{- if .Values.loadtester.image.repository -}}
{{- include "canary.image" (dict "image" .Values.loadtester.image "root" .) -}}
{{- else -}}
{{- include "canary.image" (dict "image" .Values.image "root" .) -}}
{{- end -}}
{{- end }}

{{/*
The rules of the controller's role: exactly the resources and verbs the controller uses (see
docs/install.md, "What the controller may do"). The same rules make the ClusterRole (all
namespaces) or the Role in each watched namespace.

- canaries: read and watch; patch (finalizer for revertOnDeletion, spent manual requests in
  annotations); the status is replaced as a whole, guarded by its resourceVersion; finalizers
  so that owner references with blockOwnerDeletion are allowed where
  OwnerReferencesPermissionEnforcement is on.
- metrictemplates: read and watch (cached); alertproviders: read when an alert is sent.
- deployments and daemonsets: watched (targets and primaries); the primary is created and
  updated with server-side apply (patch, and create when it does not exist yet); targets are
  scaled (a DaemonSet parked by its node selector) with a merge patch. Never deleted: garbage
  collection removes primaries with their Canary.
- configmaps and secrets: watched (config tracking); their "-primary" copies are applied.
- services: watched (blue/green reads the Services from its cache); the apex, -primary and
  -canary Services are applied, the apex patched when a revert releases it.
- horizontalpodautoscalers: the target's is read, the primary's copy applied.
- scaledobjects (KEDA): the target's is read and paused (annotation patched) outside a run, the
  primary's copy applied. Granted whether or not KEDA is installed.
- events: created on Canaries.
- namespaces: read, so a Canary deleted with its namespace does not wait for a revert that
  cannot happen (optional: without it the controller waits for the target).
- trafficsplits: watched, applied, and deleted when a Canary with revertOnDeletion goes;
  httproutegroups (A/B matches on SMI) applied.
- httproutes (Gateway API): watched (weights are read from the cache), applied, released
  (patched) or deleted on revertOnDeletion. The controller watches them whatever the providers
  in use, so they are always granted.
- virtualservices and destinationrules (Istio): read, applied, and on revertOnDeletion the
  VirtualService restored (patched) or deleted and the DestinationRules deleted. Not watched.
- httpproxies (Contour, provider contour): read, applied, and patched (pointed at the apex
  Service) when a Canary with revertOnDeletion goes. Granted whether or not Contour is
  installed.
- routetables and upstreams (Gloo Edge, provider gloo): read and applied (the Upstream named by
  spec.upstreamRef is read). Granted whether or not Gloo is installed.
- traefikservices (Traefik, provider traefik): read, applied, and patched (pointed at the apex
  Service) when a Canary with revertOnDeletion goes.
- apisixroutes (APISIX, provider apisix): the one spec.routeRef names read, its canary copy
  applied; listed and the Canary's copies deleted when a Canary with revertOnDeletion goes.
*/}}
{{- define "canary.rules" -}}
- apiGroups: ["canary.dev"]
  resources: ["canaries"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["canary.dev"]
  resources: ["canaries/status", "canaries/finalizers"]
  verbs: ["update"]
- apiGroups: ["canary.dev"]
  resources: ["metrictemplates"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["canary.dev"]
  resources: ["alertproviders"]
  verbs: ["get"]
- apiGroups: ["apps"]
  resources: ["deployments", "daemonsets"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["configmaps", "secrets"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["keda.sh"]
  resources: ["scaledobjects"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["split.smi-spec.io"]
  resources: ["trafficsplits"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["specs.smi-spec.io"]
  resources: ["httproutegroups"]
  verbs: ["create", "patch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["networking.istio.io"]
  resources: ["virtualservices", "destinationrules"]
  verbs: ["get", "create", "patch", "delete"]
- apiGroups: ["projectcontour.io"]
  resources: ["httpproxies"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["gateway.solo.io"]
  resources: ["routetables"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["gloo.solo.io"]
  resources: ["upstreams"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["traefik.io"]
  resources: ["traefikservices"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["apisix.apache.org"]
  resources: ["apisixroutes"]
  verbs: ["get", "list", "create", "patch", "delete"]
- apiGroups: ["serving.knative.dev"]
  resources: ["services"]
  verbs: ["get", "patch"]
- apiGroups: ["serving.knative.dev"]
  resources: ["revisions"]
  verbs: ["get"]
{{- with .Values.rbac.extraRules }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The controller's rules on cluster-scoped objects: granted by a ClusterRole in either mode,
since a namespaced Role cannot grant them. */}}
{{- define "canary.clusterScopedRules" -}}
- apiGroups: ["kuma.io"]
  resources: ["trafficroutes"]
  verbs: ["get", "create", "patch", "delete"]
{{- end }}

{{/* Fail early on values that cannot work together. */}}
{{- define "canary.validate" -}}
{{- if and (not .Values.leaderElection.enabled) (gt (int .Values.replicas) 1) }}
{{- fail "replicas > 1 needs leaderElection.enabled=true: two controllers acting on the same Canaries would fight" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.metrics.service.enabled) }}
{{- fail "serviceMonitor.enabled=true needs metrics.service.enabled=true: the ServiceMonitor selects that Service" }}
{{- end }}
{{- end }}
